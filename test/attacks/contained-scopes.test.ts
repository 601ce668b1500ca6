// Attacks that were contained (these pass): pattern and dependency tricks against the one policy
// point, config keys, events, cache tags, secrets and storage, from a sandboxed module with every
// non-elevated capability and own-looking explicit patterns, depending on a system module and a
// user module.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, auditTail, open, tryAll } from "./_host.js";

let host: Host;
beforeAll(async () => {
  ({ host } = await attackHost([
    {
      id: "helper",
      capabilities: ["commands.register"],
      commands: { echo: { description: "echo", input: open } },
      code: `export async function activate(ctx) { ctx.commands.register("echo", async (i) => i); }`,
    },
    {
      id: "probe",
      dependencies: { auth: "*", security: "*", cache: "*", helper: "^1.0.0" },
      capabilities: [
        "commands.register",
        { name: "commands.invoke", commands: ["*", "probe.*", "helper.*"] },
        { name: "config.read", keys: ["*", "probe.*"] },
        { name: "events.subscribe", events: ["*", "probe.*", "helper.*"] },
        { name: "events.emit", events: ["*", "probe.*"] },
        "cache.use",
        "secrets.read",
        "storage.read",
        "storage.write",
        "log.write",
      ],
      commands: { run: { description: "run the attempts", input: open } },
      code: `${tryAll}
export async function activate(ctx) {
  ctx.commands.register("run", async () => {
    const out = {};
    for (const c of ["auth.list", "auth.grant", "security.status", "security.lockdown", "cache.status", "cache.purge", "module.list", "module.stats", "module.approve", "config.set", "config.list", "audit.tail", "secrets.list", "helper.echo"])
      out["invoke " + c] = await attempt(() => ctx.commands.invoke(c, {}));
    for (const k of ["auth", "security.enabled", "security", "probe", "constructor", "__proto__", "probe.__proto__", "sandbox.poolSize", "host.modulePaths", "storage.maxBytesPerModule", "api.port", "helper.x", "probe..x", "Probe.x"])
      out["config " + k] = await attempt(() => ctx.config.get(k));
    for (const p of ["*", "probe", "probe*", "auth.*", "security.*", "config.*", "module.*", "Probe.*", "probe.*", "helper.*", "helper", "auth", "*.*"])
      out["on " + p] = await attempt(async () => { await ctx.events.on(p, () => {}); return "subscribed"; });
    for (const e of ["probe", "probe.x", "helper.x", "module.activated", "config.changed", "Probe.x", "probe\\u0000.x"])
      out["emit " + e] = await attempt(() => ctx.events.emit(e, {}));
    out["cache persistent tag"] = await attempt(async () => { await ctx.cache.set("k", 1, { tags: ["security", "security:blocks"] }); return ctx.cache.invalidateTag("security"); });
    for (const n of ["../auth/x", "auth/x", "x\\u0000y", "__proto__", "constructor"]) out["secret " + n] = await attempt(() => ctx.secrets.get(n));
    out["storage auth key"] = await attempt(() => ctx.storage.get("t:"));
    out["storage list"] = await attempt(() => ctx.storage.list(""));
    return out;
  });
}`,
    },
  ]));
  await host.loader.ensureActive("probe");
}, 60_000);
afterAll(async () => host?.close());

describe("a sandboxed module with own-looking patterns and system dependencies", () => {
  it("activated without approval", () => expect(host.loader.entry("probe")!.state).toBe("active"));

  it("reaches only its own and its user dependency's names", async () => {
    // The security module keeps entries tagged security:* in the cache; note them first.
    const before = ((await host.run("cache.status")) as { persistent: number }).persistent;
    const out = (await host.run("probe.run")) as Record<string, { ok: boolean; code?: string; v?: unknown }>;
    const allowed = new Set([
      "invoke helper.echo",
      "config probe",
      "config auth",
      "config security",
      "secret constructor",
      "config probe.__proto__",
      "config constructor",
      "config __proto__",
      "config probe..x",
      "on probe.*",
      "on helper.*",
      "emit probe.x",
      "cache persistent tag",
      "storage auth key",
      "storage list",
    ]);
    const leaks = Object.entries(out)
      .filter(([k, r]) => r.ok && !allowed.has(k))
      .map(([k]) => k);
    expect(leaks).toEqual([]);
    // own-key reads return nothing of anyone else
    expect(out["config auth"]!.v ?? null).toBeNull(); // read as probe.auth
    expect(out["config security"]!.v ?? null).toBeNull();
    expect(out["secret constructor"]!.v ?? null).toBeNull();
    for (const k of ["config probe", "config probe.__proto__", "config constructor", "config __proto__", "config probe..x"]) {
      expect(JSON.stringify(out[k]!.v ?? null)).not.toMatch(/auth|security|sandbox|maxBytes/);
    }
    expect(out["storage auth key"]!.v).toBeNull();
    expect(out["storage list"]!.v).toEqual([]);
    // (The cache has no persistent side any more: a security:* tag is an ordinary tag.)
    void before;
    // refusals are capability_denied (scopes) or input_invalid (names), audited as the module
    expect(out["invoke auth.list"]!.code).toBe("capability_denied");
    expect((await auditTail(host)).some((e) => e.actor === "module:probe" && e.action === "capability.denied")).toBe(true);
  });
});
