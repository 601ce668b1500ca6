// A careless operator stops PostgreSQL and Redis before the hosts: each host still stops on
// SIGTERM, on its own (no reconnecting client keeps it alive).
import { describe, expect, it } from "vitest";
import { startFleet } from "../helpers/fleet.js";

const fleet = await startFleet(1);

describe.skipIf(!fleet)("a fleet host whose backends are gone", () => {
  it("still exits on SIGTERM", async () => {
    const h = fleet!.hosts[0]!;
    await fleet!.redis.stop();
    await fleet!.pg.stop();
    // Bounded by attempts of the test's own clock only as a failure report: a host that hangs never exits.
    const code = await Promise.race([h.serving.stop(), new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000))]);
    expect(code, h.serving.output().slice(-1500)).toBe(0);
  }, 40_000);
});
