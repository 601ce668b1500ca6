import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { SandboxRuntime } from "../core/sandbox/sandbox-runtime.js";
import { approval } from "./helpers/approval.js";
import { tempDir, writeModule } from "./helpers/modules.js";
import { eventually } from "./helpers/eventually.js";
import { testHost } from "./helpers/host.js";

const FIXTURES = join(__dirname, "fixtures/hostile");
const EXAMPLES = join(__dirname, "../modules/examples");
const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function open(config: Record<string, unknown>, runtime?: SandboxRuntime, paths = [FIXTURES]) {
  const h = await testHost({ home: tempDir("warden-sbx-"), modulePaths: paths, logger: silentLogger(), ...(runtime ? { userRuntime: runtime } : {}) });
  for (const [k, v] of Object.entries(config)) await h.run("config.set", { key: k, value: v });
  hosts.push(h);
  return h;
}

const settleWithin = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p.then(
      (v) => ({ settled: true, v }),
      (e) => ({ settled: true, e }),
    ),
    new Promise((r) => setTimeout(() => r({ settled: false }), ms)),
  ]);

describe("sandbox supervisor in a long-lived host", () => {
  it("restarts a process killed by a module; its neighbour answers after the restart and no call hangs", async () => {
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 100, windowMs: 60_000 } });
    const h = await open({}, runtime);
    await expect(h.run("good.ping")).resolves.toBe("pong");
    const pidBefore = runtime.pidOf("good");
    expect(runtime.pidOf("good")).toBe(pidBefore);

    // The killer and several calls of its neighbour, all in flight at once.
    const calls = [h.run("fatal-array.run"), ...Array.from({ length: 5 }, () => h.run("good.echo", { n: 1 }))];
    const results = (await Promise.all(calls.map((c) => settleWithin(c, 10_000)))) as Array<{ settled: boolean; e?: any }>;
    expect(results.every((r) => r.settled)).toBe(true);
    expect(results[0]!.e?.code).toMatch(/module_crashed|memory_limit/);
    for (const r of results.slice(1)) if (r.e) expect(r.e.code).toBe("module_crashed");

    await expect(h.run("good.ping")).resolves.toBe("pong");
    expect(runtime.restarts).toBeGreaterThanOrEqual(1);
    expect(runtime.pidOf("good")).not.toBe(pidBefore);
    // The module that crashed its process now lives in a quarantine process of its own.
    expect(runtime.quarantinedModules()).toEqual(["fatal-array"]);
    const fatal = await settleWithin(h.run("fatal-array.run"), 10_000);
    expect((fatal as any).e?.code).toMatch(/module_crashed|memory_limit/);
    expect(runtime.pidOf("fatal-array")).not.toBe(runtime.pidOf("good"));
    expect(runtime.stats().find((p) => p.modules.includes("good"))!.modules).not.toContain("fatal-array");
    await expect(h.run("good.ping")).resolves.toBe("pong");
  }, 60_000);

  it("blames the module whose code was running when its process died, not a mate with a call in flight", async () => {
    // Two modules with calls in flight on one process: only the mark the process wrote before
    // entering an isolate says whose code took it down.
    const extra = tempDir("warden-sbx-mates-");
    writeModule(extra, {
      id: "waiter",
      commands: { wait: { description: "never answers", input: { type: "object" } } },
      code: `export function activate(ctx) { ctx.commands.register("wait", () => new Promise(() => {})); }\n`,
    });
    writeFileSync(join(extra, "waiter/module.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(extra, "waiter/module.json"), "utf8")), limits: { timeoutMs: 120_000 } }));
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 100, windowMs: 60_000 } });
    const h = await open({}, runtime, [FIXTURES, extra]);
    await expect(h.run("good.ping")).resolves.toBe("pong");
    const waiting = h.run("waiter.wait").catch((e: { code: string }) => e.code);
    await expect(h.run("fatal-array.run")).rejects.toMatchObject({ code: expect.stringMatching(/module_crashed|memory_limit/) });
    await expect(waiting).resolves.toBe("module_crashed");
    expect(runtime.quarantinedModules()).toEqual(["fatal-array"]);
  }, 60_000);

  it("a module's CPU-bound loop holds its process-mates only until its own timeout; they are answered, not failed", async () => {
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 100, windowMs: 60_000 } });
    const h = await open({}, runtime);
    await expect(h.run("good.ping")).resolves.toBe("pong");
    await expect(h.run("loop-in-handler.run").catch((e) => e.code)).resolves.toBe("timeout"); // activated
    expect(runtime.pidOf("loop-in-handler")).toBe(runtime.pidOf("good")); // one process: mates
    const started = performance.now();
    // The loop enters first; the neighbour's calls wait behind it in the same process.
    const loop = h.run("loop-in-handler.run").then(
      () => "returned",
      (e: { code: string }) => e.code,
    );
    const mates = Array.from({ length: 5 }, (_, i) => h.run("good.echo", { n: i }).then(() => performance.now() - started));
    await expect(loop).resolves.toBe("timeout"); // its own limit: 300 ms
    const waited = await Promise.all(mates); // every one answered, none failed with the loop
    // Bounded by the loop's timeout plus slack for a loaded machine, not by the watchdog or a restart.
    expect(Math.max(...waited)).toBeLessThan(300 + 5000);
    expect(runtime.restarts).toBe(0);
  }, 60_000);

  it("calls that arrive together enter the isolate as one batch and each still gets its own answer or error", async () => {
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 100, windowMs: 60_000 } });
    const h = await open({}, runtime, [EXAMPLES]);
    await h.run("hello.greet", { name: "warm" });
    // 200 at once, across two modules, mixing answers, capability round trips and refusals.
    const calls = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0
        ? h.run("hello.greet", { name: `n${i}` }).then((v) => ({ i, v }))
        : i % 3 === 1
          ? h
              .run("notes.add", { title: `t${i}`, text: "x" })
              .then(() => h.run("notes.get", { title: `t${i}` }))
              .then((v) => ({ i, v }))
          : h.run("hello.greet", { name: 42 } as never).then(
              (v) => ({ i, v }),
              (e: { code: string }) => ({ i, e: e.code }),
            ),
    );
    for (const r of await Promise.all(calls)) {
      if (r.i % 3 === 0) expect(JSON.stringify((r as { v: unknown }).v)).toContain(`n${r.i}`);
      else if (r.i % 3 === 2) expect((r as { e?: string }).e).toBe("input_invalid");
      else expect((r as { v: { title: string } }).v.title).toBe(`t${r.i}`); // written and read back through the bridge
    }
    expect(runtime.restarts).toBe(0);
  }, 60_000);

  it("opens the circuit breaker after N failures in the window, until an operator re-enables the module", async () => {
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 2, windowMs: 60_000 } });
    const h = await open({}, runtime);
    await expect(h.run("never-settles.run")).rejects.toMatchObject({ code: "timeout" });
    await expect(h.run("never-settles.run")).rejects.toMatchObject({ code: "timeout" });
    await expect(h.run("never-settles.run")).rejects.toMatchObject({ code: "module_unavailable" });
    const listed = h.loader.list().find((m) => m.id === "never-settles")!;
    expect(listed.state).toBe("failed");
    expect(((await h.kernel.audit.tail(5)) as any[]).map((e) => e.action)).toContain("module.breaker");
    await h.run("module.enable", { id: "never-settles" });
    await expect(h.run("never-settles.run")).rejects.toMatchObject({ code: "timeout" });
    await expect(h.run("good.ping")).resolves.toBe("pong");
  }, 30_000);

  it("caps a module's limits by host policy", async () => {
    const h = await open({ "sandbox.maxTimeoutMs": 100 });
    const started = Date.now();
    await expect(h.run("loop-in-handler.run")).rejects.toMatchObject({ code: "timeout" });
    expect(h.loader.entry("loop-in-handler")!.state).toBe("active");
    void started;
  });

  it("runs the examples sandboxed: storage through the bridge, capability refusal as the host issued it", async () => {
    const h = await open({}, undefined, [EXAMPLES]);
    await h.run("notes.add", { title: "t", text: "x" });
    await expect(h.run("notes.get", { title: "t" })).resolves.toMatchObject({ title: "t", text: "x" });
    await expect(h.run("hello.remember", { name: "a" })).rejects.toMatchObject({ code: "capability_denied" });
    expect(await h.kernel.store.storage.get("hello", "last")).toBeUndefined();
  });

  it("rebuilds a module's thrown error host-side from plain data", async () => {
    const h = await open({}, undefined, [EXAMPLES]);
    const err: any = await h.run("notes.get", { title: "missing" }).catch((e) => e);
    expect(err.code).toBe("module_error");
    expect(err.details).toEqual({ code: "note_not_found" });
    expect(err.message).toContain("no note titled 'missing'");
    expect(String(err.stack)).not.toContain("warden:notes"); // no isolate stack crosses
  });
});

