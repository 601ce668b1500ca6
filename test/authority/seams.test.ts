// Authority at the seams: each effect needs the same permission by every path that reaches it, and
// no caller gains authority through a module acting for it. Each attack below was a finding of an
// outside review; each is followed by "still serving" and by what did not happen.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../../sdk/context.js";
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { approval } from "../helpers/approval.js";
import { emptyInput, tempDir, writeModule } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

const token = (...scopes: string[]): Caller => ({ kind: "token", tokenId: `t-${scopes.join("-").replace(/[^a-z]/g, "")}`, scopes });
const anyInput = { type: "object", additionalProperties: true };
/** Each attack runs against both runtimes of user modules: in the host's process and sandboxed. */
const RUNTIMES = [
  ["in-process", "inprocess" as const],
  ["sandboxed", undefined],
] as const;

function elevatedSource(version: string, capabilities: string[]): string {
  const dir = tempDir("warden-src-");
  writeModule(dir, {
    id: "grabber",
    version,
    capabilities,
    commands: { ping: { description: "p", input: anyInput } },
    code: `export function activate(ctx) { ctx.commands.register("ping", async () => "pong"); }`,
  });
  return join(dir, "grabber");
}

// report depends on ledger and may invoke its commands ("*" reaches a user dependency); ledger.wipe
// needs ledger.admin. A token that may only call report.* must not reach ledger.wipe through it.
function deputyModules(): string {
  const root = tempDir("warden-deputy-");
  writeModule(root, {
    id: "ledger",
    capabilities: ["commands.register", "storage.read", "storage.write"],
    commands: {
      wipe: { description: "wipe the ledger", input: emptyInput, permission: "ledger.admin" },
      count: { description: "entries", input: emptyInput, permission: "ledger.read" },
    },
    code: `export function activate(ctx) {
      ctx.commands.register("wipe", async () => { await ctx.storage.set("wiped", true); return "wiped"; });
      ctx.commands.register("count", async () => ((await ctx.storage.get("wiped")) ? 0 : 42));
    }`,
  });
  writeModule(root, {
    id: "report",
    capabilities: ["commands.register", { name: "commands.invoke", commands: ["*"] }],
    dependencies: { ledger: "^1.0.0" },
    commands: {
      run: { description: "make a report (and, being careless, wipe)", input: emptyInput },
    },
    code: `export function activate(ctx) {
      ctx.commands.register("run", async () => {
        await Promise.resolve(); // past an await: the host must still know whom it acts for
        const n = await ctx.commands.invoke("ledger.count");
        return { n, wipe: await ctx.commands.invoke("ledger.wipe") };
      });
    }`,
  });
  return root;
}

