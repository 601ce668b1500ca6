// The entry of a sandbox process: a child of the host started with --no-node-snapshot, bundled for
// plain node (see ./process-script.ts). It owns the isolates of the modules placed on it, reads
// frames from the host on fd 3 and writes frames to it on fd 4; it exits when the host goes away.
//
// Before running a module's code it writes that module's id to its mark file (protocol.ts MARK_FD;
// only when it changes), so that if V8 aborts the process mid-call (a fatal OOM cannot be caught)
// the host knows which module took it down.
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { FrameReader, FrameWriter } from "./channel.js";
import { Batch, IsolateHost } from "./isolate-host.js";
import { useCodeCacheDir } from "./isolate-shell.js";
import { DENIAL_RQ, MARK_BYTES, MARK_FD, type FromSandbox, type LogLevel, type ToSandbox } from "./protocol.js";
import { MAX_MESSAGE_BYTES } from "./wire.js";

const cacheDir = process.argv[2];
if (cacheDir) useCodeCacheDir(join(cacheDir, "v8"));

/** Lines per module per second; a flood is cut here, not in the host. */
const LOG_LINES_PER_SECOND = 200;
/** Capability calls a module may have waiting on the host at once. */
const MAX_PENDING_CAPABILITY_CALLS = 1024;
/**
 * Optionally (the supervisor's spinUs; off by default), after a burst of frames the process keeps
 * polling for a short while instead of sleeping: on an idle second core that saves a wake-up per
 * call, but on a shared core it takes the CPU the host needs. Idle processes never spin.
 */
const SPIN_NS = BigInt(Number(process.env.WARDEN_SANDBOX_SPIN_US ?? 0) * 1000);
const HOT_GAP_NS = 2_000_000n;

const input = new Socket({ fd: 3, readable: true, writable: false });
const output = new Socket({ fd: 4, readable: false, writable: true });
const writer = new FrameWriter(output);
const send = (m: FromSandbox, payload = ""): void => writer.send(m, payload);

interface Module {
  iso: IsolateHost;
  /** Capability calls waiting on the host. */
  caps: number;
  log: { second: number; lines: number; dropped: number };
  id: string;
  denials: { second: number; sent: number; counted: number; limited: number };
}

const DENIALS_PER_SECOND = 100;

/** Whether one more refusal may be reported now; also sends the count of the previous second's extras. */
function denialBudget(mod: Module): boolean {
  const second = Math.floor(Date.now() / 1000);
  const d = mod.denials;
  if (d.second !== second) {
    if (d.counted > 0 || d.limited > 0) send({ t: "denials", id: mod.id, count: d.counted, limited: d.limited });
    d.second = second;
    d.sent = 0;
    d.counted = 0;
    d.limited = 0;
  }
  if (d.sent >= DENIALS_PER_SECOND) return false;
  d.sent++;
  return true;
}
const modules = new Map<string, Module>();
/** Host-side capability request number -> the isolate call waiting for it. */
const capRoutes = new Map<number, { id: string; mod: Module; isolateRq: number }>();
/** Deactivation request -> module id: when that call settles, the isolate is disposed. */
const deactivating = new Map<number, string>();
let capSeq = 0;
let marked: string | undefined;

/** `bytes`: the id as written, made once per module (a switch between modules writes each call). */
function mark(id: string, bytes: Buffer): void {
  if (marked === id) return;
  marked = id;
  try {
    writeSync(MARK_FD, bytes, 0, MARK_BYTES, 0);
  } catch {
    // the mark file gone: attribution is a convenience
  }
}

function activate(m: Extract<ToSandbox, { t: "activate" }>, code: string): void {
  const previous = modules.get(m.id);
  if (previous) forget(m.id, previous);
  let iso: IsolateHost;
  const mod = {} as Module;
  const markBytes = Buffer.from(m.id.padEnd(MARK_BYTES).slice(0, MARK_BYTES), "latin1");
  try {
    iso = new IsolateHost(m.setup, m.limits, {
      settled: (rq, text, err) => {
        send(err ? { t: "done", rq, err } : { t: "done", rq }, text ?? "");
        if (deactivating.get(rq) === m.id) {
          deactivating.delete(rq);
          // Not from inside the isolate's own call: after it has returned.
          queueMicrotask(() => modules.get(m.id) === mod && forget(m.id, mod));
        }
      },
      capability: (isolateRq, method, args) => {
        if (mod.caps >= MAX_PENDING_CAPABILITY_CALLS) {
          mod.denials.limited++;
          denialBudget(mod);
          return iso.reply(isolateRq, "", { code: "rate_limited", message: `${MAX_PENDING_CAPABILITY_CALLS} capability calls are already waiting on the host; await some before making more` });
        }
        mod.caps++;
        const rq = ++capSeq;
        capRoutes.set(rq, { id: m.id, mod, isolateRq });
        send({ t: "cap", id: m.id, rq, method }, args);
      },
      // Refusal reports are forwarded one by one up to DENIALS_PER_SECOND per module; past that
      // they are counted and the count sent once a second (the ledger still sees every one).
      denied: (method, nonce) => {
        if (denialBudget(mod)) send({ t: "cap", id: m.id, rq: DENIAL_RQ, method, nonce }, "[]");
        else mod.denials.counted++;
      },
      // Already one message per entry into the isolate: forwarded as it is.
      deniedCount: (count, limited) => send({ t: "denials", id: m.id, count, limited }),
      register: (name) => send({ t: "register", id: m.id, name }),
      log: (level, message, data) => log(m.id, mod, level, message, data),
      died: (reason, message) => send({ t: "dead", id: m.id, reason, message }),
      entering: () => mark(m.id, markBytes),
    });
  } catch (e) {
    send({ t: "done", rq: m.rq, err: { code: "module_error", message: `the module's isolate could not be created: ${String((e as Error)?.message ?? e)}` } });
    return;
  }
  Object.assign(mod, { id: m.id, iso, caps: 0, log: { second: 0, lines: 0, dropped: 0 }, denials: { second: 0, sent: 0, counted: 0, limited: 0 } });
  modules.set(m.id, mod);
  iso.load(m.rq, code, m.hash, m.filename);
}