describe("events across the bridge", () => {
  it("delivers a module's event to a sandboxed subscriber within its granted patterns only", async () => {
    const h = await open({}, undefined, [join(__dirname, "fixtures/sandbox")]);
    await h.loader.ensureActive("listener");
    await h.run("emitter.ping", { n: 1 });
    await expect(h.run("emitter.spoof")).rejects.toMatchObject({ code: "capability_denied" });
    const seen = await eventually(async () => {
      const s = (await h.run("listener.seen")) as any[];
      return s.length > 0 ? s : undefined;
    }, "the listener heard the event");
    expect(seen).toEqual([{ event: "emitter.ping", payload: { n: 1 } }]);
    await expect(h.run("listener.greedy")).resolves.toBe("capability_denied");
    const denials = ((await h.kernel.audit.tail(20)) as any[]).filter((e) => e.action === "capability.denied").map((e) => `${e.actor} ${e.target}`);
    expect(denials).toEqual(expect.arrayContaining(["module:emitter events.emit", "module:listener events.subscribe"]));
  });
});

describe("net.fetch", () => {
  it("reaches only the listed hosts, returns redirects unfollowed, and refuses names that resolve inside", async () => {
    const { createServer } = await import("node:http");
    const server = createServer((req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "http://example.invalid/" });
        return res.end();
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`hello from ${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const root = tempDir();
      const { writeModule } = await import("./helpers/modules.js");
      writeModule(root, {
        id: "fetcher",
        capabilities: ["commands.register", { name: "net.fetch", hosts: [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`] }],
        commands: { get: { description: "get", input: { type: "object", additionalProperties: true } } },
        code: `export function activate(ctx) { ctx.commands.register("get", async ({ url }) => ctx.net.fetch(url)); }`,
      });
      writeModule(root, {
        id: "sneaky",
        capabilities: ["commands.register", { name: "net.fetch", hosts: [`localhost:${port}`] }],
        commands: { get: { description: "get", input: { type: "object", additionalProperties: true } } },
        code: `export function activate(ctx) { ctx.commands.register("get", async ({ url }) => ctx.net.fetch(url)); }`,
      });
      writeModule(root, {
        id: "nofetch",
        commands: { get: { description: "get", input: { type: "object", additionalProperties: true } } },
        code: `export function activate(ctx) { ctx.commands.register("get", async ({ url }) => ctx.net.fetch(url)); }`,
      });
      const h = await open({}, undefined, [root]);
      // Loopback (and localhost) in net.fetch hosts is elevated: nothing runs before an operator approves.
      await expect(h.run("fetcher.get", { url: `http://127.0.0.1:${port}/x` })).rejects.toMatchObject({ code: "approval_required" });
      const elevated = ((await h.run("module.inspect", { id: "fetcher" })) as { elevated: Array<{ capability: string; reason: string }> }).elevated;
      expect(elevated).toEqual([expect.objectContaining({ capability: "net.fetch", reason: expect.stringContaining("127.0.0.1") })]);
      for (const id of ["fetcher", "sneaky"]) await h.run("module.approve", await approval(h, id));
      await expect(h.run("fetcher.get", { url: `http://127.0.0.1:${port}/x` })).resolves.toMatchObject({ status: 200, body: "hello from GET /x" });
      await expect(h.run("fetcher.get", { url: `http://127.0.0.1:${port + 1}/x` })).rejects.toMatchObject({ code: "capability_denied" });
      await expect(h.run("fetcher.get", { url: "http://example.com/" })).rejects.toMatchObject({ code: "capability_denied" });
      await expect(h.run("fetcher.get", { url: `http://127.0.0.1:${port}/redirect` })).resolves.toMatchObject({ status: 302, headers: { location: "http://example.invalid/" } });
      // By name (Node 20 asks the lookup for every address): each is checked, and allowed only when listed.
      await expect(h.run("fetcher.get", { url: `http://localhost:${port}/x` })).resolves.toMatchObject({ status: 200, body: "hello from GET /x" });
      const inside: any = await h.run("sneaky.get", { url: `http://localhost:${port}/x` }).catch((e: any) => e);
      expect(inside.code, JSON.stringify(inside)).toBe("module_error");
      expect(inside.message).toMatch(/internal address/);
      await expect(h.run("nofetch.get", { url: `http://127.0.0.1:${port}/x` })).rejects.toMatchObject({ code: "capability_denied" });
    } finally {
      server.close();
    }
  });
});
