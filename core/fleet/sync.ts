// How a fleet host keeps up with changes other hosts make to the shared store (config, module
// records, installed files): a notification (LISTEN) for speed, and the store's change counter
// polled every `pollMs` so a notification lost with a dropped connection cannot leave it stale.
// Refreshes run one at a time; a change that arrives during one runs another right after.
import type { LogSink } from "../kernel.js";
import { scrubString } from "../log/redact.js";
import type { ChangeFeed } from "../store/store.js";

export interface FleetSyncOptions {
  pollMs: number;
  /** Reads what changed and applies it (config, module records, files). */
  refresh(): Promise<void>;
  log: LogSink;
}

export class FleetSync {
  readonly #feed: ChangeFeed;
  readonly #o: FleetSyncOptions;
  #seen = -1;
  #timer: NodeJS.Timeout | undefined;
  #listener: { close(): Promise<void> } | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #failing = false;

  constructor(feed: ChangeFeed, o: FleetSyncOptions) {
    this.#feed = feed;
    this.#o = o;
  }

  async start(): Promise<void> {
    this.#seen = await this.#feed.counter();
    await this.#listen();
    this.#timer = setInterval(() => void this.#poll(), this.#o.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    // A listen started by a poll may still be connecting: it is closed as soon as it is made (an
    // open LISTEN connection would keep a stopping host alive).
    await this.#listening;
    await this.#listener?.close();
    this.#listener = undefined;
    await this.#running;
  }

  #listening: Promise<void> | undefined;

  #listen(): Promise<void> {
    this.#listening ??= this.#connect().finally(() => {
      this.#listening = undefined;
    });
    return this.#listening;
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    try {
      const listener = await this.#feed.listen(
        () => this.#trigger(),
        (e) => {
          this.#listener = undefined;
          this.#o.log.warn({ err: scrubString(String((e as Error)?.message ?? e)) }, "fleet: lost the change notifications; polling the change counter until they are back");
        },
      );
      if (this.#stopped) await listener.close();
      else this.#listener = listener;
    } catch (e) {
      this.#o.log.warn({ err: scrubString(String((e as Error)?.message ?? e)) }, "fleet: cannot listen for change notifications; polling the change counter");
    }
  }

  async #poll(): Promise<void> {
    if (this.#stopped) return;
    if (!this.#listener) await this.#listen();
    let counter: number;
    try {
      counter = await this.#feed.counter();
      if (this.#failing) this.#o.log.info({}, "fleet: the store answers again");
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) this.#o.log.error({ err: scrubString(String((e as Error)?.message ?? e)) }, "fleet: cannot read the store's change counter; this host may serve stale settings until it can");
      this.#failing = true;
      return;
    }
    if (counter !== this.#seen) this.#trigger(counter);
  }

  #trigger(counter?: number): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          // Read before refreshing: a change committed during the refresh bumps it again.
          const at = counter ?? (await this.#feed.counter());
          counter = undefined;
          await this.#o.refresh();
          this.#seen = at;
        } catch (e) {
          this.#o.log.error({ err: scrubString(String((e as Error)?.message ?? e)) }, "fleet: applying changes from the store failed; retrying on the next poll");
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }
}