function forget(id: string, mod: Module): void {
  mod.iso.dispose();
  modules.delete(id);
  for (const [rq, route] of capRoutes) if (route.mod === mod) capRoutes.delete(rq);
}

function log(id: string, mod: Module, level: LogLevel, message: string, data: string): void {
  const second = Math.floor(Date.now() / 1000);
  const c = mod.log;
  if (c.second !== second) {
    if (c.dropped > 0) send({ t: "log", id, level: "warn", msg: `dropped ${c.dropped} log lines over the limit of ${LOG_LINES_PER_SECOND} per second` });
    c.second = second;
    c.lines = 0;
    c.dropped = 0;
  }
  if (++c.lines > LOG_LINES_PER_SECOND) {
    c.dropped++;
    return;
  }
  send({ t: "log", id, level, msg: message }, data);
}

/**
 * Calls and capability replies that arrived together wait here, per module, and enter its isolate
 * as one batch (IsolateHost.run): at the end of the chunk that brought them, before any other
 * kind of frame (so order holds: a call is never overtaken by a later deactivate), or once a
 * module has MAX_BATCH waiting.
 */
const queued = new Map<Module, Batch>();
const MAX_BATCH = 64;

function batchOf(mod: Module): Batch {
  let b = queued.get(mod);
  if (!b) queued.set(mod, (b = new Batch()));
  return b;
}

function runQueued(): void {
  if (queued.size === 0) return;
  const batches = [...queued];
  queued.clear();
  for (const [mod, batch] of batches) {
    if (modules.get(mod.id) === mod) mod.iso.run(batch);
    else for (const rq of batch.calls) send({ t: "done", rq, err: { code: "module_unavailable", message: `module '${mod.id}' is not active in this sandbox` } });
  }
}

function handle(m: ToSandbox, payload: string): void {
  if (m.t !== "invoke" && m.t !== "capr") runQueued();
  switch (m.t) {
    case "activate":
      return activate(m, payload);
    case "invoke": {
      const mod = modules.get(m.id);
      if (!mod) return send({ t: "done", rq: m.rq, err: { code: "module_unavailable", message: `module '${m.id}' is not active in this sandbox` } });
      const nl = payload.indexOf("\n");
      const batch = batchOf(mod);
      batch.invoke(m.rq, String(m.name), payload.slice(nl + 1), payload.slice(0, nl));
      if (batch.size >= MAX_BATCH) runQueued();
      return;
    }
    case "capr": {
      const route = capRoutes.get(m.rq);
      if (!route) return;
      capRoutes.delete(m.rq);
      route.mod.caps--;
      // The module may have been replaced meanwhile: the reply goes only to the isolate that asked.
      if (modules.get(route.id) !== route.mod) return;
      const batch = batchOf(route.mod);
      batch.reply(route.isolateRq, payload, m.err);
      if (batch.size >= MAX_BATCH) runQueued();
      return;
    }
    case "event":
      modules.get(m.id)?.iso.deliver(m.sub, m.event, payload);
      return;
    case "deactivate": {
      const mod = modules.get(m.id);
      if (!mod) return send({ t: "done", rq: m.rq });
      // The module's deactivate() may await host calls: the isolate goes once that call settles.
      deactivating.set(m.rq, m.id);
      mod.iso.deactivate(m.rq);
      return;
    }
    case "stats": {
      const out: Record<string, { cpuMs: number; heap: number }> = {};
      for (const [id, mod] of modules) out[id] = { cpuMs: mod.iso.cpuMs, heap: mod.iso.heapBytes };
      return send({ t: "stats", rq: m.rq, modules: out });
    }
  }
}

let lastFrame = 0n;
let spinUntil = 0n;
let spinning = false;

function spin(): void {
  if (process.hrtime.bigint() < spinUntil) setImmediate(spin);
  else spinning = false;
}

/** Replies are not held back behind a long batch of work. */
let batchStart = 0;
const reader = new FrameReader(
  MAX_MESSAGE_BYTES + 64 * 1024,
  (header, payload) => {
    handle(header as ToSandbox, payload);
    if (performance.now() - batchStart > 2) {
      runQueued();
      writer.flush();
      batchStart = performance.now();
    }
  },
  (why) => {
    process.stderr.write(`sandbox: the host sent ${why}; exiting\n`);
    process.exit(70);
  },
);

input.on("data", (chunk: Buffer) => {
  const now = process.hrtime.bigint();
  const hot = now - lastFrame < HOT_GAP_NS;
  lastFrame = now;
  batchStart = performance.now();
  reader.push(chunk);
  runQueued();
  writer.flush();
  if (hot && SPIN_NS > 0n) {
    spinUntil = process.hrtime.bigint() + SPIN_NS;
    if (!spinning) {
      spinning = true;
      setImmediate(spin);
    }
  }
});
input.on("end", () => process.exit(0));
input.on("error", () => process.exit(0));
output.on("error", () => process.exit(0));
// Ctrl-C reaches the whole process group; the host decides when sandboxes stop (after draining).
process.on("SIGINT", () => {});
// A heartbeat: a process whose event loop stops turning is seen as hung and replaced.
setInterval(() => send({ t: "beat" }), 1000);
send({ t: "ready", pid: process.pid });
