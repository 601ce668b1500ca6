// Console sessions: one-time login codes and the sessions they open. Codes and session secrets are
// random (256 bits) and kept only as sha256 digests in the module's storage (durable, and shared by
// a fleet's hosts); a browser holds `<id>.<secret>` in an HttpOnly cookie. A session ends when it is
// revoked or idle longer than console.idle_minutes.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { StorageApi } from "../../sdk/context.js";

export interface SessionRecord {
  id: string;
  digest: string;
  scopes: string[];
  /** How it was opened: `code` (a login URL from `warden console`) or `token:<id>`. */
  via: string;
  client: string;
  created_at: string;
  last_seen: string;
}

export interface SessionSettings {
  idle_minutes: number;
  code_seconds: number;
  max_sessions: number;
}

export type SessionFailure = { code: "session_expired" | "login_code_invalid" | "unauthorized"; message: string };

export class SessionError extends Error {
  constructor(readonly code: SessionFailure["code"], message: string) {
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

export class SessionStore {
  readonly #storage: StorageApi;
  readonly #settings: () => SessionSettings;
  readonly #now: () => number;
  /** Sessions recently read or written, with when they were last read from storage. */
  readonly #cache = new Map<string, { record: SessionRecord; checked: number; touched: number }>();

  constructor(storage: StorageApi, settings: () => SessionSettings, now: () => number = Date.now) {
    this.#storage = storage;
    this.#settings = settings;
    this.#now = now;
  }

  /**
   * A one-time login code, valid for console.code_seconds, for a session with `scopes`: those of
   * whoever asked for it (the operator's "*", a token's or a session's own), never more.
   */
  async issueCode(scopes: string[], by: string): Promise<{ code: string; expires_at: string }> {
    await this.#pruneCodes();
    const code = randomBytes(32).toString("base64url");
    const expires_at = new Date(this.#now() + this.#settings().code_seconds * 1000).toISOString();
    await this.#storage.set(`${CODE}${digest(code)}`, { expires_at, scopes: [...scopes], by });
    return { code, expires_at };
  }

  /** Spends a login code (once: it is deleted before the session exists) and opens a session with its scopes. */
  async login(code: string, client: string): Promise<{ record: SessionRecord; cookie: string }> {
    if (typeof code !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(code)) throw new SessionError("login_code_invalid", "this login URL is not valid; run `warden console` for a new one");
    const key = `${CODE}${digest(code)}`;
    const entry = (await this.#storage.get(key)) as { expires_at?: string; scopes?: string[]; by?: string } | undefined;
    // Deleted first: of two requests racing with one code, only the one whose delete found it wins.
    const existed = entry !== undefined && (await this.#storage.delete(key));
    if (!existed) throw new SessionError("login_code_invalid", "this login URL was already used or never issued; run `warden console` for a new one");
    if (Date.parse(String(entry.expires_at)) <= this.#now()) throw new SessionError("login_code_invalid", "this login URL has expired; run `warden console` for a new one");
    const scopes = Array.isArray(entry.scopes) ? entry.scopes.filter((s): s is string => typeof s === "string") : [];
    if (scopes.length === 0) throw new SessionError("login_code_invalid", "this login URL carries no scopes; run `warden console` for a new one");
    return this.#open(scopes, `code:${entry.by ?? "?"}`, client);
  }

  /** Opens a session with a verified token's scopes (the caller checked the console scope). */
  openForToken(tokenId: string, scopes: string[], client: string): Promise<{ record: SessionRecord; cookie: string }> {
    return this.#open(scopes, `token:${tokenId}`, client);
  }

  async #open(scopes: string[], via: string, client: string): Promise<{ record: SessionRecord; cookie: string }> {
    await this.#evictOverLimit();
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const now = new Date(this.#now()).toISOString();
    const record: SessionRecord = { id, digest: digest(secret), scopes: [...scopes], via, client: client.slice(0, 100), created_at: now, last_seen: now };
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
    const a = Buffer.from(hit.record.digest, "hex");
    const b = Buffer.from(digest(secret), "hex");
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new SessionError("unauthorized", "not logged in to the console; run `warden console` for a login URL");
    if (now - hit.touched > this.#settings().idle_minutes * 60_000) {
      await this.end(id);
      throw new SessionError("session_expired", `this console session was idle for more than ${this.#settings().idle_minutes} minutes; log in again with \`warden console\``);
    }
    if (now - Date.parse(hit.record.last_seen) > TOUCH_MS) {
      hit.record = { ...hit.record, last_seen: new Date(now).toISOString() };
      await this.#storage.set(`${SESSION}${id}`, hit.record as never);
    }
    hit.touched = now;
    return hit.record;
  }

  /** Ends a session; whether it existed. */
  async end(id: string): Promise<boolean> {
    this.#cache.delete(id);
    return this.#storage.delete(`${SESSION}${id}`);
  }

  async list(): Promise<Array<Omit<SessionRecord, "digest"> & { idle_expires_at: string }>> {
    const out = [];
    for (const key of await this.#storage.list(SESSION, 10_000)) {
      const r = (await this.#storage.get(key)) as SessionRecord | undefined;
      if (!r) continue;
      const { digest: _d, ...shown } = r;
      const seen = Math.max(Date.parse(r.last_seen), this.#cache.get(r.id)?.touched ?? 0);
      out.push({ ...shown, last_seen: new Date(seen).toISOString(), idle_expires_at: new Date(seen + this.#settings().idle_minutes * 60_000).toISOString() });
    }
    return out.sort((x, y) => x.created_at.localeCompare(y.created_at));
  }

  /** Login codes nobody used go once they expire (an operator may ask for many). */
  async #pruneCodes(): Promise<void> {
    for (const key of await this.#storage.list(CODE, 1000)) {
      const e = (await this.#storage.get(key)) as { expires_at?: string } | undefined;
      if (!e || Date.parse(String(e.expires_at)) <= this.#now()) await this.#storage.delete(key);
    }
  }

  /** Keeps at most max_sessions - 1 before one more opens: the least recently used go. */
  async #evictOverLimit(): Promise<void> {
    const all = await this.list();
    const over = all.length - (this.#settings().max_sessions - 1);
    if (over <= 0) return;
    for (const s of all.sort((x, y) => x.last_seen.localeCompare(y.last_seen)).slice(0, over)) await this.end(s.id);
  }
}
