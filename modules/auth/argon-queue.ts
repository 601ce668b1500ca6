// Where argon2 runs: at most `concurrency` at once (each takes ~19 MiB and tens of ms of CPU), a
// bounded number waiting, and a fair share per client address: each client has at most
// `perClient` verifications queued or running, and waiting clients are served round-robin, so one
// address (or a hundred) sending well-formed unknown tokens cannot push a real client's first
// call to the back of a long line. Over budget, a verification is refused at once (429).
import { WardenError } from "../../sdk/errors.js";

interface Waiter {
  start: () => void;
}

export class FairArgonQueue {
  #running = 0;
  #waiting = 0;
  readonly #queues = new Map<string, Waiter[]>();
  /** Clients with waiters, in the order they will be served. */
  readonly #order: string[] = [];
  readonly #perClient = new Map<string, number>();

  constructor(readonly o: { concurrency: number; maxWaiting: number; perClient: number }) {}

  async run<T>(client: string, fn: () => Promise<T>): Promise<T> {
    const mine = this.#perClient.get(client) ?? 0;
    if (mine >= this.o.perClient) throw new WardenError("rate_limited", `this client already has ${mine} token verifications under way; retry in a second`, { retryAfter: 1 });
    if (this.#running >= this.o.concurrency && this.#waiting >= this.o.maxWaiting) throw new WardenError("rate_limited", "token verification is saturated; retry in a second", { retryAfter: 1 });
    this.#perClient.set(client, mine + 1);
    try {
      if (this.#running < this.o.concurrency) this.#running++;
      else await this.#enqueue(client);
      try {
        return await fn();
      } finally {
        this.#next();
      }
    } finally {
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    }
  }

  #enqueue(client: string): Promise<void> {
    this.#waiting++;
    return new Promise<void>((start) => {
      let q = this.#queues.get(client);
      if (!q) {
        this.#queues.set(client, (q = []));
        this.#order.push(client);
      }
      q.push({ start });
    });
  }

  /** A slot is free: the next client in turn gets it (its running count is already held). */
  #next(): void {
    const client = this.#order.shift();
    if (client === undefined) {
      this.#running--;
      return;
    }
    const q = this.#queues.get(client)!;
    const w = q.shift()!;
    if (q.length > 0) this.#order.push(client);
    else this.#queues.delete(client);
    this.#waiting--;
    w.start();
  }
}
