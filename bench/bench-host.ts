// The bench's sandboxed module and host: shared by the sandbox suite and bench/profile-calls.ts.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { SandboxSupervisor } from "../core/sandbox/supervisor.js";
import { bundleModule } from "../core/sandbox/bundle.js";
import { MAX_PENDING_PER_MODULE } from "../core/sandbox/fair-turns.js";
import type { Setup } from "../core/sandbox/protocol.js";
import { MAX_MESSAGE_BYTES } from "../core/sandbox/wire.js";
import { BOUND_METHODS, hostShape } from "../core/hostapi/table.js";

export function writeBenchModule(root: string, id: string): void {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  const input = { type: "object", additionalProperties: true };
  writeFileSync(
    join(dir, "module.json"),
    JSON.stringify({
      id,
      version: "1.0.0",
      host: "^0.1.0",
      description: "bench",
      entry: "index.js",
      capabilities: ["commands.register", "storage.read"],
      limits: { memoryMb: 64, timeoutMs: 5000 },
      commands: { noop: { description: "n", input }, get1: { description: "g", input }, echo: { description: "e", input } },
    }),
  );
  writeFileSync(
    join(dir, "index.js"),
    `export function activate(ctx) {
  ctx.commands.register("noop", async () => 1);
  ctx.commands.register("get1", async () => ctx.storage.get("k"));
  ctx.commands.register("echo", async (input) => input);
}\n`,
  );
}

/** A host running the modules in `modules` on `poolSize` sandbox processes (the default pool is 2). */
export async function openBenchHost(modules: string, poolSize = 2): Promise<{ host: Host; runtime: SandboxSupervisor }> {
  const runtime = new SandboxSupervisor({ poolSize, maxMemoryMb: 1024, maxTimeoutMs: 600_000, breaker: { failures: 1000, windowMs: 60_000 } });
  const host = await Host.open({
    home: mkdtempSync(join(tmpdir(), "warden-bench-home-")),
    modulePaths: [modules],
    logger: silentLogger(),
    userRuntime: runtime,
    systemDir: mkdtempSync(join(tmpdir(), "nosys-")),
  });
  return { host, runtime };
}

/**
 * The bench module as a sandbox process receives it (bundle and setup), in a JSON file for the
 * floor's ablation child (./floor/isolate-child.ts), which then holds Warden isolates.
 */
export async function wardenIsolateFile(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "warden-bench-floor-"));
  writeBenchModule(root, "bench");
  const dir = join(root, "bench");
  const bundle = await bundleModule(join(dir, "index.js"), dir, "isolate");
  const setup: Setup = {
    id: "bench",
    granted: ["commands.register", "storage.read"],
    commands: ["noop", "get1", "echo"],
    api: hostShape(),
    bound: { ...BOUND_METHODS },
    module: { id: "bench", version: "1.0.0", kind: "user" },
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxPending: MAX_PENDING_PER_MODULE,
  };
  const file = join(root, "module.json.bench");
  writeFileSync(file, JSON.stringify({ code: bundle.code, hash: bundle.hash, setup }));
  return file;
}
