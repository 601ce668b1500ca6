// The privilege-escalation suite: a sandboxed module holding every non-elevated capability, with
// wildcard scopes, tries every host and system command, other modules' config, events, storage and
// secrets, the elevated context methods, and forging audit actors and security-log lines. Every
// attempt must be refused with a stable code and audited (within the denial cap), and nothing it
// tried may have happened.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { approval } from "./helpers/approval.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

const FIXTURES = join(__dirname, "fixtures/privilege");
let host: Host;
let home: string;

beforeAll(async () => {
  home = tempDir("warden-priv-");
  host = await testHost({ realLog: true, home, modulePaths: [FIXTURES] });
  await host.activateAll(["system"]);
}, 60_000);
afterAll(async () => {
  await host?.close();
});

const denials = async () =>
  ((await host.kernel.audit.tail(1000)) as Array<{ actor: string; action: string; target: string }>).filter((e) => e.actor === "module:attacker" && e.action === "capability.denied");

describe("a module with every non-elevated capability and wildcard scopes", () => {
  it("activates without approval (nothing it declares reaches beyond its own names)", async () => {
    await host.loader.ensureActive("attacker");
    expect(host.loader.entry("attacker")!.state).toBe("active");
  });

  it("reaches none of the host's or system modules' commands, nor a module it does not depend on, through commands.invoke", async () => {
    const targets = host.kernel.bus
      .list()
      .filter((c) => c.kind !== "user" || c.module === "victim")
      .map((c) => c.command);
    expect(targets).toEqual(expect.arrayContaining(["auth.grant", "module.approve", "security.disable", "audit.tail", "config.set", "secrets.set", "victim.store"]));
    const out = (await host.run("attacker.invoke", { commands: [...targets, "helper.echo"] })) as Record<string, string>;
    for (const t of targets) expect(out[t], t).toBe("capability_denied");
    expect(out["helper.echo"]).toBe("ok"); // its dependency is its own reach
    expect(await host.run("auth.list")).not.toEqual(expect.arrayContaining([expect.objectContaining({ name: "pwn" })]));
  });

  it("reads only its own settings, emits only its own events, subscribes only to its own and its dependency's", async () => {
    const cfg = (await host.run("attacker.config", { keys: ["victim.api_key", "api.port", "auth.anything", "security.rate_limit", "sandbox.poolSize", "attacker.nothing"] })) as Record<
      string,
      unknown
    >;
    for (const k of ["victim.api_key", "api.port", "auth.anything", "security.rate_limit", "sandbox.poolSize"]) expect(cfg[k], k).toBe("capability_denied");
    // Its own owner is within reach; a key its schema does not declare is refused as such (never `undefined`).
    expect(cfg["attacker.nothing"]).toBe("config_invalid");
    const seen: string[] = [];
    host.kernel.events.subscribe("*", (_p, e) => void seen.push(e));
    const emitted = (await host.run("attacker.emit", { events: ["victim.paid", "module.activated", "config.changed", "helper.done", "attacker.fine"] })) as Record<string, string>;
    for (const e of ["victim.paid", "module.activated", "config.changed", "helper.done"]) expect(emitted[e], e).toBe("capability_denied");
    expect(emitted["attacker.fine"]).toBe("ok");
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(["attacker.fine"]);
    const subs = (await host.run("attacker.subscribe", { patterns: ["*", "config.*", "module.*", "victim.*", "security.*", "helper.*", "attacker.*"] })) as Record<string, string>;
    for (const p of ["*", "config.*", "module.*", "victim.*", "security.*"]) expect(subs[p], p).toBe("capability_denied");
    expect(subs["helper.*"]).toBe("ok");
    expect(subs["attacker.*"]).toBe("ok");
  });

  it("is refused every elevated context method and provider namespace, and none of them took effect", async () => {
    const out = (await host.run("attacker.elevated")) as Record<string, string>;
    for (const [method, code] of Object.entries(out)) expect(code, method).toBe("capability_denied");
    expect(Object.keys(out)).toHaveLength(9);
    expect(host.kernel.config.read("security.enabled")).toBe(true);
    expect(((await host.run("security.status")) as { lockdown: { active: boolean } }).lockdown.active).toBe(false);
  });

  it("never sees another module's storage or secrets", async () => {
    await host.run("victim.store");
    await host.run("secrets.set", { module: "victim", name: "token", value: "victim-secret-value" });
    const out = (await host.run("attacker.storage", { keys: ["private", "victim:private", "../victim/private", "victim/private"] })) as Record<string, unknown>;
    for (const v of Object.values(out)) expect(v).toBe("ok"); // each key is its own, and empty
    expect(await host.run("attacker.secret", { name: "token" })).toBeNull();
    expect(await host.run("victim.secret", { name: "token" })).toBe("victim-secret-value");
  });

  it("cannot write the security log, whatever it puts in its log data or message", async () => {
    await host.run("attacker.forge");
    const security = readFileSync(join(home, "logs", "security.log"), "utf8");
    expect(security).not.toContain("forged");
    expect(security).not.toContain("another");
    const hostLog = readFileSync(join(home, "logs", "host.log"), "utf8");
    expect(hostLog).toContain("forged"); // it went to the host log, under the module's data
    // The refusals above are in the security log, written by the host.
    expect(security).toContain('"action":"capability.denied"');
  });

  it("had every refusal counted and audited with itself as actor, up to the per-minute cap", async () => {
    const stats = (await host.run("module.stats", { id: "attacker" })) as { capability_denials: number };
    expect(stats.capability_denials).toBeGreaterThan(30);
    const audited = await denials();
    expect(audited).toHaveLength(30);
  });
});

