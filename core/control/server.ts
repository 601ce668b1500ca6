// `warden serve` listens here so that CLI commands for the same home run in the serving process
// (a lockdown or a revoke takes effect at once).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, unlinkSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { HostError, toHostError } from "../errors.js";
import type { ErrorCode } from "../../sdk/errors.js";
import { bootstrapTokenPath, controlTokenPath, readControlToken, CONTROL_REQUEST_TIMEOUT_MS, MAX_CONTROL_BYTES, MAX_CONTROL_CONNECTIONS, parseControlRequest, socketPath, type ControlResponse } from "./protocol.js";

export interface ControlHandlers {
  call(command: string, input: unknown): Promise<unknown>;
  status(): unknown | Promise<unknown>;
  /** The serving host's commands and module descriptions, so the CLI's help and parsing match it. */
  catalogue(): unknown;
  /** Told of an error that was not a HostError (it is answered as one, with its error id). */
  onError?(e: unknown): void;
}

function tokenMatches(home: string, presented: unknown): boolean {
  if (typeof presented !== "string") return false;
  const expected = readControlToken(home);
  if (expected === undefined) return false;
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
  if (!existsSync(bootstrapTokenPath(home))) writeFileSync(controlTokenPath(home), randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    // Before authentication a connection costs at most MAX_CONTROL_BYTES of buffer and
    // CONTROL_REQUEST_TIMEOUT_MS; the line end is searched for in each new chunk only.
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    socket.setTimeout(CONTROL_REQUEST_TIMEOUT_MS, () => socket.destroy());
    const reply = (r: ControlResponse) => {
      done = true;
      if (!socket.destroyed) socket.end(JSON.stringify(r) + "\n");
    };
    const refuse = (code: ErrorCode, message: string) => reply({ ok: false, error: { code, message } });
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      const nl = chunk.indexOf(0x0a);
      const take = nl < 0 ? chunk : chunk.subarray(0, nl);
      size += take.length;
      if (size > MAX_CONTROL_BYTES) return refuse("payload_too_large", `a control request is at most ${MAX_CONTROL_BYTES} bytes`);
      chunks.push(take);
      if (nl < 0) return;
      done = true;
      socket.pause();
      socket.setTimeout(0);
      const line = Buffer.concat(chunks).toString("utf8");
      chunks.length = 0;
      serve(line).then(reply, (e) => {
        handlers.onError?.(e);
        reply({ ok: false, error: toHostError(e).toJSON() });
      });
    });
    socket.on("error", () => socket.destroy());
  });
  server.maxConnections = MAX_CONTROL_CONNECTIONS;

  /** One request line, checked for shape and token before anything in it is used. */
  const serve = async (line: string): Promise<ControlResponse> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { ok: false, error: { code: "malformed_request", message: "control request is not JSON" } };
    }
    const req = parseControlRequest(parsed);
    if (typeof req === "string") return { ok: false, error: { code: "malformed_request", message: req } };
    if (!tokenMatches(home, req.token)) return { ok: false, error: { code: "unauthorized", message: "the control socket needs this home's bootstrap token" } };
    if (req.op === "status") return { ok: true, result: await handlers.status() };
    if (req.op === "catalogue") return { ok: true, result: handlers.catalogue() };
    return { ok: true, result: await handlers.call(req.command, req.input) };
  };

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
