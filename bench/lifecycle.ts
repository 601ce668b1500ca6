// Host start with many installed idle modules, beside the same host with 10; and the first call
// to an idle module (activation included), beside an already-active call.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { bundleModule } from "../core/sandbox/bundle.js";
import { percentile, row, type BenchRow } from "./report.js";

function median(v: number[]): number {
  return percentile(
    [...v].sort((a, b) => a - b),
    50,
  );
}

function modules(n: number): string {
  const root = mkdtempSync(join(tmpdir(), `warden-bench-mods${n}-`));
  for (let i = 0; i < n; i++) {
    const dir = join(root, `m${i}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, "module.json"),
      JSON.stringify({
        id: `m${i}`,
        version: "1.0.0",
        host: "^0.1.0",
        description: "idle",
        entry: "index.js",
        capabilities: ["commands.register", "storage.read"],
        limits: { memoryMb: 16, timeoutMs: 1000 },
        commands: {
          go: { description: "go", input: { type: "object", properties: { n: { type: "integer" } }, additionalProperties: false } },
          stop: { description: "stop", input: { type: "object", properties: {}, additionalProperties: false } },
        },
      }),
    );
    writeFileSync(join(dir, "index.js"), `export function activate(ctx) { ctx.commands.register("go", async () => ${i}); ctx.commands.register("stop", async () => 0); }\n`);
  }
  return root;
}

/** Median time from nothing to a ready host (manifest cache warm, as on any start after the first). */
async function readyMs(root: string, home: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const h = await Host.open({ home, modulePaths: [root], logger: silentLogger() });
    times.push(performance.now() - t);
    await h.close();
  }
  return percentile(
    times.slice(1).sort((a, b) => a - b),
    50,
  );
}

const BIN = join(import.meta.dirname, "..", "core", "cli", "bin.mjs");

/** Wall time from `warden serve` to its "host serving" line: what an operator waits for. */
async function serveReadyMs(root: string, home: string): Promise<number> {
  spawnSync(process.execPath, [BIN, "--home", home, "config", "set", "api.port", "0"]);
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    const child = spawn(process.execPath, [BIN, "--home", home, "--modules", root, "serve"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("host serving")) resolve();
      });
      child.on("exit", () => reject(new Error(`serve exited early: ${out}`)));
    });
    times.push(performance.now() - t);
    await new Promise<void>((r) => {
      child.removeAllListeners("exit");
      child.on("exit", () => r());
      child.kill("SIGTERM");
    });
  }
  return percentile(
    times.slice(1).sort((a, b) => a - b),
    50,
  );
}

export async function run(): Promise<BenchRow[]> {
  const ten = modules(10);
  const thousand = modules(1000);
  const homeTen = mkdtempSync(join(tmpdir(), "warden-bench-h10-"));
  const homeThousand = mkdtempSync(join(tmpdir(), "warden-bench-h1000-"));
  const tenMs = await readyMs(ten, homeTen);
  const thousandMs = await readyMs(thousand, homeThousand);
  const serveTen = await serveReadyMs(ten, mkdtempSync(join(tmpdir(), "warden-bench-s10-")));
  const serveThousand = await serveReadyMs(thousand, mkdtempSync(join(tmpdir(), "warden-bench-s1000-")));

  const h = await Host.open({ home: homeThousand, modulePaths: [thousand], logger: silentLogger() });
  try {
    await h.run("m0.go");
    // On an idle host: every sandbox process has answered a round trip first (the spare isolate
    // it makes after an activation is ready); and back to back, one first call after another.
    const first: number[] = [];
    const burst: number[] = [];
    for (let i = 1; i <= 100; i++) {
      await h.kernel.ledger.refresh();
      const t = performance.now();
      await h.run(`m${i}.go`);
      first.push(performance.now() - t);
    }
    for (let i = 101; i <= 200; i++) {
      const t = performance.now();
      await h.run(`m${i}.go`);
      burst.push(performance.now() - t);
    }
    // Ablation: the first call split in two, bundling the module (esbuild, an unseen folder) and
    // the first call once its bundle is built (activation, the module's first compile, the call).
    const bundling: number[] = [];
    const prebuilt: number[] = [];
    for (let i = 201; i <= 300; i++) {
      await h.kernel.ledger.refresh();
      let t = performance.now();
      await bundleModule(join(thousand, `m${i}`, "index.js"), join(thousand, `m${i}`), "isolate");
      bundling.push(performance.now() - t);
      await h.kernel.ledger.refresh();
      t = performance.now();
      await h.run(`m${i}.go`);
      prebuilt.push(performance.now() - t);
    }
    const warm: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      await h.run(`m${1 + (i % 100)}.go`);
      warm.push(performance.now() - t);
    }
    return [
      row("lifecycle", "host ready (Host.open), 1000 installed idle modules", thousandMs, "ms", "Host.open, 10 modules", tenMs, "<= 2000 ms and <= 1.5x"),
      row("lifecycle", "`warden serve` ready, 1000 installed idle modules", serveThousand, "ms", "`warden serve` ready, 10 modules", serveTen, "<= 2000 ms and <= 1.5x"),
      row(
        "lifecycle",
        "first call to an idle module on an idle host, activation included (p50)",
        percentile(
          first.sort((a, b) => a - b),
          50,
        ),
        "ms",
        "call to an active module p50",
        percentile(
          warm.sort((a, b) => a - b),
          50,
        ),
        "<= 10 ms",
      ),
      row(
        "lifecycle",
        "first calls to 100 idle modules back to back (p50)",
        percentile(
          burst.sort((a, b) => a - b),
          50,
        ),
        "ms",
        "first call on an idle host p50",
        percentile(first, 50),
        "(reference: a burst)",
      ),
      row("lifecycle", "ablation: bundling an unseen module folder (esbuild), p50", median(bundling), "ms", "first call on an idle host p50", percentile(first, 50), "(what bundling costs)"),
      row(
        "lifecycle",
        "ablation: first call with the bundle already built, p50",
        median(prebuilt),
        "ms",
        "first call on an idle host p50",
        percentile(first, 50),
        "(what activation and the first compile cost)",
      ),
    ];
  } finally {
    await h.close();
  }
}
