// A stopping host closes its change notifications even when a poll was still opening them: an open
// LISTEN connection made after stop() kept `warden serve` alive after SIGTERM (seen after a
// PostgreSQL restart, when reconnecting is slow).
import { describe, expect, it } from "vitest";
import { FleetSync } from "../../core/fleet/sync.js";
import { silentLogger } from "../../core/log/index.js";
import type { ChangeFeed } from "../../core/store/store.js";

describe("fleet sync", () => {
  it("closes a notification connection that was still being made when it stopped", async () => {
    let open = 0;
    let listens = 0;
    let onLost: ((e: unknown) => void) | undefined;
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const feed = {
      counter: async () => 1,
      listen: async (_onChange: () => void, lost: (e: unknown) => void) => {
        listens++;
        onLost = lost;
        if (listens > 1) await slow; // reconnecting after the loss is slow
        open++;
        return { close: async () => void open-- };
      },
    } as unknown as ChangeFeed;
    const sync = new FleetSync(feed, { pollMs: 5, refresh: async () => {}, log: silentLogger() });
    await sync.start();
    expect(open).toBe(1);
    open--; // the connection is lost (the store closed it)
    onLost!(new Error("terminating connection due to administrator command"));
    await expect.poll(() => listens, { timeout: 10_000, interval: 5 }).toBe(2); // a poll reconnects
    const stopping = sync.stop();
    release(); // the reconnect completes after stop() began
    await stopping;
    expect(open).toBe(0);
  });
});
