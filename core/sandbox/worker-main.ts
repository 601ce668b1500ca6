// The entry of a sandbox process (a child of the host, started with --no-node-snapshot). It owns
// the isolates of the modules placed on it and relays their capability calls to the host over IPC.
import type { FromWorker, ToWorker, WireError } from "./messages.js";
import { CallFailure, ModuleIsolate } from "./module-isolate.js";

const isolates = new Map<string, ModuleIsolate>();
/** Host request number -> the isolate call waiting for it. */
const pendingCaps = new Map<number, { iso: ModuleIsolate; rq: number }>();
let capSeq = 0;
const LOG_BUDGET = 200; // lines per module per second; a flood is dropped here, not in the host
const logCounts = new Map<string, { second: number; n: number; dropped: number }>();

const send = (m: FromWorker): void => void process.send!(m);

function failure(e: unknown): WireError {
  if (e instanceof CallFailure) return e.wire;
  return { code: "module_error", message: String((e as Error)?.message ?? e).slice(0, 2000) };
}

function allowLog(id: string): boolean {
  const sec = Math.floor(Date.now() / 1000);
  const c = logCounts.get(id) ?? { second: sec, n: 0, dropped: 0 };
  if (c.second !== sec) {
    if (c.dropped > 0) send({ t: "log", id, level: "warn", msg: `dropped ${c.dropped} log lines over the limit of ${LOG_BUDGET}/s` });
    c.second = sec;
    c.n = 0;
    c.dropped = 0;
  }
  c.n++;
  if (c.n > LOG_BUDGET) c.dropped++;
  logCounts.set(id, c);
  return c.n <= LOG_BUDGET;
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.t) {
    case "activate": {
      isolates.get(m.id)?.dispose();
      const iso = new ModuleIsolate(m.setup, m.limits, {
        capability: (isoRq, method, args) => {
          if (isoRq === 0) return void send({ t: "cap", id: m.id, rq: 0, method, args }); // a denial to audit
          const rq = ++capSeq;
          pendingCaps.set(rq, { iso, rq: isoRq });
          send({ t: "cap", id: m.id, rq, method, args });
        },
        notify: (kind, payload) => {
          if (kind === "register") send({ t: "register", id: m.id, name: payload });
          else if (kind === "log" && allowLog(m.id)) {
            const [level, msg, data] = JSON.parse(payload) as [FromWorker & { t: "log" } extends { level: infer L } ? L : never, string, string | undefined];
            send({ t: "log", id: m.id, level, msg, ...(data ? { data } : {}) });
          }
        },
        died: (reason, message) => send({ t: "dead", id: m.id, reason, message }),
      });
      isolates.set(m.id, iso);
      try {
        await iso.load(m.code, m.codeHash, m.filename);
        send({ t: "done", rq: m.rq });
      } catch (e) {
        iso.dispose();
        isolates.delete(m.id);
        send({ t: "done", rq: m.rq, err: failure(e) });
      }
      return;
    }
    case "invoke": {
      const iso = isolates.get(m.id);
      if (!iso) return send({ t: "done", rq: m.rq, err: { code: "module_unavailable", message: `module '${m.id}' is not active in this sandbox` } });
      try {
        const r = await iso.invoke(m.name, m.input, m.call);
        send({ t: "done", rq: m.rq, r });
      } catch (e) {
        if (iso.dead) isolates.delete(m.id);
        send({ t: "done", rq: m.rq, err: failure(e) });
      }
      return;
    }
    case "capr": {
      const p = pendingCaps.get(m.rq);
      pendingCaps.delete(m.rq);
      p?.iso.reply(p.rq, m.r);
      return;
    }
    case "event":
      isolates.get(m.id)?.deliver(m.sub, m.event, m.payload);
      return;
    case "deactivate": {
      const iso = isolates.get(m.id);
      isolates.delete(m.id);
      await iso?.deactivate();
      send({ t: "done", rq: m.rq });
      return;
    }
    case "stats": {
      const modules: Record<string, { cpuMs: number; heap: number }> = {};
      for (const [id, iso] of isolates) modules[id] = { cpuMs: iso.cpuMs, heap: iso.heapBytes };
      send({ t: "stats", rq: m.rq, modules });
      return;
    }
  }
}

process.on("message", (m: ToWorker) => {
  handle(m).catch((e) => {
    if ("rq" in m && m.t !== "capr") send({ t: "done", rq: m.rq, err: failure(e) });
  });
});
process.on("disconnect", () => process.exit(0));
// Ctrl-C reaches the whole process group; the host decides when sandboxes stop (after draining).
process.on("SIGINT", () => {});
send({ t: "ready" });
