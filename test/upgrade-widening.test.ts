// Upgrades compare typed scopes, not capability names: widening a scoped capability (more hosts,
// keys, events or commands, a broader pattern) counts as adding one. Refused in a patch release,
// staged for approval in a minor, and never covered by an earlier approval; an approval names the
// manifest it approves, so a stale one is refused.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Host } from "../core/host.js";
import { approval } from "./helpers/approval.js";
import { testHost } from "./helpers/host.js";
import { tempDir, writeModule } from "./helpers/modules.js";

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

const code = `export function activate(ctx) { ctx.commands.register("version", async () => ctx.module.version); }`;
const commands = { version: { description: "v", input: { type: "object", additionalProperties: true } } };

function source(version: string, capability: unknown) {
  const dir = tempDir("warden-src-");
  writeModule(dir, { id: "grower", version, capabilities: ["commands.register", capability], commands, code, dependencies: { helper: "^1.0.0" } });
  return join(dir, "grower");
}

async function open() {
  const root = tempDir();
  writeModule(root, { id: "helper", capabilities: ["commands.register"] });
  const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
  hosts.push(h);
  return h;
}

const WIDENINGS: Array<[string, unknown, unknown]> = [
  ["net.fetch: another host", { name: "net.fetch", hosts: ["api.example.com"] }, { name: "net.fetch", hosts: ["api.example.com", "169.254.169.254"] }],
  ["net.fetch: a wildcard over the host", { name: "net.fetch", hosts: ["api.example.com"] }, { name: "net.fetch", hosts: ["*.com"] }],
  ["config.read: another owner's key", "config.read", { name: "config.read", keys: ["api.port"] }],
  ["events.emit: another module's events", "events.emit", { name: "events.emit", events: ["billing.*"] }],
  ["events.subscribe: from one event to everything own", { name: "events.subscribe", events: ["helper.done"] }, "events.subscribe"],
  ["commands.invoke: a broader pattern", { name: "commands.invoke", commands: ["helper.echo"] }, { name: "commands.invoke", commands: ["helper.*"] }],
  ['commands.invoke: to "*"', { name: "commands.invoke", commands: ["helper.echo"] }, { name: "commands.invoke", commands: ["*"] }],
];

describe("an upgrade that widens a scoped capability", () => {
  for (const [what, before, after] of WIDENINGS) {
    it(`${what}: refused as a patch, staged as a minor`, async () => {
      const h = await open();
      await h.run("module.install", { source: source("1.0.0", before), approve: true });
      await expect(h.run("grower.version")).resolves.toBe("1.0.0");

      const patch: any = await h.run("module.install", { source: source("1.0.1", after) }).catch((e: any) => e);
      expect(patch.code).toBe("manifest_invalid");
      expect(patch.message).toMatch(/patch release/);

      const minor: any = await h.run("module.install", { source: source("1.1.0", after) });
      expect(minor.action).toBe("staged");
      expect(minor.added.length).toBeGreaterThan(0);
      // The approved 1.0.0 keeps serving; its approval does not cover 1.1.0.
      await expect(h.run("grower.version")).resolves.toBe("1.0.0");
      const inspected: any = await h.run("module.inspect", { id: "grower" });
      expect(inspected.version).toBe("1.0.0");
      expect(inspected.staged_upgrade.version).toBe("1.1.0");
    });
  }

  it("an unchanged or narrowed scope is no widening: it installs as a patch", async () => {
    const h = await open();
    await h.run("module.install", { source: source("1.0.0", { name: "net.fetch", hosts: ["a.example.com", "b.example.com"] }) });
    const r: any = await h.run("module.install", { source: source("1.0.1", { name: "net.fetch", hosts: ["a.example.com"] }) });
    expect(r).toMatchObject({ action: "upgraded", added: [] });
    const same: any = await h.run("module.install", { source: source("1.0.2", { name: "config.read", keys: ["*"] }) }).catch((e: any) => e);
    // config.read is a new capability here (it had net.fetch): refused in a patch like any addition.
    expect(same.code).toBe("manifest_invalid");
  });

  it("an approval names the manifest: a stale hash is refused, the shown one switches", async () => {
    const h = await open();
    await h.run("module.install", { source: source("1.0.0", { name: "commands.invoke", commands: ["helper.echo"] }) });
    const shown = await approval(h, "grower"); // what the operator inspected: 1.0.0
    await h.run("module.install", { source: source("1.1.0", { name: "commands.invoke", commands: ["helper.*", "audit.*"] }) });
    const stale: any = await h.run("module.approve", shown).catch((e: any) => e);
    expect(stale.code).toBe("approval_stale");
    await expect(h.run("grower.version")).resolves.toBe("1.0.0");
    await h.run("module.approve", await approval(h, "grower"));
    await expect(h.run("grower.version")).resolves.toBe("1.1.0");
    const approved = ((await h.kernel.audit.tail(5)) as Array<{ action: string; data: { version?: string } }>).find((e) => e.action === "module.approve");
    expect(approved?.data.version).toBe("1.1.0");
  });
});
