// The physical floor of a sandboxed call, for the bench: a child process holding one isolate,
// reached over the same framed pipes as a sandbox process (core/sandbox/channel.ts), the isolate
// entered with applySync. No checks, no bus, no prelude, no spinning: what any design that keeps
// the isolate in another process pays at least.
//
// With a second argument (a JSON file: the bench module's bundle and its setup) each isolate is
// instead a Warden isolate (core/sandbox/isolate-host.ts: the prelude, the module, the bridge) and
// each call goes through its batch entry: the floor plus what Warden runs inside an isolate, the
// ablation that shows how much of a gap is the isolate's contents and how much the machinery
// around it.
import { readFileSync } from "node:fs";
import { Socket } from "node:net";
import ivm from "isolated-vm";
import { FrameReader, FrameWriter } from "../../core/sandbox/channel.js";
import { Batch, IsolateHost } from "../../core/sandbox/isolate-host.js";
import type { Setup } from "../../core/sandbox/protocol.js";

/** One isolate's entry point: parses its input and returns it as text, as a module's handler and the prelude would. */
function echoIsolate(): (text: string, rq: number) => void {
  const iso = new ivm.Isolate({ memoryLimit: 64 });
  const context = iso.createContextSync();
  const fn = iso.compileScriptSync("(function (text) { return JSON.stringify(JSON.parse(text)); })").runSync(context, { reference: true }) as ivm.Reference;
  return (text, rq) => writer.send({ t: "done", rq }, fn.applySync(undefined, [text || "null"], { timeout: 5000 }) as string);
}

interface WardenModule {
  code: string;
  hash: string;
  setup: Setup;
}

const CALL_INFO = JSON.stringify({ command: "bench.noop", caller: { kind: "operator" } });
let rqs = 1_000_000;
function wardenIsolate(m: WardenModule): (text: string, rq: number) => void {
  const iso = new IsolateHost(
    m.setup,
    { memoryMb: 64, timeoutMs: 5000 },
    {
      settled: (rq, text, err) => writer.send(err ? { t: "done", rq, err } : { t: "done", rq }, text ?? ""),
      capability() {},
      denied() {},
      deniedCount() {},
      register() {},
      log() {},
      died(reason, message) {
        process.stderr.write(`floor: an isolate died (${reason}: ${message})\n`);
      },
      entering() {},
    },
  );
  iso.load(++rqs, m.code, m.hash, "bench.js");
  return (text, rq) => {
    const batch = new Batch();
    batch.invoke(rq, "noop", text, CALL_INFO);
    iso.run(batch);
  };
}

const count = Math.max(1, Number(process.argv[2] ?? 1));
const warden = process.argv[3] ? (JSON.parse(readFileSync(process.argv[3], "utf8")) as WardenModule) : undefined;
const input = new Socket({ fd: 3, readable: true, writable: false });
const output = new Socket({ fd: 4, readable: false, writable: true });
const writer = new FrameWriter(output);
const isolates = Array.from({ length: count }, () => (warden ? wardenIsolate(warden) : echoIsolate()));
const reader = new FrameReader(
  64 * 1024 * 1024,
  (header: { rq: number; i?: number }, payload) => isolates[(header.i ?? 0) % isolates.length]!(payload, header.rq),
  (why) => {
    process.stderr.write(`floor: ${why}\n`);
    process.exit(70);
  },
);
input.on("data", (chunk: Buffer) => {
  reader.push(chunk);
  writer.flush();
});
input.on("end", () => process.exit(0));
writer.send({ t: "ready" });
