// Console sessions: one-time login codes and the sessions they open. Codes and session secrets are
// random (256 bits) and kept only as sha256 digests in the module's storage (durable, and shared by
// a fleet's hosts); a browser holds `<id>.<secret>` in an HttpOnly cookie.
//
// A session ends when it is revoked, idle longer than console.idle_minutes, older than
// console.max_hours, or when the token behind it (the one that logged in, or the one that asked for
// the login URL) is revoked, rotated or expires.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { StorageApi } from "../../sdk/context.js";

/** The token a session or a login code stands on: its id and a fingerprint of its current secret. */
export interface TokenBond {
  id: string;
  credential: string;
}

export interface SessionRecord {
  id: string;
  digest: string;
  scopes: string[];
  /** Who opened it: `code:operator:local`, `code:token:<id>`, `code:console:<id>` or `token:<id>`. */
  via: string;
  /** The token it stands on, when a token opened it or asked for its login URL. */
  token?: TokenBond;
  client: string;
  created_at: string;
  last_seen: string;
}

export interface SessionSettings {
  idle_minutes: number;
  max_hours: number;
  code_seconds: number;
  max_sessions: number;
}

export interface SessionHooks {
  /** The current credential fingerprint of a live token; undefined once it is revoked or expired. */
  credential(tokenId: string): Promise<string | undefined>;
  /** A session ended by the store itself (idle, too old, its token gone, room made): audited. */
  ended(id: string, reason: "idle" | "lifetime" | "token" | "evicted"): Promise<void>;
}

export class SessionError extends Error {
  constructor(readonly code: "session_expired" | "login_code_invalid" | "unauthorized" | "rate_limited", message: string) {
    super(message);
  }
}

const digest = (secret: string) => createHash("sha256").update(secret).digest("hex");
const SESSION = "session:";
const CODE = "code:";
/** last_seen is written back at most this often per session (every request would be a write). */
const TOUCH_MS = 30_000;
/** A session read from storage is trusted this long before it is read again (a revoke on another host). */
const RECHECK_MS = 2_000;
/** Unused login URLs at once: an operator needs a few; a token that may ask for them gets no more. */
export const MAX_CODES = 32;

interface CodeRecord {
  expires_at: string;
  scopes: string[];
  by: string;
  token?: TokenBond;
}

export class SessionStore {
  readonly #storage: StorageApi;
  readonly #settings: () => SessionSettings;
  readonly #now: () => number;
  readonly #hooks: SessionHooks;
  /** Sessions recently read or written, with when they were last read from storage. */
  readonly #cache = new Map<string, { record: SessionRecord; checked: number; touched: number }>();

  constructor(storage: StorageApi, settings: () => SessionSettings, hooks: SessionHooks, now: () => number = Date.now) {
    this.#storage = storage;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#now = now;
  }