describe.each(RUNTIMES)("authority at the seams (%s user modules)", (_name, userRuntime) => {
  let host: Host;
  beforeAll(async () => {
    host = await testHost({ home: tempDir("warden-seams-"), modulePaths: [deputyModules()], logger: silentLogger(), ...(userRuntime ? { userRuntime } : {}) });
    await host.activateAll(["system"]);
  }, 60_000);
  afterAll(async () => {
    await host?.close();
  });
  const stillServing = async () => expect(await host.run("ledger.count")).toBe(42);

  it("effects carry the permission: a token with module.install alone cannot approve by installing with approve:true", async () => {
    const t = token("module.install");
    await expect(
      host.kernel.bus.dispatch({ command: "module.install", input: { source: elevatedSource("1.0.0", ["commands.register", "audit.read"]), approve: true }, caller: t }),
    ).rejects.toMatchObject({ code: "forbidden", message: expect.stringContaining("module.approve") });
    expect(host.loader.entry("grabber")).toBeUndefined();
    // Without approve it installs and waits for an operator, as it should.
    await host.kernel.bus.dispatch({ command: "module.install", input: { source: elevatedSource("1.0.0", ["commands.register", "audit.read"]) }, caller: t });
    expect(host.loader.entry("grabber")!.state).toBe("pending_approval");
    await stillServing();
  });

  it("effects carry the permission: the upgrade path with approve:true needs module.approve too", async () => {
    await host.run("module.approve", await approval(host, "grabber"));
    await expect(host.run("grabber.ping")).resolves.toBe("pong");
    const t = token("module.install");
    await expect(
      host.kernel.bus.dispatch({ command: "module.install", input: { source: elevatedSource("1.1.0", ["commands.register", "audit.read", "modules.manage"]), approve: true }, caller: t }),
    ).rejects.toMatchObject({ code: "forbidden" });
    const inspected = (await host.run("module.inspect", { id: "grabber" })) as { version: string; grants: unknown[] };
    expect(inspected.version).toBe("1.0.0");
    expect(JSON.stringify(inspected.grants)).not.toContain("modules.manage");
    // A token that holds both may do both.
    const both = token("module.install", "module.approve");
    const r = (await host.kernel.bus.dispatch({
      command: "module.install",
      input: { source: elevatedSource("1.1.0", ["commands.register", "audit.read", "modules.manage"]), approve: true },
      caller: both,
    })) as { action: string };
    expect(r.action).toBe("upgraded");
    expect(host.loader.entry("grabber")!.state).not.toBe("pending_approval");
    await host.run("module.remove", { id: "grabber" });
    await stillServing();
  });

  it("a setting's permission is its owner's: config.* cannot switch security off or trust everyone", async () => {
    const t = token("config.*");
    for (const [key, value] of [
      ["security.enabled", false],
      ["security.trusted", ["0.0.0.0/0"]],
      ["security.rate_limit", 1000000],
    ] as const) {
      await expect(host.kernel.bus.dispatch({ command: "config.set", input: { key, value }, caller: t }), key).rejects.toMatchObject({
        code: "forbidden",
        message: expect.stringContaining("security.manage"),
      });
    }
    expect(host.kernel.config.read("security.enabled")).toBe(true);
    expect(host.kernel.config.read("security.trusted")).toEqual([]);
    // The console's own lifetimes are the console's: config.* cannot stretch a session either.
    await expect(host.kernel.bus.dispatch({ command: "config.set", input: { key: "console.max_hours", value: 10000 }, caller: t })).rejects.toMatchObject({ code: "forbidden" });
    // The kernel's settings stay config.set's; and the owner's permission opens the owner's.
    await host.kernel.bus.dispatch({ command: "config.set", input: { key: "sandbox.breakerFailures", value: 7 }, caller: t });
    expect(host.kernel.config.get("sandbox.breakerFailures")).toBe(7);
    await host.kernel.bus.dispatch({ command: "config.set", input: { key: "security.rate_limit", value: 500 }, caller: token("config.set", "security.manage") });
    expect(host.kernel.config.read("security.rate_limit")).toBe(500);
    await host.run("config.set", { key: "security.rate_limit", value: 120 });
    await stillServing();
  });

  it("authority never grows through a module: report.* does not reach ledger.wipe through report", async () => {
    const t = token("report.*");
    const refused: any = await host.kernel.bus.dispatch({ command: "report.run", input: {}, caller: t }).catch((e) => e);
    expect(refused).toMatchObject({ code: "forbidden", details: { side: "caller", permission: "ledger.read", module: "report" } });
    expect(refused.message).toContain("acts here for token");
    await stillServing(); // nothing was wiped
    const reads = await host.kernel.bus.dispatch({ command: "report.run", input: {}, caller: token("report.*", "ledger.read") }).catch((e) => e);
    expect(reads).toMatchObject({ code: "forbidden", details: { permission: "ledger.admin" } });
    await stillServing();
    // With both scopes the caller itself could wipe, so the module may do it for them.
    const out = (await host.kernel.bus.dispatch({ command: "report.run", input: {}, caller: token("report.*", "ledger.*") })) as { n: number; wipe: string };
    expect(out).toEqual({ n: 42, wipe: "wiped" });
    expect(await host.run("ledger.count")).toBe(0);
    await host.run("ledger.wipe"); // still serving, for the operator
  });
});

describe("a module a host is adding", () => {
  it("answers module_unavailable until its grants are decided, never runs with partial grants", async () => {
    const root = tempDir("warden-adding-");
    const dir = writeModule(root, {
      id: "newcomer",
      capabilities: ["commands.register", "storage.read"],
      commands: { hi: { description: "h", input: anyInput } },
      code: `export function activate(ctx) { ctx.commands.register("hi", async () => "hi"); }`,
    });
    const host = await testHost({ home: tempDir("warden-adding-home-"), modulePaths: [], logger: silentLogger(), userRuntime: "inprocess" });
    try {
      const adding = host.loader.addModule(dir);
      // Called while the host is still adding it (its manifest being remembered, grants not decided).
      await expect(host.run("newcomer.hi")).rejects.toMatchObject({ code: "module_unavailable", details: { state: "adding" } });
      await adding;
      await expect(host.run("newcomer.hi")).resolves.toBe("hi");
      expect(host.loader.entry("newcomer")!.state).toBe("active");
    } finally {
      await host.close();
    }
  });
});

