// One clock for the fleet: token expiry (and the times tokens record) is judged by the fleet's
// Redis clock, not by each host's own. A host whose clock is an hour behind would otherwise accept
// tokens that expired an hour ago on every other host.
//
// The offset to Redis's TIME is measured at start and every RESYNC_MS, keeping the reading with
// the shortest round trip; the tolerance is that round trip (on loopback or a LAN, well under a
// second) plus the drift of the host's clock within RESYNC_MS. Until the first reading, and if Redis
// cannot be read, the last known offset stands (0 at first: the host's own clock).
import type { Redis } from "ioredis";

const RESYNC_MS = 10_000;

export class FleetClock {
  #offset = 0;
  #timer: NodeJS.Timeout;

  constructor(private readonly redis: Redis) {
    this.#timer = setInterval(() => void this.sync().catch(() => {}), RESYNC_MS);
    this.#timer.unref();
  }

  /** Milliseconds since the epoch by the fleet's clock. */
  now = (): number => Date.now() + this.#offset;

  /** Reads Redis's TIME (three readings, the one with the shortest round trip counts). */
  async sync(): Promise<void> {
    if (this.redis.status !== "ready") {
      // A new connection takes a moment; commands are not queued while it is not ready.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis is not ready (${this.redis.status})`)), 2000);
        this.redis.once("ready", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const sent = Date.now();
      const [s, us] = (await this.redis.time()) as [string | number, string | number];
      const received = Date.now();
      const remote = Number(s) * 1000 + Math.floor(Number(us) / 1000);
      const rtt = received - sent;
      const offset = remote - (sent + rtt / 2);
      if (!best || rtt < best.rtt) best = { rtt, offset };
    }
    if (best) this.#offset = Math.round(best.offset);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
