// The CLI side: when a host is serving this home, commands go through its control socket.
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { HostError, isErrorCode } from "../base/errors.js";
import { readControlToken, socketPath, type ControlRequest, type ControlResponse } from "./protocol.js";

export function servingHostPresent(home: string): boolean {
  return existsSync(socketPath(home));
}

/** Sends one request; resolves undefined when no host is listening (the CLI then runs in-process). */
export async function controlRequest(home: string, request: ControlRequest extends infer R ? (R extends unknown ? Omit<R, "token"> : never) : never): Promise<ControlResponse | undefined> {
  const path = socketPath(home);
  if (!existsSync(path)) return undefined;
  const token = readControlToken(home);
  if (token === undefined) {
    throw new HostError("unauthorized", `a host is serving ${home} but its bootstrap token is unreadable; run the CLI as the home's owner`);
  }
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let data = "";
    socket.setEncoding("utf8");
    socket.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT") resolve(undefined);
      else reject(e);
    });
    socket.on("data", (c: string) => (data += c));
    socket.on("end", () => {
      try {
        resolve(JSON.parse(data));
      } catch {
        reject(new HostError("internal", "the serving host sent an unreadable reply"));
      }
    });
    socket.on("connect", () => socket.write(JSON.stringify({ ...request, token }) + "\n"));
  });
}

export function responseError(r: Extract<ControlResponse, { ok: false }>): HostError {
  const { code, message, details, reason, retry_after } = r.error;
  return new HostError(isErrorCode(code) ? code : "internal", message, {
    ...(details !== undefined ? { details } : {}),
    ...(typeof reason === "string" ? { reason } : {}),
    ...(typeof retry_after === "number" ? { retryAfter: retry_after } : {}),
  });
}
