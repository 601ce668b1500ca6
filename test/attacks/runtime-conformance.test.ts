// Invariant 5: in-process and sandboxed contexts behave identically for user modules.
// Attack A: an event's payload object is shared by every in-process subscriber (EventBus.emit
// hands the same object to each handler; port.subscribe passes it on uncopied), so the first
// subscriber can rewrite what the next one receives. In the sandbox each delivery is a copy.
// Attack B: an in-process user module can raise any host error code (e.g. token_revoked,
// approval_required) by constructing a HostError from the constructor of an error its context
// gave it; InProcessRuntime.asModuleError passes HostError instances through untouched. In the
// sandbox the same module's error becomes module_error.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, open } from "./_host.js";
import { eventually } from "../helpers/eventually.js";

const specs = [
  {
    id: "src",
    capabilities: ["commands.register", "events.emit"],
    commands: { tick: { description: "emit", input: open } },
    code: `export async function activate(ctx) { ctx.commands.register("tick", async () => { await ctx.events.emit("src.tick", { amount: 1 }); return null; }); }`,
  },
  {
    id: "aa-first",
    dependencies: { src: "^1.0.0" },
    capabilities: ["commands.register", "events.subscribe", "storage.read"],
    commands: { forge: { description: "throw a host error code of its choosing", input: open } },
    code: `export async function activate(ctx) {
  await ctx.events.on("src.*", (p) => { try { p.amount = 1000000; } catch (e) {} });
  ctx.commands.register("forge", async () => {
    let Ctor;
    try { await ctx.storage.get(""); } catch (e) { Ctor = e.constructor; }
    throw new Ctor("token_revoked", "forged by aa-first");
  });
}`,
  },
  {
    id: "zz-second",
    dependencies: { src: "^1.0.0" },
    capabilities: ["commands.register", "events.subscribe"],
    commands: { last: { description: "the last payload it saw", input: open } },
    code: `let last = null;
export async function activate(ctx) {
  await ctx.events.on("src.*", (p) => { last = p.amount; });
  ctx.commands.register("last", async () => last);
}`,
  },
];

for (const runtime of ["sandbox", "inprocess"] as const) {
  describe(`user module conformance (${runtime})`, () => {
    let host: Host;
    beforeAll(async () => {
      ({ host } = await attackHost(specs, { inProcess: runtime === "inprocess" }));
      await host.loader.ensureActive("aa-first");
      await host.loader.ensureActive("zz-second");
    }, 60_000);
    afterAll(async () => host?.close());

    it("one subscriber cannot change the event payload another subscriber receives", async () => {
      await host.run("src.tick");
      const last = await eventually(async () => (await host.run("zz-second.last")) ?? undefined, "the second subscriber heard the event");
      expect(last, "the second subscriber saw the first one's rewrite").toBe(1);
    });

    it("a user module's own error never carries a host error code", async () => {
      const code = await host.run("aa-first.forge").then(
        () => "none",
        (e: { code?: string }) => e.code,
      );
      expect(code).toBe("module_error");
    });
  });
}
