// The physical floor of a sandboxed call, for the bench: a child process holding one isolate,
// reached over the same framed pipes as a sandbox process (core/sandbox/channel.ts), the isolate
// entered with applySync. No checks, no bus, no prelude, no spinning: what any design that keeps
// the isolate in another process pays at least.
import { Socket } from "node:net";
import ivm from "isolated-vm";
import { FrameReader, FrameWriter } from "../../core/sandbox/channel.js";

/** One isolate's entry point: parses its input and returns it as text, as a module's handler and the prelude would. */
function echoIsolate(): ivm.Reference {
  const iso = new ivm.Isolate({ memoryLimit: 64 });
  const context = iso.createContextSync();
  return iso.compileScriptSync("(function (text) { return JSON.stringify(JSON.parse(text)); })").runSync(context, { reference: true }) as ivm.Reference;
}
const echoes = Array.from({ length: Math.max(1, Number(process.argv[2] ?? 1)) }, echoIsolate);

const input = new Socket({ fd: 3, readable: true, writable: false });
const output = new Socket({ fd: 4, readable: false, writable: true });
const writer = new FrameWriter(output);
const reader = new FrameReader(
  64 * 1024 * 1024,
  (header: { rq: number; i?: number }, payload) => {
    const out = echoes[(header.i ?? 0) % echoes.length]!.applySync(undefined, [payload || "null"], { timeout: 5000 }) as string;
    writer.send({ t: "done", rq: header.rq }, out);
  },
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
