// Attack: a module subscribes (or watches its settings) in a loop. Each listener is a closure the
// host holds, and a sandboxed module's unsubscribe frees nothing host-side until it is deactivated:
// without a budget the host holds as many as the module asks for. With one, the 257th is refused
// with quota_exceeded (counted in the module's ledger), and the host still serves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { MAX_SUBSCRIPTIONS_PER_MODULE } from "../../core/hostapi/subscriptions.js";
import { attackHost, open } from "./_host.js";

const spec = {
  id: "hoarder",
  capabilities: ["commands.register", "events.subscribe", "config.read"],
  commands: { hoard: { description: "subscribe until refused", input: open }, ping: { description: "still here", input: open } },
  code: `export async function activate(ctx) {
  ctx.commands.register("ping", async () => "pong");
  ctx.commands.register("hoard", async ({ watch }) => {
    for (let i = 0; i < 1000; i++) {
      try {
        const stop = watch && i % 2 ? await ctx.config.watch(() => {}) : await ctx.events.on("hoarder.tick", () => {});
        stop(); // frees the handler in the isolate; the host's listener stays until deactivation
      } catch (e) { return { refusedAt: i, code: e.code }; }
    }
    return { refusedAt: null };
  });
}`,
};

describe("listeners a module makes the host hold", () => {
  let host: Host;
  beforeAll(async () => {
    ({ host } = await attackHost([spec]));
    await host.loader.ensureActive("hoarder");
  }, 60_000);
  afterAll(async () => host?.close());

  it("events.on and config.watch together are refused past the budget with quota_exceeded, counted; the host still serves", async () => {
    expect(await host.run("hoarder.hoard", { watch: true })).toEqual({ refusedAt: MAX_SUBSCRIPTIONS_PER_MODULE, code: "quota_exceeded" });
    const stats = (await host.run("module.stats", {})) as Array<{ id: string; limits: Record<string, number> }>;
    expect(stats.find((s) => s.id === "hoarder")?.limits["events.subscriptions"]).toBeGreaterThan(0);
    expect(await host.run("hoarder.ping")).toBe("pong");
  });
});