describe("attribution", () => {
  it("an approved audit.write still cannot choose its actor: data.actor and a forged CallInfo are ignored", async () => {
    await host.run("module.approve", await approval(host, "approved-writer"));
    await host.run("approved-writer.record");
    const events = ((await host.kernel.audit.tail(50)) as Array<{ actor: string; action: string; data: Record<string, unknown> }>).filter((e) => e.action.startsWith("forged."));
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["forged.one", "module:approved-writer"],
      ["forged.two", "module:approved-writer"],
      ["forged.three", "module:approved-writer"],
    ]);
  });

  it('a user module that depends on a system module still reaches none of its commands with "*"', async () => {
    const { writeModule } = await import("./helpers/modules.js");
    const root = tempDir();
    writeModule(root, {
      id: "leech",
      dependencies: { auth: "^0.1.0" },
      capabilities: ["commands.register", { name: "commands.invoke", commands: ["*"] }],
      commands: { go: { description: "go", input: { type: "object" } } },
      code: `export function activate(ctx) { ctx.commands.register("go", async () => { try { await ctx.commands.invoke("auth.grant", { name: "x", scopes: ["*"] }); return "ok"; } catch (e) { return e.code; } }); }`,
    });
    const h = await testHost({ realLog: true, home: tempDir(), modulePaths: [root] });
    try {
      expect(await h.run("leech.go")).toBe("capability_denied");
    } finally {
      await h.close();
    }
  });

  it("naming another owner's commands, keys or events explicitly needs an operator's approval", async () => {
    const { writeModule } = await import("./helpers/modules.js");
    const root = tempDir();
    const cases = {
      "wants-auth": { name: "commands.invoke", commands: ["auth.*"] },
      "wants-keys": { name: "config.read", keys: ["api.port"] },
      "wants-events": { name: "events.emit", events: ["victim.*"] },
      "wants-host-events": { name: "events.subscribe", events: ["config.*"] },
      "wants-any-host": { name: "net.fetch", hosts: ["*"] },
    };
    for (const [id, cap] of Object.entries(cases)) writeModule(root, { id, capabilities: ["commands.register", cap] });
    const h = await testHost({ realLog: true, home: tempDir(), modulePaths: [root], userRuntime: "inprocess" });
    try {
      for (const id of Object.keys(cases)) {
        const m = h.loader.list().find((x) => x.id === id)!;
        expect(m.state, id).toBe("pending_approval");
        expect(m.error!.code).toBe("approval_required");
      }
    } finally {
      await h.close();
    }
  });
});
