// `warden serve` listens here so that CLI commands for the same home run in the serving process
// (a lockdown or a revoke takes effect at once).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, unlinkSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { HostError } from "../base/errors.js";
import type { ErrorCode } from "../../sdk/errors.js";
import {
  bootstrapTokenPath,
  controlTokenPath,
  readControlToken,
  CONTROL_REQUEST_TIMEOUT_MS,
  MAX_CONTROL_BYTES,
  MAX_CONTROL_CONNECTIONS,
  parseControlRequest,
  socketPath,
  type ControlResponse,
} from "./protocol.js";

export interface ControlHandlers {
  call(command: string, input: unknown): Promise<unknown>;
  status(): unknown | Promise<unknown>;
  /** The serving host's commands and module descriptions, so the CLI's help and parsing match it. */
  catalogue(): unknown;
  /** An error that was not a HostError: logged with its cause, answered as `internal` with the id it was logged under. */
  internal(e: unknown): HostError;
  /** A refusal (a user's mistake, a denied call): logged with its code, never as an internal error. */
  refused?(e: HostError): void;
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
  // Connections waiting for their request line, oldest first. At MAX_CONTROL_CONNECTIONS the oldest
  // of them makes room: idle or half-written connections cannot lock the operator out of `status`.
  const waiting = new Set<Socket>();
  let open = 0;
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    open++;
    socket.once("close", () => {
      open--;
      waiting.delete(socket);
    });
    if (open > MAX_CONTROL_CONNECTIONS) {
      const oldest = waiting.values().next().value as Socket | undefined;
      if (!oldest) return void socket.destroy(); // every slot is running a request: this one waits its turn elsewhere
      waiting.delete(oldest);
      oldest.destroy();
    }
    waiting.add(socket);
    // Before authentication a connection costs at most MAX_CONTROL_BYTES of buffer and
    // CONTROL_REQUEST_TIMEOUT_MS; the line end is searched for in each new chunk only.
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    socket.setTimeout(CONTROL_REQUEST_TIMEOUT_MS, () => socket.destroy());
    const reply = (r: ControlResponse) => {
      done = true;
      waiting.delete(socket);
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
      waiting.delete(socket);
      socket.pause();
      socket.setTimeout(0);
      const line = Buffer.concat(chunks).toString("utf8");
      chunks.length = 0;
      serve(line).then(reply, (e) => {
        if (e instanceof HostError) handlers.refused?.(e);
        reply({ ok: false, error: (e instanceof HostError ? e : handlers.internal(e)).toJSON() });
      });
    });
    socket.on("error", () => socket.destroy());
  });

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