  /**
   * A one-time login code, valid for console.code_seconds, for a session with `scopes`: those of
   * whoever asked for it (the operator's "*", a token's or a session's own), never more. `token`: the
   * token that asked (directly or through its session); the code dies with it.
   */
  async issueCode(scopes: string[], by: string, token?: TokenBond): Promise<{ code: string; expires_at: string }> {
    if ((await this.#pruneCodes()) >= MAX_CODES) {
      throw new SessionError("rate_limited", `${MAX_CODES} login URLs are waiting to be used; wait for them to expire (console.code_seconds) or use one`);
    }
    const code = randomBytes(32).toString("base64url");
    const expires_at = new Date(this.#now() + this.#settings().code_seconds * 1000).toISOString();
    const record: CodeRecord = { expires_at, scopes: [...scopes], by, ...(token ? { token } : {}) };
    await this.#storage.set(`${CODE}${digest(code)}`, record as never);
    return { code, expires_at };
  }

  /** Spends a login code (once: it is deleted before the session exists) and opens a session with its scopes. */
  async login(code: string, client: string): Promise<{ record: SessionRecord; cookie: string }> {
    if (typeof code !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(code)) throw new SessionError("login_code_invalid", "this login URL is not valid; run `warden console` for a new one");
    const key = `${CODE}${digest(code)}`;
    const entry = (await this.#storage.get(key)) as Partial<CodeRecord> | undefined;
    // Deleted first: of two requests racing with one code, only the one whose delete found it wins.
    const existed = entry !== undefined && (await this.#storage.delete(key));
    if (!existed) throw new SessionError("login_code_invalid", "this login URL was already used or never issued; run `warden console` for a new one");
    if (Date.parse(String(entry.expires_at)) <= this.#now()) throw new SessionError("login_code_invalid", "this login URL has expired; run `warden console` for a new one");
    const scopes = Array.isArray(entry.scopes) ? entry.scopes.filter((s): s is string => typeof s === "string") : [];
    if (scopes.length === 0) throw new SessionError("login_code_invalid", "this login URL carries no scopes; run `warden console` for a new one");
    if (entry.token && !(await this.#bonded(entry.token))) {
      throw new SessionError("login_code_invalid", "the token that asked for this login URL was revoked, rotated or has expired; run `warden console` for a new one");
    }
    return this.#open(scopes, `code:${entry.by ?? "?"}`, client, entry.token);
  }

  /** Opens a session with a verified token's scopes (the caller checked the console.login scope). */
  openForToken(token: TokenBond, scopes: string[], client: string): Promise<{ record: SessionRecord; cookie: string }> {
    return this.#open(scopes, `token:${token.id}`, client, token);
  }

  async #open(scopes: string[], via: string, client: string, token: TokenBond | undefined): Promise<{ record: SessionRecord; cookie: string }> {
    await this.#makeRoom(via);
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const now = new Date(this.#now()).toISOString();
    const record: SessionRecord = { id, digest: digest(secret), scopes: [...scopes], via, ...(token ? { token } : {}), client: client.slice(0, 100), created_at: now, last_seen: now };
    await this.#storage.set(`${SESSION}${id}`, record as never);
    this.#cache.set(id, { record, checked: this.#now(), touched: this.#now() });
    return { record, cookie: `${id}.${secret}` };
  }

  /** The session a cookie names, or why it cannot be used. Marks it used. */
  async verify(cookie: string): Promise<SessionRecord> {
    const m = /^([a-f0-9]{16})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!m) throw new SessionError("unauthorized", "not logged in to the console; run `warden console` for a login URL");
    const [, id, secret] = m as unknown as [string, string, string];
    const now = this.#now();
    let hit = this.#cache.get(id);
    if (!hit || now - hit.checked > RECHECK_MS) {
      const record = (await this.#storage.get(`${SESSION}${id}`)) as SessionRecord | undefined;
      if (!record) {
        this.#cache.delete(id);
        throw new SessionError("session_expired", "this console session was revoked or has ended; log in again with `warden console`");
      }
      // The later of the stored and the locally seen use (another host may have seen it since).
      const touched = Math.max(hit?.touched ?? 0, Date.parse(record.last_seen));
      hit = { record, checked: now, touched };
      this.#cache.set(id, hit);
    }
    // Every time, not only on a re-read: a revoke on this host bites on the session's next request.
    if (hit.record.token && !(await this.#bonded(hit.record.token))) {
      await this.#end(id, "token");
      throw new SessionError("session_expired", "the token behind this console session was revoked, rotated or has expired; log in again");
    }
    const a = Buffer.from(hit.record.digest, "hex");
    const b = Buffer.from(digest(secret), "hex");
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new SessionError("unauthorized", "not logged in to the console; run `warden console` for a login URL");
    const s = this.#settings();
    if (now - hit.touched > s.idle_minutes * 60_000) {
      await this.#end(id, "idle");
      throw new SessionError("session_expired", `this console session was idle for more than ${s.idle_minutes} minutes; log in again with \`warden console\``);
    }
    if (now - Date.parse(hit.record.created_at) > s.max_hours * 3_600_000) {
      await this.#end(id, "lifetime");
      throw new SessionError("session_expired", `console sessions last at most ${s.max_hours} hours (console.max_hours); log in again with \`warden console\``);
    }
    if (now - Date.parse(hit.record.last_seen) > TOUCH_MS) {
      hit.record = { ...hit.record, last_seen: new Date(now).toISOString() };
      await this.#storage.set(`${SESSION}${id}`, hit.record as never);
    }
    hit.touched = now;
    return hit.record;
  }

  /** A session's stored record (its secret's digest included: for this module's own use). */
  async recordOf(id: string): Promise<SessionRecord | undefined> {
    return (await this.#storage.get(`${SESSION}${id}`)) as SessionRecord | undefined;
  }

  /** Ends a session; whether it existed. */
  async end(id: string): Promise<boolean> {
    this.#cache.delete(id);
    return this.#storage.delete(`${SESSION}${id}`);
  }

  async #end(id: string, reason: Parameters<SessionHooks["ended"]>[1]): Promise<void> {
    if (await this.end(id)) await this.#hooks.ended(id, reason);
  }

  async list(): Promise<Array<Omit<SessionRecord, "digest" | "token"> & { token_id: string | null; idle_expires_at: string }>> {
    const out = [];
    for (const key of await this.#storage.list(SESSION, 10_000)) {
      const r = (await this.#storage.get(key)) as SessionRecord | undefined;
      if (!r) continue;
      const { digest: _d, token, ...shown } = r;
      const seen = Math.max(Date.parse(r.last_seen), this.#cache.get(r.id)?.touched ?? 0);
      out.push({ ...shown, token_id: token?.id ?? null, last_seen: new Date(seen).toISOString(), idle_expires_at: new Date(seen + this.#settings().idle_minutes * 60_000).toISOString() });
    }
    return out.sort((x, y) => x.created_at.localeCompare(y.created_at));
  }

  async #bonded(token: TokenBond): Promise<boolean> {
    return (await this.#hooks.credential(token.id)) === token.credential;
  }

  /** Login codes nobody used go once they expire; how many are still waiting. */
  async #pruneCodes(): Promise<number> {
    let waiting = 0;
    for (const key of await this.#storage.list(CODE, MAX_CODES * 2)) {
      const e = (await this.#storage.get(key)) as { expires_at?: string } | undefined;
      if (!e || Date.parse(String(e.expires_at)) <= this.#now()) await this.#storage.delete(key);
      else waiting++;
    }
    return waiting;
  }

  /**
   * At most max_sessions are open. To make room, a principal (the operator's login URLs, one token)
   * gives up its own least recently used session, never someone else's; with none to give, the
   * login is refused.
   */
  async #makeRoom(via: string): Promise<void> {
    const all = await this.list();
    if (all.length < this.#settings().max_sessions) return;
    const principal = (v: string) => v.replace(/^code:/, "").replace(/^console:.*/, "console");
    const mine = all.filter((s) => principal(s.via) === principal(via)).sort((x, y) => x.last_seen.localeCompare(y.last_seen));
    const over = all.length - (this.#settings().max_sessions - 1);
    if (mine.length < over) {
      throw new SessionError("rate_limited", `the console has ${all.length} open sessions (console.max_sessions); end some with \`warden console revoke <id>\``);
    }
    for (const s of mine.slice(0, over)) await this.#end(s.id, "evicted");
  }
}
