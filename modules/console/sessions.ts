// Console sessions: one-time login codes and the sessions they open. Codes and session secrets are
// random (256 bits) and kept only as sha256 digests in the module's storage (durable, and shared by
// a fleet's hosts); a browser holds `<id>.<secret>` in an HttpOnly cookie.
//
// A session ends when it is revoked, idle longer than console.idle_minutes, older than
// console.max_hours, or when the token behind it (the one that logged in, or the one that asked for
// the login URL) is revoked, rotated or expires.
//
// Derived credentials never outlive their parent: a login URL asked for by a session carries that
// session's principal, token bond and absolute deadline, and names it as parent; the session it
// opens ends when its parent ends (revoke, logout, idle, lifetime), and never lives past the
// parent's deadline, however long the chain.
//
// Each request reads its session from storage (no per-host cache): a revoke or logout through any
// host of a fleet bites on the next request on every host.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { StorageApi } from "../../sdk/context.js";
import type { Settings } from "./settings.js";
import { WardenError } from "../../sdk/errors.js";
import type { SessionRecord, TokenBond } from "../../sdk/system/services.js";
import { bindAllows } from "../../sdk/system/bound-addresses.js";

/** The token a session or a login code stands on: its id and a fingerprint of its current secret. */

export type { SessionRecord, TokenBond };

/** The console's settings (its module.json's `config`). */
export type SessionSettings = Settings;

export interface SessionHooks {
  /** The current credential fingerprint of a live token; undefined once it is revoked or expired. */
  credential(tokenId: string): Promise<string | undefined>;
  /** A session ended by the store itself (idle, too old, its token or operator gone, room made): audited. */
  ended(id: string, reason: "idle" | "lifetime" | "token" | "evicted" | "parent" | "operator"): Promise<void>;
  /** Whether a named operator still exists (a session of one who was removed is over). */
  operatorExists(name: string): boolean;
  /** A bound session used from elsewhere: audited (at most once a minute per session and address). */
  addressRefused(record: SessionRecord, client: string): Promise<void>;
}

const digest = (secret: string) => createHash("sha256").update(secret).digest("hex");
const SESSION = "session:";
const CODE = "code:";
/** last_seen is written back at most this often per session (every request would be a write). */
const TOUCH_MS = 30_000;
/** How many sessions may stand on one another through login URLs (a chain's parents are read per request). */
const MAX_LINEAGE = 4;
/** All principals together hold at most this many times console.max_sessions. */
const PRINCIPALS_FACTOR = 8;
/** Unused login URLs at once: an operator needs a few; a token that may ask for them gets no more. */
export const MAX_CODES = 32;

interface CodeRecord {
  expires_at: string;
  scopes: string[];
  by: string;
  token?: TokenBond;
  principal: string;
  operator?: string;
  bind?: string[];
  parent?: string;
  /** The parent's absolute deadline (ISO), inherited by the session the code opens. */
  deadline?: string;
}

/** Whose a login URL is, when a session asks for it: the session's principal and operator, and itself as parent. */
export interface Lineage {
  principal: string;
  operator?: string;
  /** Where the asker may be used from: the session the code opens is bound to the same. */
  bind?: string[];
  parent?: SessionRecord;
}