describe.each(RUNTIMES)("only the guilty pay: call chains end (%s)", (_name, userRuntime) => {
  let host: Host;
  beforeAll(async () => {
    const root = tempDir("warden-loops-");
    writeModule(root, {
      id: "selfy",
      capabilities: ["commands.register", { name: "commands.invoke", commands: ["selfy.*"] }],
      commands: { loop: { description: "invokes itself", input: anyInput }, noop: { description: "n", input: anyInput }, spin: { description: "invokes without end", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("loop", async ({ n }) => ctx.commands.invoke("selfy.loop", { n: (n ?? 0) + 1 }));
        ctx.commands.register("noop", async () => "ok");
        ctx.commands.register("spin", async () => {
          for (let i = 0; i < 100000; i++) {
            try { await ctx.commands.invoke("selfy.noop"); } catch (e) { return { stopped: e.code, after: i }; }
          }
          return { stopped: null };
        });
      }`,
    });
    host = await testHost({ home: tempDir("warden-loops-home-"), modulePaths: [root], logger: silentLogger(), ...(userRuntime ? { userRuntime } : {}) });
    await host.run("config.set", { key: "sandbox.maxInvokesPerSecond", value: 200 });
    await host.run("config.set", { key: "sandbox.defaultTimeoutMs", value: 30000 });
    await host.run("config.set", { key: "sandbox.maxTimeoutMs", value: 30000 });
  }, 60_000);
  afterAll(async () => {
    await host?.close();
  });

  it("a module invoking itself ends at sandbox.maxCallDepth with call_depth_exceeded", async () => {
    await expect(host.run("selfy.loop", {})).rejects.toMatchObject({ code: "call_depth_exceeded", details: { allowed: 16 } });
    await expect(host.run("selfy.noop")).resolves.toBe("ok"); // still serving
  });

  it("a module invoking without end is stopped by its invoke budget (rate_limited, counted in its ledger)", async () => {
    const out = (await host.run("selfy.spin")) as { stopped: string | null; after: number };
    expect(out.stopped).toBe("rate_limited");
    const stats = (await host.run("module.stats", { id: "selfy" })) as { limits: Record<string, number> };
    expect(stats.limits["commands.invokes_per_second"]).toBeGreaterThanOrEqual(1);
    await expect(host.run("selfy.noop")).resolves.toBe("ok"); // still serving
  });
});

describe("only the guilty pay: capability calls are served per module in fair turns", () => {
  it("a module flooding the store delays a process-mate's call by a few of its own writes, not by all it sent", async () => {
    const root = tempDir("warden-fair-");
    writeModule(root, {
      id: "flooder",
      capabilities: ["commands.register", "storage.write"],
      commands: { flood: { description: "f", input: anyInput } },
      code: `export function activate(ctx) {
        ctx.commands.register("flood", async ({ n }) => {
          await Promise.all(Array.from({ length: n }, (_, i) => ctx.storage.set("k" + i, "v".repeat(2000))));
          return n;
        });
      }`,
    });
    writeModule(root, {
      id: "neighbour",
      capabilities: ["commands.register", "storage.read"],
      commands: { read: { description: "r", input: anyInput } },
      code: `export function activate(ctx) { ctx.commands.register("read", async () => (await ctx.storage.get("x")) ?? null); }`,
    });
    const host = await testHost({ home: tempDir("warden-fair-home-"), modulePaths: [root], logger: silentLogger() });
    try {
      for (const [key, value] of [
        ["sandbox.poolSize", 1],
        ["storage.maxWritesPerSecond", 100000],
        ["sandbox.defaultTimeoutMs", 60000],
        ["sandbox.maxTimeoutMs", 60000],
      ] as const) {
        await host.run("config.set", { key, value });
      }
      await host.run("neighbour.read"); // active, in the one sandbox process
      // A store that takes a few milliseconds a write, one at a time (a disk's fsync), as the host's
      // storage calls see it: whoever is queued ahead of a call delays it.
      const storage = host.kernel.store.storage as unknown as Record<"set" | "get", (...a: unknown[]) => Promise<unknown>>;
      const [set, get] = [storage.set.bind(storage), storage.get.bind(storage)];
      let line: Promise<unknown> = Promise.resolve();
      const inLine = <T>(fn: () => Promise<T>): Promise<T> => {
        const p = line.then(fn, fn);
        line = p.catch(() => {});
        return p;
      };
      storage.set = (...a) =>
        inLine(async () => {
          await new Promise((r) => setTimeout(r, 5));
          return set(...a);
        });
      storage.get = (...a) => inLine(() => get(...a));
      const N = 250; // at most MAX_PENDING_PER_MODULE at once
      const written = async () => (await host.kernel.store.storage.list("flooder", "", 10_000)).length;
      const flood = host.run("flooder.flood", { n: N });
      await expect.poll(written, { timeout: 30_000, interval: 5 }).toBeGreaterThan(0);
      await host.run("neighbour.read");
      // Without turns, the neighbour's read waited behind every write the flooder had sent.
      expect(await written()).toBeLessThan(N);
      expect(await flood).toBe(N); // the flooder gets all its writes done, in its turns
    } finally {
      await host.close();
    }
  }, 120_000);
});
