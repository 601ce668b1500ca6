import { approval } from "./helpers/approval.js";
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Host } from "../core/host.js";
import { testHost } from "./helpers/host.js";
import { tempDir, writeModule } from "./helpers/modules.js";

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

const anyInput = { type: "object", additionalProperties: true };
const code = `export function activate(ctx) {
  ctx.commands.register("version", async () => ctx.module.version);
  ctx.commands.register("put", async ({ v }) => { await ctx.storage.set("k", v); return "ok"; });
  ctx.commands.register("get", async () => (await ctx.storage.get("k")) ?? null);
}`;
const commands = { version: { description: "v", input: anyInput }, put: { description: "p", input: anyInput }, get: { description: "g", input: anyInput } };

function source(version: string, capabilities: string[], dir = tempDir("warden-src-")) {
  writeModule(dir, { id: "vault", version, capabilities, commands, code });
  return join(dir, "vault");
}

async function open(home = tempDir("warden-home-")) {
  const h = await testHost({ kernelOnly: true, inProcess: true, home, modulePaths: [] });
  hosts.push(h);
  return h;
}

const state = (h: Host, id: string) => h.loader.list().find((m) => m.id === id)?.state;

describe("module lifecycle", () => {
  it("install -> pending_approval -> approve -> active, every step audited", async () => {
    const h = await open();
    const report: any = await h.run("module.install", { source: source("1.0.0", ["commands.register", "storage.read", "audit.read"]) });
    expect(report).toMatchObject({ id: "vault", action: "installed", state: "pending_approval" });
    expect(report.capabilities).toContainEqual({ name: "audit.read", elevated: true });
    expect(report.capabilities).toContainEqual({ name: "storage.read", elevated: false });
    await expect(h.run("vault.version")).rejects.toMatchObject({ code: "approval_required" });
    await h.run("module.approve", await approval(h, "vault"));
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
    const actions = ((await h.kernel.audit.tail(20)) as any[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["module.install", "module.approve"]));
  });

  it("installs a module without elevated capabilities straight to serving, and --approve skips the wait", async () => {
    const h = await open();
    await h.run("module.install", { source: source("1.0.0", ["commands.register"]) });
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
  });

  it("keeps the old version serving while an upgrade that adds a capability awaits approval", async () => {
    const home = tempDir();
    const h = await open(home);
    await h.run("module.install", { source: source("1.0.0", ["commands.register", "storage.read"]) });
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
    const staged: any = await h.run("module.install", { source: source("1.1.0", ["commands.register", "storage.read", "storage.write"]) });
    expect(staged).toMatchObject({ action: "staged", added: ["storage.write"], previous: "1.0.0" });
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
    await expect(h.run("vault.put", { v: 1 })).rejects.toMatchObject({ code: "capability_denied" });
    await h.run("module.approve", await approval(h, "vault"));
    await expect(h.run("vault.version")).resolves.toBe("1.1.0");
    await expect(h.run("vault.put", { v: 1 })).resolves.toBe("ok");
  });

  it("refuses a capability added in a patch release, and a downgrade without --allow-downgrade", async () => {
    const h = await open();
    await h.run("module.install", { source: source("1.0.0", ["commands.register"]) });
    await expect(h.run("module.install", { source: source("1.0.1", ["commands.register", "storage.read"]) })).rejects.toMatchObject({ code: "manifest_invalid" });
    await h.run("module.install", { source: source("1.2.0", ["commands.register"]) });
    await expect(h.run("vault.version")).resolves.toBe("1.2.0");
    await expect(h.run("module.install", { source: source("1.1.0", ["commands.register"]) })).rejects.toMatchObject({ code: "usage" });
    await h.run("module.install", { source: source("1.1.0", ["commands.register"]), allowDowngrade: true });
    await expect(h.run("vault.version")).resolves.toBe("1.1.0");
  });

  it("refuses a revoked capability on the next call, without a restart", async () => {
    const h = await open();
    await h.run("module.install", { source: source("1.0.0", ["commands.register", "storage.read", "storage.write"]) });
    await expect(h.run("vault.put", { v: 1 })).resolves.toBe("ok");
    await h.run("module.revoke", { id: "vault", capability: "storage.write" });
    await expect(h.run("vault.put", { v: 2 })).rejects.toMatchObject({ code: "capability_denied" });
    await expect(h.run("vault.get")).resolves.toBe(1);
  });

  it("refuses a module whose files changed after install until it is reinstalled", async () => {
    const home = tempDir();
    let h = await open(home);
    const src = source("1.0.0", ["commands.register"]);
    await h.run("module.install", { source: src });
    await h.close();
    hosts.length = 0;
    appendFileSync(join(home, "modules", "vault", "index.js"), "\n// tampered\n");
    h = await open(home);
    expect(((await h.run("module.inspect", { id: "vault" })) as any).files_verified).toBe(false);
    await expect(h.run("vault.version")).rejects.toMatchObject({ code: "integrity_failed", message: expect.stringContaining("reinstall it") });
    expect(state(h, "vault")).toBe("failed");
    expect(h.loader.list().find((m) => m.id === "vault")!.error!.code).toBe("integrity_failed");
    await h.run("module.install", { source: src });
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
  });

  it("removes a module, deleting its storage only with --purge", async () => {
    const h = await open();
    const src = source("1.0.0", ["commands.register", "storage.read", "storage.write"]);
    await h.run("module.install", { source: src });
    await h.run("vault.put", { v: "kept" });
    await h.run("module.remove", { id: "vault" });
    expect(existsSync(join(h.home, "modules", "vault"))).toBe(false);
    expect(await h.kernel.store.storage.get("vault", "k")).toBe('"kept"');
    await h.run("module.install", { source: src });
    await expect(h.run("vault.get")).resolves.toBe("kept");
    const removed: any = await h.run("module.remove", { id: "vault", purge: true });
    expect(removed.purged).toBe(1);
    expect(await h.kernel.store.storage.get("vault", "k")).toBeUndefined();
  });

  it("installs from a .tgz", async () => {
    const tar = await import("tar");
    const src = source("1.0.0", ["commands.register"]);
    const archive = join(tempDir(), "vault.tgz");
    await tar.c({ gzip: true, file: archive, cwd: join(src, ".."), portable: true }, ["vault"]);
    const h = await open();
    await h.run("module.install", { source: archive });
    await expect(h.run("vault.version")).resolves.toBe("1.0.0");
  });
});
