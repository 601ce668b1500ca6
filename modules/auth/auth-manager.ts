// The AuthManager: API tokens whose secrets are stored only as argon2id hashes (OWASP: 19 MiB,
// t=2, p=1), looked up by token id. Verification runs argon2 once per token and minute at most:
// a positive result is cached under a digest of the token (never the token) for up to 60 s, renewed
// from the token's record (no argon2) while the token is in use, and revoke, rotate and reset drop
// those entries at once. Concurrent verifications of one token share one argon2 run.
import { hash } from "node:crypto";
import argon2 from "argon2";
import { LRUCache } from "lru-cache";
import { FairArgonQueue } from "./argon-queue.js";
import { newToken, newTokenId, parseToken } from "./token-format.js";
import { WardenError, refusals } from "../../sdk/errors.js";
import { checkGrant, checkUse, listTokens, type ListedToken } from "./token-records.js";
import { parseDuration } from "./durations.js";
import type { Identity, TokenRecord, TokenStorage, Usage } from "./token-record.js";

/** Writes the audit event of a change that is about to be written (./index.ts passes ctx.audit.record). */
export type Recorder = (id: string, data: Record<string, unknown>) => Promise<void>;
const noRecord: Recorder = async () => {};

export const ARGON2 = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const CACHE_MS = 60_000;
/** A cached verification used in its last REFRESH_MS is renewed in the background. */
const REFRESH_MS = 15_000;
const USAGE_WRITE_MS = 60_000;

export type { Identity, TokenRecord, TokenStorage };

export class AuthManager {
  readonly #storage: TokenStorage;
  readonly #now: () => number;
  readonly #argon = new FairArgonQueue({ concurrency: 2, maxWaiting: 64, perClient: 4 });
  readonly #inflight = new Map<string, Promise<Identity>>();
  /** Digests whose cache entry is being renewed (see #refresh). */
  readonly #refreshing = new Set<string>();
  /** A running average of one argon2 verification, for the unknown-id path's wait. */
  #typicalMs = 40;
  /**
   * `shared`: in a fleet, the revocation epoch (kept in Redis, bumped by any host's revoke, rotate
   * or reset) this entry was last confirmed in; `recordHash` tells a rotation from another host.
   */
  readonly #verified = new LRUCache<string, { identity: Identity; expiresAt: number; epoch: string; shared: string | undefined; recordHash: string }>({ max: 10_000, ttl: CACHE_MS });
  /**
   * Revocation epochs: per token id, bumped by its revoke and rotate, and one for all, bumped by
   * reset. A verification counts only in the epoch it started in: one that read the token's record
   * before a revoke and finished after it is neither trusted nor cached, and a cached one from
   * before the revoke is not a hit. Per id, so revoking one token costs no one else an argon2 run.
   */
  readonly #epochs = new Map<string, number>();
  #allEpoch = 0;
  /** token id -> digests cached for it, so a revoke drops them at once */
  readonly #digestsById = new Map<string, Set<string>>();
  readonly #usageWritten = new Map<string, { used: number; request: number }>();
  readonly #locks = new Map<string, Promise<void>>();
  /** Counts argon2 verifications (the tests prove that a blocked client causes none). */
  argonRuns = 0;

  /** In a fleet, a verification without the shared epoch is never answered from the cache alone. */
  readonly #fleet: boolean;
  /** Whether an operator still exists (the host's operators); a token of one who does not is refused. */
  readonly #operatorExists: (name: string) => boolean;
  /** Told of a bound token used from elsewhere (audited, at most once a minute per token and address). */
  readonly #onAddressRefused: ((identity: Identity, client: string) => void) | undefined;

  constructor(
    storage: TokenStorage,
    now: () => number = Date.now,
    o: { fleet?: boolean; operatorExists?: (name: string) => boolean; onAddressRefused?: (identity: Identity, client: string) => void } = {},
  ) {
    this.#storage = storage;
    this.#now = now;
    this.#fleet = o.fleet ?? false;
    this.#operatorExists = o.operatorExists ?? (() => false);
    this.#onAddressRefused = o.onAddressRefused;
  }

