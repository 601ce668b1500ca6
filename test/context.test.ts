import { afterEach, describe, expect, it } from "vitest";
import type { Host } from "../core/host.js";
import { testHost } from "./helpers/host.js";
import { tempDir, writeModule } from "./helpers/modules.js";

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

const anyInput = { type: "object", additionalProperties: true };

describe("capability-scoped context", () => {
  it("refuses an ungranted API with capability_denied naming module and capability, and audits it", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "sneaky",
      commands: { lock: { description: "l", input: anyInput }, write: { description: "w", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("lock", async () => ctx.modules.disable("sneaky"));
        ctx.commands.register("write", async () => ctx.storage.set("k", 1));
      }`,
    });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    for (const [command, capability] of [
      ["sneaky.lock", "modules.manage"],
      ["sneaky.write", "storage.write"],
    ] as const) {
      const err: any = await h.run(command).catch((e: any) => e);
      expect(err.code).toBe("capability_denied");
      expect(err.message).toContain("'sneaky'");
      expect(err.message).toContain(`'${capability}'`);
    }
    const audit = (await h.kernel.audit.tail(10)) as Array<{ action: string; target: string }>;
    expect(audit.filter((e) => e.action === "capability.denied").map((e) => e.target)).toEqual(["modules.manage", "storage.write"]);
  });

  it("enforces on the host side even when the module calls the port directly", async () => {
    const root = tempDir();
    writeModule(root, { id: "plain" });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await h.loader.ensureActive("plain");
    const { createHostPort } = await import("../core/hostapi/port.js");
    const port = createHostPort({
      kernel: h.kernel,
      moduleId: "plain",
      kind: "user",
      grants: () => h.loader.entry("plain")!.grants,
      exactContext: false,
      declaredCommands: new Set(),
      dependencies: [],
      track: () => {},
    });
    await expect(port.call("storage.get", ["k"])).rejects.toMatchObject({ code: "capability_denied" });
    await expect(port.call("no.such", [])).rejects.toMatchObject({ code: "input_invalid" });
    expect(() => port.register("undeclared")).toThrow(expect.objectContaining({ code: "command_not_declared" }));
  });

  it("keeps each module's storage private whatever key it passes", async () => {
    const root = tempDir();
    const rw = ["commands.register", "storage.read", "storage.write"];
    const code = `export function activate(ctx) {
      ctx.commands.register("put", async ({ key, value }) => ctx.storage.set(key, value));
      ctx.commands.register("get", async ({ key }) => (await ctx.storage.get(key)) ?? null);
      ctx.commands.register("keys", async () => ctx.storage.list(""));
    }`;
    const commands = { put: { description: "p", input: anyInput }, get: { description: "g", input: anyInput }, keys: { description: "k", input: anyInput } };
    writeModule(root, { id: "alice", capabilities: rw, commands, code });
    writeModule(root, { id: "bob", capabilities: rw, commands, code });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await h.run("alice.put", { key: "secret", value: "alice-only" });
    for (const key of ["secret", "alice:secret", "../alice/secret", "alice/secret", "%", "*"]) {
      expect(await h.run("bob.get", { key })).toBeNull();
    }
    // Keys no backend can hold exactly (NUL, a lone surrogate) are refused on arrival, on every backend.
    for (const key of ["alice\u0000secret", "alice\ud800"]) await expect(h.run("bob.put", { key, value: 1 })).rejects.toMatchObject({ code: "input_invalid" });
    await h.run("bob.put", { key: "alice:secret", value: "bob's" });
    expect(await h.run("alice.get", { key: "secret" })).toBe("alice-only");
    expect(await h.run("alice.keys")).toEqual(["secret"]);
    expect(await h.run("bob.keys")).toEqual(["alice:secret"]);
  });

  it("refuses storage writes over the quota with quota_exceeded", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "hog",
      capabilities: ["commands.register", "storage.write"],
      commands: { fill: { description: "f", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("fill", async () => { for (let i = 0; ; i++) await ctx.storage.set("k" + i, "x".repeat(500)); });
      }`,
    });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await h.run("config.set", { key: "storage.maxBytesPerModule", value: 4096 });
    const err: any = await h.run("hog.fill").catch((e: any) => e);
    expect(err.code).toBe("quota_exceeded");
    expect(err.message).toMatch(/\d+ bytes requested, 4096 allowed/);
    expect(await h.kernel.store.storage.usage("hog")).toBeLessThanOrEqual(4096);
  });

  it("turns a module's own error into module_error, keeping its code under details", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "thrower",
      commands: { fail: { description: "f", input: anyInput }, fake: { description: "f", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("fail", async () => { const e = new Error("nope"); e.code = "my_code"; throw e; });
        ctx.commands.register("fake", async () => { const e = new Error("pretend"); e.code = "internal"; throw e; });
      }`,
    });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await expect(h.run("thrower.fail")).rejects.toMatchObject({ code: "module_error", details: { code: "my_code" } });
    // A user module cannot produce a host error code.
    await expect(h.run("thrower.fake")).rejects.toMatchObject({ code: "module_error" });
  });
});

describe("denial flood", () => {
  it("audits the first denials of a minute and summarises the rest, so a module cannot stall the host through the audit chain", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "hammer",
      commands: { go: { description: "g", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("go", async () => {
          let refused = 0;
          for (let i = 0; i < 500; i++) { try { await ctx.storage.set("k", i); } catch (e) { if (e.code === "capability_denied") refused++; } }
          return refused;
        });
      }`,
    });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await expect(h.run("hammer.go")).resolves.toBe(500);
    const denials = ((await h.kernel.audit.tail(1000)) as Array<{ action: string }>).filter((e) => e.action === "capability.denied");
    expect(denials.length).toBe(30);
    expect(h.kernel.ledger.stats("hammer").capability_denials).toBe(500); // every one still counted
  });
});

describe("storage write rate", () => {
  it("caps a user module's storage writes per second with quota_exceeded", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "writer",
      capabilities: ["commands.register", "storage.write"],
      commands: { go: { description: "g", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("go", async () => { for (let i = 0; i < 100; i++) await ctx.storage.set("k" + i, i); return "done"; });
      }`,
    });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await h.run("config.set", { key: "storage.maxWritesPerSecond", value: 10 });
    const err: any = await h.run("writer.go").catch((e: any) => e);
    expect(err.code).toBe("quota_exceeded");
    expect(err.message).toMatch(/more than 10 storage writes this second/);
  });
});
