import { approval } from "./helpers/approval.js";
import { afterEach, describe, expect, it } from "vitest";
import type { Host } from "../core/host.js";
import { testHost } from "./helpers/host.js";
import { emptyInput, tempDir, writeModule } from "./helpers/modules.js";

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function open(root: string, home?: string): Promise<Host> {
  const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root], ...(home ? { home } : {}) });
  hosts.push(h);
  return h;
}

const state = (h: Host, id: string) => h.loader.list().find((m) => m.id === id);

describe("ModuleLoader", () => {
  it("activates dependencies before dependents", async () => {
    const root = tempDir();
    const trace = "globalThis.__order ??= []; globalThis.__order.push";
    writeModule(root, { id: "app", dependencies: { db: "^1.0.0" }, code: `export function activate(){ ${trace}("app") }` });
    writeModule(root, { id: "db", dependencies: { logx: "^1.0.0" }, code: `export function activate(){ ${trace}("db") }` });
    writeModule(root, { id: "logx", code: `export function activate(){ ${trace}("logx") }` });
    (globalThis as any).__order = [];
    const h = await open(root);
    await h.activateAll();
    expect((globalThis as any).__order).toEqual(["logx", "db", "app"]);
    expect(h.loader.list().map((m) => m.state)).toEqual(["active", "active", "active"]);
  });

  it("fails a module that throws in activate and its dependents, and no others", async () => {
    const root = tempDir();
    writeModule(root, { id: "broken", code: "export function activate(){ throw new Error('boom in activate') }" });
    writeModule(root, { id: "needs-broken", dependencies: { broken: "*" } });
    writeModule(root, { id: "fine" });
    const h = await open(root);
    await h.activateAll();
    expect(state(h, "broken")).toMatchObject({ state: "failed", error: { code: "module_error" } });
    expect(state(h, "broken")!.error!.message).toContain("boom in activate");
    expect(state(h, "needs-broken")).toMatchObject({ state: "failed", error: { code: "dependency_unresolved" } });
    expect(state(h, "needs-broken")!.error!.message).toContain("'broken'");
    expect(state(h, "fine")!.state).toBe("active");
  });

  it("lists an unparsable manifest under its folder name, and refuses a duplicate id", async () => {
    const root = tempDir();
    writeModule(root, { id: "good" });
    const dupRoot = tempDir();
    writeModule(dupRoot, { id: "good" });
    const badDir = writeModule(root, { id: "garbled" });
    (await import("node:fs")).writeFileSync(`${badDir}/module.json`, "{ not json");
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root, dupRoot] });
    hosts.push(h);
    await h.activateAll();
    const list = h.loader.list();
    expect(list.find((m) => m.id === "garbled")).toMatchObject({ state: "failed", error: { code: "manifest_invalid" }, path: badDir });
    const goods = list.filter((m) => m.id === "good");
    expect(goods).toHaveLength(2);
    expect(goods.filter((m) => m.state === "active")).toHaveLength(1);
    const refused = goods.find((m) => m.state === "failed")!;
    expect(refused.error!.code).toBe("module_duplicate");
    expect(refused.path.startsWith(dupRoot)).toBe(true);
  });

  it("leaves a user module with an elevated capability pending until approved, pinned to its manifest", async () => {
    const root = tempDir();
    const home = tempDir();
    const dir = writeModule(root, {
      id: "ops",
      capabilities: ["commands.register", "audit.read"],
      commands: { ping: { description: "p", input: emptyInput } },
      code: "export function activate(ctx){ ctx.commands.register('ping', async () => 'pong') }",
    });
    let h = await open(root, home);
    expect(state(h, "ops")!.state).toBe("pending_approval");
    await expect(h.run("ops.ping")).rejects.toMatchObject({ code: "approval_required" });
    await h.run("module.approve", await approval(h, "ops"));
    await expect(h.run("ops.ping")).resolves.toBe("pong");
    await h.close();

    h = await open(root, home);
    await expect(h.run("ops.ping")).resolves.toBe("pong");
    await h.close();

    // Changing the manifest (its hash) asks again.
    const fs = await import("node:fs");
    const m = JSON.parse(fs.readFileSync(`${dir}/module.json`, "utf8"));
    m.version = "1.1.0";
    fs.writeFileSync(`${dir}/module.json`, JSON.stringify(m));
    h = await open(root, home);
    expect(state(h, "ops")!.state).toBe("pending_approval");
  });

  it("keeps a disabled module disabled across restarts", async () => {
    const root = tempDir();
    const home = tempDir();
    writeModule(root, { id: "quiet" });
    let h = await open(root, home);
    await h.run("module.disable", { id: "quiet" });
    expect(state(h, "quiet")!.state).toBe("disabled");
    await h.close();
    h = await open(root, home);
    await h.activateAll();
    expect(state(h, "quiet")!.state).toBe("disabled");
    await h.run("module.enable", { id: "quiet" });
    await h.activateAll();
    expect(state(h, "quiet")!.state).toBe("active");
  });

  it("activates lazily: a call activates exactly that module and its dependencies", async () => {
    const root = tempDir();
    writeModule(root, { id: "base" });
    writeModule(root, {
      id: "top",
      dependencies: { base: "*" },
      commands: { go: { description: "g", input: emptyInput } },
      code: "export function activate(ctx){ ctx.commands.register('go', () => 'went') }",
    });
    writeModule(root, { id: "bystander" });
    const h = await open(root);
    expect(h.loader.list().every((m) => m.state === "installed")).toBe(true);
    await expect(h.run("top.go")).resolves.toBe("went");
    expect(state(h, "top")!.state).toBe("active");
    expect(state(h, "base")!.state).toBe("active");
    expect(state(h, "bystander")!.state).toBe("installed");
  });
});