  /**
   * `record`, in each of grant, revoke and rotate: called once the change is checked and right
   * before it is written, with what it will be; if it throws (the audit event could not be
   * written), nothing is written. An action and its audit event are one.
   */
  /**
   * `operator`: whose token it is (absent: a service account's). `within`: what the asker holds
   * (its own scopes, its operator's and the new token's operator's permissions): every scope must be
   * within each, so no token is minted with more than its asker or its operator may do.
   */
  async grant(
    o: { name: string; scopes: string[]; expires?: string; bootstrap?: boolean; operator?: string; bind?: string[]; within?: ReadonlyArray<{ what: string; patterns: readonly string[] }> },
    record: Recorder = noRecord,
  ): Promise<{ id: string; name: string; token: string; scopes: string[]; expires_at: string | null; operator: string | null; bind: string[] | null }> {
    const { name, bind, expiresAt } = checkGrant(o, this.#now());
    const existing = await this.#storage.get(`n:${name}`);
    if (typeof existing === "string") {
      const r = await this.#record(existing);
      if (r && !r.revoked_at) throw new WardenError("input_invalid", `a token named '${name}' exists; revoke it or choose another name`);
    }
    const id = newTokenId();
    const { token, secret } = newToken(id);
    const stored: TokenRecord = {
      id,
      name,
      scopes: [...new Set(o.scopes)],
      hash: await argon2.hash(secret, ARGON2),
      created_at: new Date(this.#now()).toISOString(),
      expires_at: expiresAt,
      revoked_at: null,
      last_used_at: null,
      last_request_at: null,
      bootstrap: o.bootstrap ?? false,
      operator: o.operator ?? null,
      bind,
      prev: null,
    };
    await record(id, { name, scopes: stored.scopes, expires_at: expiresAt, operator: stored.operator, bind });
    await this.#storage.set(`t:${id}`, stored);
    await this.#storage.set(`n:${name}`, id);
    return { id, name, token, scopes: stored.scopes, expires_at: expiresAt, operator: stored.operator ?? null, bind };
  }

  /** What rotate and revoke would act on (by id or name), for the check that the asker may. */
  async describe(ref: string): Promise<{ name: string; scopes: string[]; operator: string | null; bind: string[] | null; bootstrap: boolean }> {
    const r = await this.#resolve(ref);
    return { name: r.name, scopes: r.scopes, operator: r.operator ?? null, bind: r.bind ?? null, bootstrap: r.bootstrap };
  }

  list(): Promise<ListedToken[]> {
    return listTokens(this.#storage);
  }

  async revoke(ref: string, record: Recorder = noRecord): Promise<{ id: string; name: string; revoked_at: string }> {
    const found = await this.#resolve(ref);
    return this.#exclusive(found.id, async () => {
      // Read again under the lock: a rotate that finished meanwhile must not be overwritten.
      const r = (await this.#record(found.id)) ?? found;
      await record(r.id, { name: r.name });
      r.revoked_at ??= new Date(this.#now()).toISOString();
      r.prev = null;
      await this.#storage.set(`t:${r.id}`, r);
      this.#forget(r.id);
      return { id: r.id, name: r.name, revoked_at: r.revoked_at };
    });
  }

  async rotate(
    ref: string,
    grace?: string,
    record: Recorder = noRecord,
  ): Promise<{ id: string; name: string; token: string; scopes: string[]; expires_at: string | null; old_valid_until: string | null }> {
    const found = await this.#resolve(ref);
    return this.#exclusive(found.id, () => this.#rotate(found.id, grace, record));
  }

  async #rotate(
    id: string,
    grace: string | undefined,
    record: Recorder,
  ): Promise<{ id: string; name: string; token: string; scopes: string[]; expires_at: string | null; old_valid_until: string | null }> {
    const r = await this.#record(id);
    if (!r) throw refusals.tokenNotFound(id);
    if (r.revoked_at) throw new WardenError("token_revoked", `token '${r.name}' is revoked; grant a new one`);
    let graceMs = 0;
    if (grace !== undefined) {
      const ms = parseDuration(grace);
      if (ms === undefined) throw new WardenError("input_invalid", `--grace '${grace}' must look like 1h, 30m or 45s`);
      graceMs = ms;
    }
    const { token, secret } = newToken(r.id);
    const until = graceMs > 0 ? new Date(this.#now() + graceMs).toISOString() : null;
    await record(r.id, { name: r.name, old_valid_until: until });
    r.prev = until ? { hash: r.hash, until } : null;
    r.hash = await argon2.hash(secret, ARGON2);
    await this.#storage.set(`t:${r.id}`, r);
    this.#forget(r.id);
    return { id: r.id, name: r.name, token, scopes: r.scopes, expires_at: r.expires_at, old_valid_until: until };
  }

  /** Deletes a token outright (a CLI session's replaced access token): it verifies as unknown from now on. */
  async drop(id: string): Promise<void> {
    const r = await this.#record(id);
    await this.#storage.delete(`t:${id}`);
    await this.#storage.delete(`u:${id}`);
    if (r && (await this.#storage.get(`n:${r.name}`)) === id) await this.#storage.delete(`n:${r.name}`);
    this.#forget(id);
  }

  /** Revokes every token; the caller issues a new bootstrap token. */
  async revokeAll(): Promise<number> {
    let n = 0;
    for (const t of await this.list()) {
      if (!t.revoked_at) {
        await this.revoke(t.id);
        n++;
      }
    }
    this.#allEpoch++;
    this.#verified.clear();
    this.#digestsById.clear();
    return n;
  }

  /**
   * Checks a presented token; throws unauthorized, token_expired, token_revoked or
   * address_not_allowed. `client` is who asks (the REST surface passes the client address):
   * verifications share argon2 fairly between clients, and one client's burst is refused rather than
   * queued for everyone. `sharedEpoch` (a fleet): the revocation epoch read from Redis in this
   * request's security check; a cached verification from another epoch is not trusted until the
   * token's record (one store read, no argon2) shows it was neither revoked nor rotated meanwhile.
   */
  async verify(token: string, client = "local", sharedEpoch?: string): Promise<Identity> {
    const identity = await this.#verifyToken(token, client, sharedEpoch);
    checkUse(identity, client, this.#operatorExists, this.#onAddressRefused);
    return identity;
  }

  async #verifyToken(token: string, client: string, sharedEpoch: string | undefined): Promise<Identity> {
    // crypto.hash: one call, no Hash object per request.
    const digest = hash("sha256", String(token), "base64url");
    const hit = this.#verified.get(digest);
    if (hit) {
      if (hit.epoch === this.#epochOf(hit.identity.tokenId) && hit.expiresAt > this.#now()) {
        // In a fleet, only a known epoch vouches for a cached verification: "" (no epoch in Redis:
        // never set, lapsed, or a Redis that restarted empty) is the same before and after a revoke.
        if (sharedEpoch === undefined ? !this.#fleet : sharedEpoch !== "" && hit.shared === sharedEpoch) {
          if (hit.expiresAt - this.#now() < REFRESH_MS) this.#refresh(digest, hit);
          return hit.identity;
        }
        const r = await this.#record(hit.identity.tokenId);
        if (r?.revoked_at) {
          this.#forget(r.id);
          throw new WardenError("token_revoked", `token '${r.name}' was revoked at ${r.revoked_at}`);
        }
        if (r && r.hash === hit.recordHash && !(r.expires_at && Date.parse(r.expires_at) <= this.#now())) {
          if (sharedEpoch !== undefined) hit.shared = sharedEpoch;
          return hit.identity;
        }
      }
      this.#verified.delete(digest);
    }
    const parsed = parseToken(token);
    if (!parsed) throw new WardenError("unauthorized", "missing or malformed token");
    // Single flight: the same token verified at once runs argon2 once, but only within one
    // revocation epoch (a request after a revoke never joins a verification from before it).
    const key = `${digest}:${this.#epochOf(parsed.id)}:${sharedEpoch ?? ""}`;
    const running = this.#inflight.get(key);
    if (running) return running;
    const work = this.#verify(digest, parsed, client, sharedEpoch).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, work);
    return work;
  }

  /**
   * A hot entry close to its end is renewed in the background from the token's record: the same
   * hash means the same secret would verify again, so no argon2 runs, and a busy token never
   * falls out of the cache (which would stall every request that arrives at that moment).
   */
  #refresh(digest: string, hit: { identity: Identity; expiresAt: number; epoch: string; shared: string | undefined; recordHash: string }): void {
    if (this.#refreshing.has(digest)) return;
    this.#refreshing.add(digest);
    const id = hit.identity.tokenId;
    void this.#record(id)
      .then((r) => {
        // Anything that changed meanwhile (revoke, rotate, a newer entry) is left to expire.
        if (!r || r.revoked_at || r.hash !== hit.recordHash || hit.epoch !== this.#epochOf(id) || this.#verified.get(digest) !== hit) return;
        const now = this.#now();
        let until = now + CACHE_MS;
        if (r.expires_at) until = Math.min(until, Date.parse(r.expires_at));
        if (until <= hit.expiresAt) return;
        this.#verified.set(digest, { ...hit, expiresAt: until });
      })
      .catch(() => {})
      .finally(() => this.#refreshing.delete(digest));
  }

  async #verify(digest: string, parsed: { id: string; secret: string }, client: string, sharedEpoch: string | undefined): Promise<Identity> {
    const epoch = this.#epochOf(parsed.id);
    const record = await this.#record(parsed.id);
    if (!record) {
      // An unknown id costs no argon2, only the time a real verification takes (without the CPU),
      // so the answer does not say whether the id exists.
      await new Promise((r) => setTimeout(r, this.#typicalMs * (0.9 + Math.random() * 0.2)));
      throw new WardenError("unauthorized", "invalid token");
    }
    // Over the queue's budget: rate_limited (retry after a second), from the queue itself.
    const matched = await this.#argon.run(client, async () => {
      this.argonRuns++;
      const started = performance.now();
      try {
        if (await argon2.verify(record.hash, parsed.secret)) return "current" as const;
        if (record.prev && Date.parse(record.prev.until) > this.#now() && (await argon2.verify(record.prev.hash, parsed.secret))) return "previous" as const;
        return undefined;
      } finally {
        this.#typicalMs = this.#typicalMs * 0.9 + (performance.now() - started) * 0.1;
      }
    });
    if (record) await this.#touch(record, "request");
    if (!record || !matched) throw new WardenError("unauthorized", "invalid token");
    // A revoke that returned while argon2 ran (or while the record was read) wins: read again.
    if (epoch !== this.#epochOf(record.id)) {
      const fresh = await this.#record(record.id);
      if (!fresh || fresh.revoked_at) throw new WardenError("token_revoked", `token '${record.name}' was revoked at ${fresh?.revoked_at ?? "a moment ago"}`);
      if (fresh.hash !== record.hash && matched === "current") throw new WardenError("unauthorized", "invalid token");
    }
    if (record.revoked_at) throw new WardenError("token_revoked", `token '${record.name}' was revoked at ${record.revoked_at}`);
    const now = this.#now();
    if (record.expires_at && Date.parse(record.expires_at) <= now) throw new WardenError("token_expired", `token '${record.name}' expired at ${record.expires_at}`);
    const identity: Identity = {
      tokenId: record.id,
      name: record.name,
      scopes: [...record.scopes],
      bootstrap: record.bootstrap,
      ...(record.operator ? { operator: record.operator } : {}),
      ...(record.bind ? { bind: [...record.bind] } : {}),
    };
    let validUntil = now + CACHE_MS;
    if (record.expires_at) validUntil = Math.min(validUntil, Date.parse(record.expires_at));
    if (matched === "previous") validUntil = Math.min(validUntil, Date.parse(record.prev!.until));
    if (epoch === this.#epochOf(record.id)) this.#verified.set(digest, { identity, expiresAt: validUntil, epoch, shared: sharedEpoch, recordHash: record.hash });
    if (!this.#digestsById.has(record.id)) this.#digestsById.set(record.id, new Set());
    this.#digestsById.get(record.id)!.add(digest);
    return identity;
  }

  /** Records a successful authenticated call; written at most once a minute per token. */
  async noteUse(tokenId: string): Promise<void> {
    // Checked before reading the record: the per-request cost is a map lookup, not a query.
    if (this.#now() - (this.#usageWritten.get(tokenId)?.used ?? 0) < USAGE_WRITE_MS) return;
    const r = await this.#record(tokenId);
    if (r) await this.#touch(r, "used");
  }

  /**
   * Usage times live under their own key (`u:<id>`), never in the token record: a usage note that
   * read the record before a revoke could otherwise write it back un-revoked.
   */
  async #touch(r: TokenRecord, what: "used" | "request"): Promise<void> {
    const now = this.#now();
    const w = this.#usageWritten.get(r.id) ?? { used: 0, request: 0 };
    if (now - w[what] < USAGE_WRITE_MS) return;
    w[what] = now;
    this.#usageWritten.set(r.id, w);
    const usage = ((await this.#storage.get(`u:${r.id}`)) as Usage | undefined) ?? { last_used_at: null, last_request_at: null };
    const at = new Date(now).toISOString();
    usage.last_request_at = at;
    if (what === "used") usage.last_used_at = at;
    await this.#storage.set(`u:${r.id}`, usage);
  }

  /** Changes to one token's record run one at a time (revoke, rotate). */
  #exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#locks.set(id, settled);
    void settled.then(() => {
      if (this.#locks.get(id) === settled) this.#locks.delete(id);
    });
    return run;
  }

  /**
   * A fingerprint of a live token's current secret (a digest of its hash, never the hash); undefined
   * once it is revoked, expired or gone. A rotation changes it: what was opened with the old secret
   * (a console session) can so tell it no longer stands.
   */
  async credential(id: string): Promise<string | undefined> {
    const r = await this.#record(id);
    if (!r || r.revoked_at || (r.expires_at && Date.parse(r.expires_at) <= this.#now())) return undefined;
    return hash("sha256", `warden-credential\0${r.hash}`, "hex").slice(0, 32);
  }

  async #record(id: string): Promise<TokenRecord | undefined> {
    return (await this.#storage.get(`t:${id}`)) as TokenRecord | undefined;
  }

  async #resolve(ref: string): Promise<TokenRecord> {
    const byId = await this.#record(ref);
    if (byId) return byId;
    const id = await this.#storage.get(`n:${ref}`);
    const byName = typeof id === "string" ? await this.#record(id) : undefined;
    if (!byName) throw refusals.tokenNotFound(ref);
    return byName;
  }

  #epochOf(id: string): string {
    return `${this.#allEpoch}:${this.#epochs.get(id) ?? 0}`;
  }

  #forget(id: string): void {
    this.#epochs.set(id, (this.#epochs.get(id) ?? 0) + 1);
    for (const d of this.#digestsById.get(id) ?? []) this.#verified.delete(d);
    this.#digestsById.delete(id);
  }
}
