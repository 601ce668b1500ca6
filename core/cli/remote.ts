// The CLI against a host on another machine (`warden login URL`, then `--addr URL` or WARDEN_ADDR):
// every command runs over REST as the signed-in operator. The credentials (a short-lived access
// token and a refresh token) are kept 0600 in $XDG_CONFIG_HOME/warden/credentials.json, per host.
// An access token about to lapse is refreshed first (the refresh token rotates each time); two CLI
// processes refreshing at once take turns on a lock file, so neither presents a spent token (which
// the host would take for theft and answer by ending the session).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { isLoopbackHost } from "../../sdk/system/bound-addresses.js";
import type { CommandInfo } from "../../sdk/context.js";
import type { CliTokens } from "../../sdk/system/services.js";
import { HostError, isErrorCode } from "../base/errors.js";

/** What the host answers a sign-in or refresh with, kept as it came. */
export type Saved = CliTokens;

type CredentialsFile = { hosts: Record<string, Saved> };

/** Refresh this long before the access token lapses. */
const EARLY_MS = 30_000;
const LOCK_STALE_MS = 30_000;

export function configDir(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "warden");
}
const credentialsFile = () => join(configDir(), "credentials.json");

/** The host's origin; plain HTTP only to loopback, unless `insecure`. */
export function hostOrigin(addr: string, insecure: boolean): string {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw new HostError("usage", `'${addr.slice(0, 200)}' is not a URL; give the host's address like https://warden.example.com:8443`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new HostError("usage", `'${addr.slice(0, 200)}' is not an http(s) URL`);
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname) && !insecure)
    throw new HostError(
      "usage",
      `refusing plain HTTP to ${url.host}: tokens would cross the network in the clear. Use https:// (api.tls_cert and api.tls_key on the host), or --insecure if you accept that`,
    );
  return url.origin;
}

function readAll(): CredentialsFile {
  try {
    const parsed = JSON.parse(readFileSync(credentialsFile(), "utf8")) as Partial<CredentialsFile>;
    return { hosts: parsed.hosts && typeof parsed.hosts === "object" ? parsed.hosts : {} };
  } catch {
    return { hosts: {} };
  }
}

function writeAll(file: CredentialsFile): void {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const tmp = `${credentialsFile()}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, credentialsFile());
}

/** The hosts this CLI holds a session with. */
export function signedInHosts(): string[] {
  return Object.keys(readAll().hosts).sort();
}

export function savedFor(origin: string): Saved | undefined {
  return readAll().hosts[origin];
}

export function save(origin: string, saved: Saved | undefined): void {
  const all = readAll();
  if (saved) all.hosts[origin] = saved;
  else delete all.hosts[origin];
  writeAll(all);
}

/** Runs `fn` holding the credentials lock (one CLI process refreshes at a time). */
async function locked<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const lock = join(configDir(), "credentials.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // A CLI that died holding it leaves it behind; after LOCK_STALE_MS it is taken over.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
      else if (attempt > 200) throw new HostError("usage", `another warden process holds ${lock}; remove it if none is running`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    unlinkSync(lock);
  }
}

/** One REST request; a refusal becomes a HostError with the host's code and message. */
export async function request(origin: string, method: "GET" | "POST", path: string, o: { token?: string; body?: unknown } = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${origin}${path}`, {
      method,
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
  } catch (e) {
    throw new HostError("module_unavailable", `cannot reach ${origin}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    throw new HostError("internal", `${origin} answered ${res.status} with something that is not JSON; is it a Warden host?`);
  }
  if (res.ok) return json;
  const err = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
  const code = err?.code && isErrorCode(err.code) ? err.code : "internal";
  throw new HostError(code, err?.message ?? `${origin} answered ${res.status}`, err?.details ? { details: err.details } : {});
}

/** The access token to use now: refreshed first when it is about to lapse (or `force`). */
async function accessToken(origin: string, force = false): Promise<string> {
  const current = savedFor(origin);
  if (!current) throw new HostError("unauthorized", `not signed in to ${origin}; run \`warden login ${origin}\``);
  if (!force && Date.parse(current.access_expires_at) - Date.now() > EARLY_MS) return current.access_token;
  return locked(async () => {
    // Another process may have refreshed while this one waited: use its tokens.
    const now = savedFor(origin);
    if (!now) throw new HostError("unauthorized", `not signed in to ${origin}; run \`warden login ${origin}\``);
    if (now.refresh_token !== current.refresh_token || (!force && Date.parse(now.access_expires_at) - Date.now() > EARLY_MS)) return now.access_token;
    try {
      const fresh = (await request(origin, "POST", "/api/v1/login/refresh", { body: { refresh_token: now.refresh_token } })) as Saved;
      save(origin, fresh);
      return fresh.access_token;
    } catch (e) {
      if (e instanceof HostError && e.spec.http === 401) save(origin, undefined);
      throw e;
    }
  });
}

/** A request as the signed-in operator; an access token the host no longer takes is refreshed once. */
async function asOperator(origin: string, send: (token: string) => Promise<unknown>): Promise<unknown> {
  try {
    return await send(await accessToken(origin));
  } catch (e) {
    if (!(e instanceof HostError) || (e.code !== "token_expired" && e.code !== "unauthorized")) throw e;
    return send(await accessToken(origin, true));
  }
}

/** A command over REST as the signed-in operator. */
export function remoteCall(origin: string, command: string, input: unknown): Promise<unknown> {
  return asOperator(origin, (token) => request(origin, "POST", `/api/v1/${command.replace(".", "/")}`, { token, body: input }));
}

/** The host's commands, for the CLI's command tree. */
export async function remoteCatalogue(origin: string): Promise<CommandInfo[]> {
  const answer = (await asOperator(origin, (token) => request(origin, "GET", "/api/v1/catalogue", { token }))) as { commands: CommandInfo[] };
  return answer.commands;
}

/** `warden login URL`: a device sign-in an operator approves in the console; the tokens are saved. */
export async function login(origin: string, say: (line: string) => void): Promise<Saved> {
  const started = (await request(origin, "POST", "/api/v1/login/device", { body: {} })) as { device_code: string; user_code: string; expires_in: number; interval: number };
  say(`To sign in, open ${origin}/console/#/pair?code=${started.user_code}`);
  say(`sign in to the console as yourself, and approve the code ${started.user_code} (it is valid for ${Math.round(started.expires_in / 60)} minutes).`);
  const deadline = Date.now() + started.expires_in * 1000;
  for (;;) {
    try {
      const tokens = (await request(origin, "POST", "/api/v1/login/token", { body: { device_code: started.device_code } })) as Saved;
      save(origin, tokens);
      return tokens;
    } catch (e) {
      if (!(e instanceof HostError) || e.code !== "authorization_pending" || Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, started.interval * 1000));
  }
}

/** `warden logout`: the host ends the CLI session (its whole family of tokens), and the saved tokens go. */
export async function logout(origin: string): Promise<{ host: string; ended: boolean }> {
  const saved = savedFor(origin);
  if (!saved) return { host: origin, ended: false };
  try {
    const r = (await request(origin, "POST", "/api/v1/login/logout", { body: { refresh_token: saved.refresh_token } })) as { ended: boolean };
    return { host: origin, ended: r.ended };
  } finally {
    save(origin, undefined);
  }
}
