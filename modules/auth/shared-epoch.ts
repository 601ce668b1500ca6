// The fleet's revocation epoch: one Redis key, a fresh random value on every revoke, rotate and
// reset (never a counter that could come back to an old value after the key expires). The
// security module's `admit` script returns it with every request's decision; a host whose cached
// verification was made in another epoch reads the token's record again before trusting it.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { closeRedis, EPOCH_TTL_S, REVOCATION_EPOCH_KEY as EPOCH_KEY } from "../../sdk/system/fleet.js";

export class SharedEpoch {
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly onRetry: (e: unknown) => void,
  ) {}

  /**
   * Moves the epoch. The revoke is already durable in the store; if Redis cannot be told now, the
   * move is retried until it can (every request is refused meanwhile anyway: admit needs Redis too).
   */
  async bump(): Promise<void> {
    try {
      await this.redis.set(EPOCH_KEY, randomUUID(), "EX", EPOCH_TTL_S);
    } catch (e) {
      this.onRetry(e);
      this.#retry ??= setInterval(() => {
        this.redis.set(EPOCH_KEY, randomUUID(), "EX", EPOCH_TTL_S).then(
          () => {
            clearInterval(this.#retry);
            this.#retry = undefined;
          },
          () => {},
        );
      }, 500);
      this.#retry.unref();
    }
  }

  async close(): Promise<void> {
    if (this.#retry) clearInterval(this.#retry);
    await closeRedis(this.redis);
  }
}
