// Every action of the console is a command call made as the console session: POST
// /api/v1/<module>/<command> with the session cookie and the console's header. Errors come back
// with the host's stable code and message, shown to the operator as they are.

export class CommandError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || { code: "internal", message: `the host answered ${status}` };
    super(e.message);
    this.code = e.code;
    this.status = status;
    this.details = e.details;
  }
}

let onSignedOut = () => {};
/** Called when the host says the session is over (expired, revoked, never there). */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

export async function call(command, input = {}) {
  const dot = command.indexOf(".");
  const res = await fetch(`/api/v1/${command.slice(0, dot)}/${command.slice(dot + 1)}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-warden-console": "1" },
    body: JSON.stringify(input),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new CommandError(res.status, body);
    if (res.status === 401) onSignedOut(err);
    throw err;
  }
  return body;
}

export async function loginWithToken(token) {
  const res = await fetch("/console/login", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new CommandError(res.status, body);
  return body;
}

export async function logout() {
  await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}" });
}
