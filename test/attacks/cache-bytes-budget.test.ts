// Threat model: "every byte a module can make the host hold has a budget". Attack: cache.use is
// not elevated, and the cache provider (modules/cache) bounds the LRU by entry count only
// (max_entries, default 100000) while each value may be up to the bridge's 16 MiB: one module
// can make the host process hold gigabytes. Here: 24 values of 4 MiB (96 MiB) from one module;
// a byte budget of any sensible size (storage allows 10 MiB per module by default) refuses most.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, open, tryAll } from "./_host.js";

let host: Host;
beforeAll(async () => {
  ({ host } = await attackHost([
    {
      id: "hog",
      capabilities: ["commands.register", "cache.use"],
      commands: { fill: { description: "fill the cache", input: open } },
      code: `${tryAll}
export async function activate(ctx) {
  const big = "x".repeat(4 * 1024 * 1024);
  ctx.commands.register("fill", async ({ i }) => attempt(() => ctx.cache.set("k" + i + big.slice(0, 0), big + i, { ttlMs: 600000 })));
}`,
    },
  ]));
}, 60_000);
afterAll(async () => host?.close());

describe("cache.use byte budget", () => {
  it("refuses before one module makes the host hold 96 MiB", async () => {
    let stored = 0;
    for (let i = 0; i < 24; i++) {
      const r = (await host.run("hog.fill", { i })) as { ok: boolean };
      if (!r.ok) break;
      stored++;
    }
    const r = { stored };
    expect(r.stored * 4, `the host accepted ${r.stored * 4} MiB of cache from one non-elevated module`).toBeLessThanOrEqual(64);
  }, 120_000);
});