export class SessionStore {
  readonly #storage: StorageApi;
  readonly #settings: () => SessionSettings;
  readonly #now: () => number;
  readonly #hooks: SessionHooks;
  /** When this host last saw each session used (written back at most every TOUCH_MS). */
  readonly #touched = new Map<string, number>();

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
  async issueCode(scopes: string[], by: string, lineage: Lineage, token?: TokenBond): Promise<{ code: string; expires_at: string }> {
    if ((await this.#pruneCodes()) >= MAX_CODES) {
      throw new WardenError("rate_limited", `${MAX_CODES} login URLs are waiting to be used; wait for them to expire (console.code_seconds) or use one`);
    }
    const parent = lineage.parent;
    if (parent && (await this.#depth(parent)) >= MAX_LINEAGE) {
      throw new WardenError("rate_limited", `console sessions may stand on one another at most ${MAX_LINEAGE} deep; ask from a session opened by \`warden console\``);
    }
    const code = randomBytes(32).toString("base64url");
    // A code never outlives the session that asked for it.
    const expires = Math.min(this.#now() + this.#settings().code_seconds * 1000, parent ? Date.parse(parent.deadline) : Infinity);
    const expires_at = new Date(expires).toISOString();
    const record: CodeRecord = {
      expires_at,
      scopes: [...scopes],
      by,
      principal: lineage.principal,
      ...(lineage.operator !== undefined ? { operator: lineage.operator } : {}),
      ...(lineage.bind !== undefined ? { bind: lineage.bind } : {}),
      ...(token ? { token } : {}),
      ...(parent ? { parent: parent.id, deadline: parent.deadline } : {}),
    };
    await this.#storage.set(`${CODE}${digest(code)}`, record as never);
    return { code, expires_at };
  }

  /** Spends a login code (once: it is deleted before the session exists) and opens a session with its scopes. */
  async login(code: string, client: string): Promise<{ record: SessionRecord; cookie: string }> {
    if (typeof code !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(code)) throw new WardenError("login_code_invalid", "this login URL is not valid; run `warden console` for a new one");
    const key = `${CODE}${digest(code)}`;
    const entry = (await this.#storage.get(key)) as Partial<CodeRecord> | undefined;
    // Deleted first: of two requests racing with one code, only the one whose delete found it wins.
    const existed = entry !== undefined && (await this.#storage.delete(key));
    if (!existed) throw new WardenError("login_code_invalid", "this login URL was already used or never issued; run `warden console` for a new one");
    if (Date.parse(String(entry.expires_at)) <= this.#now()) throw new WardenError("login_code_invalid", "this login URL has expired; run `warden console` for a new one");
    const scopes = Array.isArray(entry.scopes) ? entry.scopes.filter((s): s is string => typeof s === "string") : [];
    if (scopes.length === 0) throw new WardenError("login_code_invalid", "this login URL carries no scopes; run `warden console` for a new one");
    if (entry.token && !(await this.#bonded(entry.token))) {
      throw new WardenError("login_code_invalid", "the token that asked for this login URL was revoked, rotated or has expired; run `warden console` for a new one");
    }
    if (typeof entry.principal !== "string") throw new WardenError("login_code_invalid", "this login URL names no principal; run `warden console` for a new one");
    if (entry.operator !== undefined && !this.#hooks.operatorExists(entry.operator)) {
      throw new WardenError("login_code_invalid", `operator '${entry.operator}', who asked for this login URL, was removed`);
    }
    if (entry.parent !== undefined && !(await this.#lineageAlive(entry.parent))) {
      throw new WardenError("login_code_invalid", "the console session that asked for this login URL has ended; run `warden console` for a new one");
    }
    return this.#open(scopes, `code:${entry.by ?? "?"}`, client, entry.token, {
      principal: entry.principal,
      ...(typeof entry.operator === "string" ? { operator: entry.operator } : {}),
      ...(Array.isArray(entry.bind) ? { bind: entry.bind } : {}),
      ...(entry.parent !== undefined ? { parent: entry.parent } : {}),
      ...(entry.deadline !== undefined ? { deadline: Date.parse(entry.deadline) } : {}),
    });
  }

  /** Opens a session with a verified token's scopes (the caller checked the console.login scope). */
  openForToken(token: TokenBond, scopes: string[], client: string, who: { operator?: string; bind?: string[] } = {}): Promise<{ record: SessionRecord; cookie: string }> {
    return this.#open(scopes, `token:${token.id}`, client, token, { principal: `token:${token.id}`, ...who });
  }

  /** Opens a session for a named operator who signed in with the identity provider: their roles' permissions, their principal. */
  openForOperator(operator: string, scopes: string[], client: string): Promise<{ record: SessionRecord; cookie: string }> {
    return this.#open(scopes, "oidc", client, undefined, { principal: `operator:${operator}`, operator });
  }

  /** Ends every session of a removed operator (and those opened from them); how many. */
  async endOperator(name: string): Promise<number> {
    let n = 0;
    for (const r of await this.#records()) {
      if (r.operator === name) {
        await this.#end(r.id, "operator");
        n++;
      }
    }
    return n;
  }

  async #open(
    scopes: string[],
    via: string,
    client: string,
    token: TokenBond | undefined,
    line: { principal: string; operator?: string; bind?: string[]; parent?: string; deadline?: number },
  ): Promise<{ record: SessionRecord; cookie: string }> {
    await this.#makeRoom(line.principal);
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const at = this.#now();
    const now = new Date(at).toISOString();
    const deadline = new Date(Math.min(at + this.#settings().max_hours * 3_600_000, line.deadline ?? Infinity)).toISOString();
    const record: SessionRecord = {
      id,
      digest: digest(secret),
      scopes: [...scopes],
      via,
      principal: line.principal,
      ...(line.operator !== undefined ? { operator: line.operator } : {}),
      ...(line.bind !== undefined ? { bind: line.bind } : {}),
      ...(line.parent !== undefined ? { parent: line.parent } : {}),
      deadline,
      ...(token ? { token } : {}),
      client: client.slice(0, 100),
      created_at: now,
      last_seen: now,
    };
    await this.#storage.set(`${SESSION}${id}`, record as never);
    this.#touched.set(id, at);
    return { record, cookie: `${id}.${secret}` };
  }

  /** The session a cookie names, or why it cannot be used. Marks it used. */
  async verify(cookie: string, client: string): Promise<SessionRecord> {
    const m = /^([a-f0-9]{16})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!m) throw new WardenError("unauthorized", "not logged in to the console; run `warden console` for a login URL");
    const [, id = "", secret = ""] = m;
    const now = this.#now();
    const record = (await this.#storage.get(`${SESSION}${id}`)) as SessionRecord | undefined;
    if (!record) {
      this.#touched.delete(id);
      throw new WardenError("session_expired", "this console session was revoked or has ended; log in again with `warden console`");
    }
    const a = Buffer.from(record.digest, "hex");
    const b = Buffer.from(digest(secret), "hex");
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new WardenError("unauthorized", "not logged in to the console; run `warden console` for a login URL");
    if (record.token && !(await this.#bonded(record.token))) {
      await this.#end(id, "token");
      throw new WardenError("session_expired", "the token behind this console session was revoked, rotated or has expired; log in again");
    }
    if (record.bind && !bindAllows(record.bind, client)) {
      await this.#hooks.addressRefused(record, client);
      throw new WardenError("address_not_allowed", `this console session may be used only from ${record.bind.join(", ")} (where its token may be); this request came from ${client}`, {
        details: { bind: record.bind, client },
      });
    }
    if (record.operator !== undefined && !this.#hooks.operatorExists(record.operator)) {
      await this.#end(id, "operator");
      throw new WardenError("session_expired", `operator '${record.operator}', whose console session this was, was removed`);
    }
    const why = this.#over(record, now);
    if (why) {
      await this.#end(id, why);
      const s = this.#settings();
      throw new WardenError(
        "session_expired",
        why === "idle"
          ? `this console session was idle for more than ${s.idle_minutes} minutes; log in again with \`warden console\``
          : `console sessions last at most ${s.max_hours} hours (console.max_hours), a session opened from another no longer than it; log in again with \`warden console\``,
      );
    }
    if (record.parent !== undefined && !(await this.#lineageAlive(record.parent))) {
      await this.#end(id, "parent");
      throw new WardenError("session_expired", "the console session this one was opened from has ended, and this one with it; log in again with `warden console`");
    }
    // Written back at most every TOUCH_MS (idle expiry reads the later of this and the local use).
    if (now - Date.parse(record.last_seen) > TOUCH_MS) {
      await this.#storage.set(`${SESSION}${id}`, { ...record, last_seen: new Date(now).toISOString() } as never);
    }
    this.#touched.set(id, now);
    return record;
  }

  /** Why a session is over at `now` by its own clock (idle, lifetime), or undefined. */
  #over(r: SessionRecord, now: number): "idle" | "lifetime" | undefined {
    const s = this.#settings();
    const touched = Math.max(this.#touched.get(r.id) ?? 0, Date.parse(r.last_seen));
    if (now - touched > s.idle_minutes * 60_000) return "idle";
    // The stored deadline, and max_hours as set now (an operator may have shortened it).
    const deadline = Number.isFinite(Date.parse(r.deadline)) ? Date.parse(r.deadline) : Date.parse(r.created_at) + s.max_hours * 3_600_000;
    if (now > deadline || now - Date.parse(r.created_at) > s.max_hours * 3_600_000) return "lifetime";
    return undefined;
  }

  /** Whether a session and every session above it are still open and within their time. */
  async #lineageAlive(id: string): Promise<boolean> {
    let next: string | undefined = id;
    for (let depth = 0; next !== undefined; depth++) {
      if (depth > MAX_LINEAGE) return false;
      const r = (await this.#storage.get(`${SESSION}${next}`)) as SessionRecord | undefined;
      if (!r || this.#over(r, this.#now())) return false;
      next = r.parent;
    }
    return true;
  }

  async #depth(r: SessionRecord): Promise<number> {
    let depth = 0;
    let next = r.parent;
    while (next !== undefined && depth <= MAX_LINEAGE) {
      depth++;
      next = ((await this.#storage.get(`${SESSION}${next}`)) as SessionRecord | undefined)?.parent;
    }
    return depth;
  }

  /** A session's stored record (its secret's digest included: for this module's own use). */
  async recordOf(id: string): Promise<SessionRecord | undefined> {
    return (await this.#storage.get(`${SESSION}${id}`)) as SessionRecord | undefined;
  }

  /** Ends a session and the sessions opened from it (audited as ended by their parent); whether it existed. */
  async end(id: string): Promise<boolean> {
    this.#touched.delete(id);
    const existed = await this.#storage.delete(`${SESSION}${id}`);
    for (const child of (await this.#records()).filter((r) => r.parent === id)) await this.#end(child.id, "parent");
    return existed;
  }

  async #records(): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const key of await this.#storage.list(SESSION, 10_000)) {
      const r = (await this.#storage.get(key)) as SessionRecord | undefined;
      if (r) out.push(r);
    }
    return out;
  }

  async #end(id: string, reason: Parameters<SessionHooks["ended"]>[1]): Promise<void> {
    if (await this.end(id)) await this.#hooks.ended(id, reason);
  }

  async list(): Promise<Array<Omit<SessionRecord, "digest" | "token"> & { token_id: string | null; idle_expires_at: string }>> {
    const out = [];
    for (const r of await this.#records()) {
      const { digest: _d, token, ...shown } = r;
      const seen = Math.max(Date.parse(r.last_seen), this.#touched.get(r.id) ?? 0);
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
   * Slots are counted per principal: each (the operator, one token, and the sessions opened from
   * theirs) holds at most console.max_sessions, and makes room from its own least recently used
   * session. All principals together hold at most PRINCIPALS_FACTOR times that; when full, the
   * principal holding the most (never the operator, never the one logging in) gives up its least
   * recently used. So no token, however it logs in, can lock the operator out.
   */
  async #makeRoom(principal: string): Promise<void> {
    const max = this.#settings().max_sessions;
    const all = (await this.list()).sort((x, y) => x.last_seen.localeCompare(y.last_seen));
    const mine = all.filter((s) => s.principal === principal);
    for (const s of mine.slice(0, Math.max(0, mine.length - (max - 1)))) await this.#end(s.id, "evicted");
    const rest = all.filter((s) => s.principal !== principal);
    const room = max * PRINCIPALS_FACTOR - 1 - Math.min(mine.length, max - 1);
    if (rest.length <= room) return;
    const counts = new Map<string, number>();
    for (const s of rest) counts.set(s.principal, (counts.get(s.principal) ?? 0) + 1);
    const [largest] = [...counts].filter(([p]) => p !== "operator:local").sort((x, y) => y[1] - x[1])[0] ?? [];
    if (largest === undefined) {
      throw new WardenError("rate_limited", `the console has ${all.length} open sessions; end some with \`warden console revoke <id>\``);
    }
    for (const s of rest.filter((r) => r.principal === largest).slice(0, rest.length - room)) await this.#end(s.id, "evicted");
  }
}
