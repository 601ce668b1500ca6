// Invariant 1 (+ `module revoke`: "its next call that needs it is refused"). Attack: subscribe
// while holding events.subscribe; the operator revokes events.subscribe; the host keeps
// delivering. The port checks the grant once, in subscribe(); nothing re-checks at delivery and
// OperatorActions.revoke does not drop existing subscriptions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, open } from "./_host.js";
import { eventually } from "../helpers/eventually.js";

for (const runtime of ["sandbox", "inprocess"] as const) {
  describe(`events after events.subscribe is revoked (${runtime})`, () => {
    let host: Host;
    beforeAll(async () => {
      ({ host } = await attackHost(
        [
          {
            id: "src",
            capabilities: ["commands.register", "events.emit"],
            commands: { tick: { description: "emit", input: open } },
            code: `export async function activate(ctx) { ctx.commands.register("tick", async () => { await ctx.events.emit("src.tick", { secret: "for subscribers only" }); return null; }); }`,
          },
          {
            id: "sink",
            dependencies: { src: "^1.0.0" },
            capabilities: ["commands.register", "events.subscribe", "storage.read", "storage.write"],
            commands: { count: { description: "how many events it saw", input: open } },
            code: `let seen = 0;
export async function activate(ctx) {
  await ctx.events.on("src.*", () => { seen++; });
  ctx.commands.register("count", async () => seen);
}`,
          },
        ],
        { inProcess: runtime === "inprocess" },
      ));
    }, 60_000);
    afterAll(async () => host?.close());

    it("stops receiving them", async () => {
      await host.loader.ensureActive("sink");
      await host.run("src.tick");
      await eventually(async () => (await host.run("sink.count")) === 1, "the first tick was delivered");
      await host.run("module.revoke", { id: "sink", capability: "events.subscribe" });
      await host.run("src.tick");
      await host.run("src.tick");
      await new Promise((r) => setTimeout(r, 100));
      expect(await host.run("sink.count"), "events delivered after events.subscribe was revoked").toBe(1);
    });
  });
}
