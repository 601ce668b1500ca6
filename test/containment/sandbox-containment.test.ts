// What a hostile module can do to the sandbox it shares with others: wasm memory, un-awaited call
// floods, results the host must check on arrival, and crashes that must count against the guilty
// module only. Each row: the attacker gets a stable code, the ledger shows it, and a well-behaved
// process-mate keeps answering.
import { afterEach, describe, expect, it } from "vitest";
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { SandboxRuntime } from "../../core/sandbox/sandbox-runtime.js";
import { parseWire } from "../../core/sandbox/wire.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

const any = { type: "object", additionalProperties: true };
const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

/** One shared sandbox process, the attacker in it beside "good". */
async function shared(attacker: Parameters<typeof writeModule>[1], runtime?: SandboxRuntime): Promise<Host> {
  const root = tempDir();
  writeModule(root, attacker);
  writeModule(root, { id: "good", commands: { ping: { description: "p", input: any } }, code: `export function activate(ctx) { ctx.commands.register("ping", async () => "pong"); }` });
  const h = await testHost({
    home: tempDir("warden-sbx-"),
    modulePaths: [root],
    logger: silentLogger(),
    userRuntime: runtime ?? new SandboxRuntime({ poolSize: 1, breaker: { failures: 3, windowMs: 60_000 } }),
  });
  hosts.push(h);
  await h.run("good.ping");
  return h;
}

const stats = async (h: Host, id: string) => (await h.run("module.stats", { id })) as { capability_denials: number; errors: Record<string, number>; limits: Record<string, number> };

describe("the sandbox contains", () => {
  it("WebAssembly memory: there is none to grow past the module's limit", async () => {
    const h = await shared({
      id: "wasm",
      commands: { grow: { description: "g", input: any } },
      code: `export function activate(ctx) { ctx.commands.register("grow", async () => {
        const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
        m.grow(24000); // 1.5 GB
        return m.buffer.byteLength;
      }); }`,
    });
    const err = (await h.run("wasm.grow").catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe("module_error");
    expect(err.message).toContain("WebAssembly is not defined");
    await expect(h.run("good.ping")).resolves.toBe("pong");
  });

  it("a flood of un-awaited refused and pending calls: the flooder's call ends at its timeout, its neighbour answers, the ledger counts", async () => {
    const h = await shared({
      id: "flood",
      capabilities: ["commands.register", "storage.read"],
      commands: { run: { description: "r", input: any } },
      code: `export function activate(ctx) { ctx.commands.register("run", async ({ n }) => {
        for (let i = 0; i < n; i++) { ctx.storage.set("k", i).catch(() => {}); ctx.storage.get("k" + i).catch(() => {}); }
        return "sent";
      }); }`,
    });
    await h.run("config.set", { key: "sandbox.defaultTimeoutMs", value: 2000 });
    const started = performance.now();
    const flood = h.run("flood.run", { n: 300_000 }).then(
      (v) => v,
      (e: { code: string }) => e.code,
    );
    const ping = h.run("good.ping");
    const outcome = await flood;
    const floodMs = performance.now() - started;
    await expect(ping).resolves.toBe("pong");
    // It finished its loop, or was stopped at its own time or memory limit; never far past them.
    expect(["sent", "timeout", "memory_limit"]).toContain(outcome);
    expect(floodMs).toBeLessThan(2000 + 3000);
    const s = await stats(h, "flood");
    expect(s.capability_denials).toBeGreaterThanOrEqual(64);
    await expect(h.run("good.ping")).resolves.toBe("pong");
  }, 30_000);

  it("results are checked on arrival: too deep or too large is module_error or payload_too_large, never internal", async () => {
    const h = await shared({
      id: "shapes",
      commands: { deep: { description: "d", input: any }, big: { description: "b", input: any } },
      code: `export function activate(ctx) {
        JSON.stringify = () => "x"; // the prelude kept its own
        ctx.commands.register("deep", async ({ n }) => { let v = 1; for (let i = 0; i < n; i++) v = [v]; return v; });
        ctx.commands.register("big", async () => "y".repeat(17 * 1024 * 1024));
      }`,
    });
    await h.run("config.set", { key: "sandbox.defaultMemoryMb", value: 256 });
    await h.run("config.set", { key: "sandbox.maxMemoryMb", value: 256 });
    await h.run("module.reload", { id: "shapes" });
    for (const n of [300, 200_000]) {
      const e = (await h.run("shapes.deep", { n }).catch((x: unknown) => x)) as { code: string; message: string };
      expect(e.code, `depth ${n}`).toBe("module_error");
      expect(e.message).toMatch(/nested/);
    }
    const big = (await h.run("shapes.big").catch((x: unknown) => x)) as { code: string };
    expect(["payload_too_large", "module_error"]).toContain(big.code);
    await expect(h.run("good.ping")).resolves.toBe("pong");
    // And the host's own check, whatever a sandbox process sends:
    expect(() => parseWire("[".repeat(300) + "]".repeat(300), "a result")).toThrow(/nested more than/);
    expect(() => parseWire(`"${"z".repeat(17 * 1024 * 1024)}"`, "a result")).toThrow(/bytes; 16777216 allowed/);
  }, 30_000);

  it("a process crash counts against the module that was running, never its process-mate with a call in flight", async () => {
    const runtime = new SandboxRuntime({ poolSize: 1, breaker: { failures: 2, windowMs: 60_000 } });
    const h = await shared(
      {
        id: "killer",
        commands: { spin: { description: "s", input: any } },
        code: `export function activate(ctx) { ctx.commands.register("spin", async () => { const end = Date.now() + 800; while (Date.now() < end) {} return "done"; }); }`,
      },
      runtime,
    );
    for (let round = 0; round < 3; round++) {
      await h.run("good.ping");
      // good's call is in flight (its isolate idle, waiting) while killer's code runs; then the
      // process dies (SIGKILL from outside stands in for a fatal V8 error).
      const slow = h.run("good.ping");
      const spin = h.run("killer.spin").catch((e: { code: string }) => e.code);
      await new Promise((r) => setTimeout(r, 200));
      const pid = runtime.pidOf("killer");
      try {
        if (pid) process.kill(pid, "SIGKILL");
      } catch {
        // already gone (the killer's own quarantine process, after the first round)
      }
      await spin;
      await slow.catch(() => undefined);
    }
    const states = Object.fromEntries(h.loader.list().map((m) => [m.id, m.state]));
    expect(states.good).toBe("active");
    await expect(h.run("good.ping")).resolves.toBe("pong");
    const breakers = ((await h.kernel.audit.tail(50)) as Array<{ action: string; target: string }>).filter((e) => e.action === "module.breaker").map((e) => e.target);
    expect(breakers).not.toContain("good");
    expect(breakers).toContain("killer");
  }, 60_000);
});
