// Only the guilty pay: a module's capability calls run on the host at most RUNNING_PER_MODULE at a
// time (the rest wait their turn, in order), so a module flooding the store or the cache delays a
// neighbour's call by a few of its own, not by all it sent. Calls that run other commands
// (commands.invoke, commands.dispatch) or wait on the network are not held back: a chain waiting on
// itself must not wait for its own turn.

/** Capability calls one module may have waiting on the host (its prelude refuses more with rate_limited). */
export const MAX_PENDING_PER_MODULE = 256;
const RUNNING_PER_MODULE = 4;
const UNQUEUED = new Set(["commands.invoke", "commands.dispatch", "net.fetch"]);

export class FairTurns {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /**
   * Runs `run` now or in its turn. False, and nothing runs, when MAX_PENDING_PER_MODULE calls
   * already wait: the host holds no more of them, whatever the sandbox sends.
   */
  take(method: string, run: () => Promise<void>): boolean {
    if (UNQUEUED.has(method)) {
      void run();
      return true;
    }
    if (this.#waiting.length >= MAX_PENDING_PER_MODULE) return false;
    const turn = () => {
      this.#running++;
      void run().finally(() => {
        this.#running--;
        this.#waiting.shift()?.();
      });
    };
    if (this.#running < RUNNING_PER_MODULE) turn();
    else this.#waiting.push(turn);
    return true;
  }
}
