// `warden serve` listens here so that CLI commands for the same home run in the serving process
// (a lockdown or a revoke takes effect at once).
import { timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { HostError, toHostError } from "../errors.js";
import { bootstrapTokenPath, MAX_CONTROL_BYTES, socketPath, type ControlRequest, type ControlResponse } from "./protocol.js";

export interface ControlHandlers {
  call(command: string, input: unknown): Promise<unknown>;
  status(): unknown;
  /** The serving host's commands and module descriptions, so the CLI's help and parsing match it. */
  catalogue(): unknown;
}

function tokenMatches(home: string, presented: unknown): boolean {
  if (typeof presented !== "string") return false;
  let expected: string;
  try {
    expected = readFileSync(bootstrapTokenPath(home), "utf8").trim();
  } catch {
    return false;
  }
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export async function startControlServer(home: string, handlers: ControlHandlers): Promise<Server> {
  const path = socketPath(home);
  if (existsSync(path)) {
    if (await isLive(path)) throw new HostError("usage", `a host is already serving this home (${path}); stop it first or use another --home`);
    unlinkSync(path); // stale, from a host that died
  }
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    let buffer = "";
    socket.setEncoding("utf8");
    socket.setTimeout(60_000, () => socket.destroy());
    const reply = (r: ControlResponse) => socket.end(JSON.stringify(r) + "\n");
    socket.on("data", async (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_CONTROL_BYTES) return reply({ ok: false, error: { code: "payload_too_large", message: "control request too large" } });
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      socket.pause();
      let req: ControlRequest;
      try {
        req = JSON.parse(buffer.slice(0, nl));
      } catch {
        return reply({ ok: false, error: { code: "malformed_request", message: "control request is not JSON" } });
      }
      if (!tokenMatches(home, (req as { token?: unknown }).token)) {
        return reply({ ok: false, error: { code: "unauthorized", message: "the control socket needs this home's bootstrap token" } });
      }
      try {
        if (req.op === "status") return reply({ ok: true, result: handlers.status() });
        if (req.op === "catalogue") return reply({ ok: true, result: handlers.catalogue() });
        if (req.op === "call" && typeof req.command === "string") return reply({ ok: true, result: await handlers.call(req.command, req.input) });
        reply({ ok: false, error: { code: "malformed_request", message: "unknown control operation" } });
      } catch (e) {
        reply({ ok: false, error: toHostError(e).toJSON() });
      }
    });
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

export async function stopControlServer(server: Server, home: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    unlinkSync(socketPath(home));
  } catch {
    // already gone
  }
}
