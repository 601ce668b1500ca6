// CLI sign-in: RFC 8628's device authorization, then short-lived access tokens and rotating refresh
// tokens (Auth0's rotation with reuse detection).
//
//   warden login URL  -> start(): a device code (the CLI keeps it) and a short user code (shown)
//   an operator signed in to the console approves the user code (pair()): the CLI session will be
//   theirs, with at most the approving session's scopes and bind
//   the CLI polls token(): once approved, a family is made: an access token (an ordinary token of
//   the operator, ACCESS_TTL long) and a refresh token
//   refresh(): the refresh token is spent and a new one issued with a new access token; presenting
//   a spent one again revokes the whole family (someone copied it), audited
//   logout(): revokes the family
//
// Everything lives in this module's storage (PostgreSQL in a fleet), and each rotation runs under
// the fleet's lock for its family: login through one host and refresh through another works, and
// two hosts handed the same refresh token at once rotate it once, the other sees reuse.
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { WardenError } from "../../sdk/errors.js";
import type { AuthManager, TokenStorage } from "./auth-manager.js";
import type { CliTokens } from "../../sdk/system/services.js";

const DEVICE_TTL_MS = 10 * 60_000;
const POLL_S = 2;
/** Pending sign-ins at once, and per client address: an anonymous client cannot fill the store. */
export const MAX_PENDING = 64;
export const MAX_PENDING_PER_CLIENT = 4;
export const ACCESS_TTL = "10m";
const FAMILY_MS = 30 * 24 * 3_600_000;
/** Spent refresh tokens remembered per family, to tell reuse from a stranger's guess. */
const SPENT_KEPT = 64;
const USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

type Pending = {
  user_code: string;
  client: string;
  created_at: string;
  expires_at: string;
  approved: null | { operator: string; scopes: string[]; bind: string[] | null; by: string; at: string };
};

type Family = {
  id: string;
  operator: string;
  scopes: string[];
  bind: string[] | null;
  client: string;
  created_at: string;
  deadline: string;
  current: string;
  spent: string[];
  access: string | null;
  generation: number;
  revoked_at: string | null;
  revoked_reason: string | null;
};

export interface CliSessionDeps {
  storage: TokenStorage;
  auth: AuthManager;
  now: () => number;
  /** Runs `fn` holding the named lock: across the fleet when there is one. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;
  audit(action: string, target: string, data: Record<string, unknown>): Promise<void>;
  /** After tokens were revoked: move the fleet's revocation epoch. */
  moved(): Promise<void>;
  /** Whether an operator still exists: a sign-in approved by one removed since opens nothing. */
  operatorExists(name: string): boolean;
}

export class CliSessions {
  readonly #d: CliSessionDeps;
  constructor(deps: CliSessionDeps) {
    this.#d = deps;
  }

  /** Starts a sign-in for an anonymous client: the device code is the CLI's, the user code the operator's. */
  async start(client: string): Promise<{ device_code: string; user_code: string; expires_in: number; interval: number }> {
    const pending = await this.#pending();
    if (pending.length >= MAX_PENDING) throw new WardenError("rate_limited", `${MAX_PENDING} sign-ins are waiting for approval; try again in a few minutes`, { details: { retry_after: 60 } });
    if (pending.filter((p) => p.record.client === client).length >= MAX_PENDING_PER_CLIENT)
      throw new WardenError("rate_limited", `this address has ${MAX_PENDING_PER_CLIENT} sign-ins waiting; finish or abandon one first`, { details: { retry_after: 60 } });
    const device = randomBytes(32).toString("base64url");
    const letters = Array.from({ length: 8 }, () => USER_CODE_LETTERS[randomInt(USER_CODE_LETTERS.length)]).join("");
    const user_code = `${letters.slice(0, 4)}-${letters.slice(4)}`;
    const now = this.#d.now();
    const record: Pending = { user_code, client: client.slice(0, 100), created_at: new Date(now).toISOString(), expires_at: new Date(now + DEVICE_TTL_MS).toISOString(), approved: null };
    await this.#d.storage.set(`d:${sha(device)}`, record);
    await this.#d.storage.set(`uc:${user_code}`, sha(device));
    return { device_code: device, user_code, expires_in: DEVICE_TTL_MS / 1000, interval: POLL_S };
  }

  /** What a user code would approve: where the sign-in came from and when (the console shows it before approving). */
  async describe(userCode: string): Promise<{ user_code: string; client: string; created_at: string; expires_at: string }> {
    const { record } = await this.#byUserCode(userCode);
    return { user_code: record.user_code, client: record.client, created_at: record.created_at, expires_at: record.expires_at };
  }

  /** An operator approves a user code: the CLI session will be theirs, with these scopes and bind at most. */
  async approve(userCode: string, who: { operator: string; scopes: string[]; bind: string[] | null; by: string }): Promise<{ user_code: string; client: string; operator: string }> {
    const { key, record } = await this.#byUserCode(userCode);
    if (record.approved) throw new WardenError("device_code_invalid", `code ${record.user_code} was already approved`);
    record.approved = { ...who, at: new Date(this.#d.now()).toISOString() };
    await this.#d.audit("cli.approve", `operator:${who.operator}`, { user_code: record.user_code, client: record.client, scopes: who.scopes, by: who.by });
    await this.#d.storage.set(key, record);
    return { user_code: record.user_code, client: record.client, operator: who.operator };
  }

  /** The CLI's poll: authorization_pending until approved; then the tokens, once. */
  async token(deviceCode: string, client: string): Promise<CliTokens> {
    if (typeof deviceCode !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(deviceCode)) throw new WardenError("device_code_invalid", "this sign-in is not known; run `warden login` again");
    const key = `d:${sha(deviceCode)}`;
    const record = (await this.#d.storage.get(key)) as Pending | undefined;
    if (!record) throw new WardenError("device_code_invalid", "this sign-in is not known or was already completed; run `warden login` again");
    if (Date.parse(record.expires_at) <= this.#d.now()) {
      await this.#forget(key, record);
      throw new WardenError("device_code_invalid", "this sign-in was not approved in time; run `warden login` again");
    }
    if (!record.approved) throw new WardenError("authorization_pending", `waiting for an operator to approve code ${record.user_code} in the console`);
    // Deleted first: of two polls racing with one device code, only the one whose delete found it wins.
    if (!(await this.#d.storage.delete(key))) throw new WardenError("device_code_invalid", "this sign-in was already completed; run `warden login` again");
    await this.#d.storage.delete(`uc:${record.user_code}`);
    const a = record.approved;
    if (!this.#d.operatorExists(a.operator)) throw new WardenError("device_code_invalid", `operator '${a.operator}', who approved this sign-in, was removed since; nothing is signed in`);
    const id = randomBytes(8).toString("hex");
    const now = this.#d.now();
    const family: Family = {
      id,
      operator: a.operator,
      scopes: a.scopes,
      bind: a.bind,
      client: client.slice(0, 100),
      created_at: new Date(now).toISOString(),
      deadline: new Date(now + FAMILY_MS).toISOString(),
      current: "",
      spent: [],
      access: null,
      generation: 0,
      revoked_at: null,
      revoked_reason: null,
    };
    const tokens = await this.#issue(family);
    await this.#d.audit("cli.login", `operator:${a.operator}`, { family: id, client, approved_by: a.by });
    return tokens;
  }

  /** Spends a refresh token for a new pair; a spent one presented again revokes the family. */
  async refresh(refreshToken: string, client: string): Promise<CliTokens> {
    const { familyId, secret } = parseRefresh(refreshToken);
    return this.#d.exclusive(`auth-family:${familyId}`, async () => {
      const family = await this.#family(familyId);
      const digest = sha(secret);
      if (family.revoked_at) throw new WardenError("token_revoked", `this CLI session was ended at ${family.revoked_at} (${family.revoked_reason}); run \`warden login\` again`);
      if (family.spent.some((s) => same(s, digest))) {
        await this.#revoke(family, "refresh_reuse", { client });
        throw new WardenError("refresh_reused", "this refresh token was already used, so someone else may hold a copy: the whole CLI session is revoked; run `warden login` again");
      }
      if (!same(family.current, digest)) throw new WardenError("unauthorized", "this refresh token is not valid; run `warden login` again");
      if (!this.#d.operatorExists(family.operator)) {
        await this.#revoke(family, "operator_removed", { client });
        throw new WardenError("token_revoked", `operator '${family.operator}' was removed; this CLI session ended with them`);
      }
      if (Date.parse(family.deadline) <= this.#d.now()) {
        await this.#revoke(family, "lifetime", { client });
        throw new WardenError("token_expired", `CLI sessions last at most ${FAMILY_MS / 86_400_000} days; run \`warden login\` again`);
      }
      family.spent = [...family.spent, digest].slice(-SPENT_KEPT);
      return this.#issue(family);
    });
  }

  /** Ends the CLI session a refresh token belongs to (`warden logout`). */
  async logout(refreshToken: string): Promise<{ family: string; ended: boolean }> {
    const { familyId, secret } = parseRefresh(refreshToken);
    return this.#d.exclusive(`auth-family:${familyId}`, async () => {
      const family = await this.#family(familyId);
      const digest = sha(secret);
      if (!same(family.current, digest) && !family.spent.some((s) => same(s, digest))) throw new WardenError("unauthorized", "this refresh token is not valid");
      if (family.revoked_at) return { family: family.id, ended: false };
      await this.#revoke(family, "logout", {});
      return { family: family.id, ended: true };
    });
  }

  /** Ends every CLI session of a removed operator; how many. */
  async revokeOperator(operator: string): Promise<number> {
    let n = 0;
    for (const key of await this.#d.storage.list("f:", 100_000)) {
      const f = (await this.#d.storage.get(key)) as Family | undefined;
      if (f && f.operator === operator && !f.revoked_at) {
        await this.#d.exclusive(`auth-family:${f.id}`, () => this.#revoke(f, "operator_removed", {}));
        n++;
      }
    }
    return n;
  }

  /** A new access token (the previous one dropped) and a new refresh token, written before they are answered. */
  async #issue(family: Family): Promise<CliTokens> {
    const previous = family.access;
    family.generation++;
    const access = await this.#d.auth.grant({
      name: `cli.${family.id}.${family.generation}`,
      scopes: family.scopes,
      operator: family.operator,
      ...(family.bind ? { bind: family.bind } : {}),
      expires: ACCESS_TTL,
    });
    const secret = randomBytes(32).toString("base64url");
    family.current = sha(secret);
    family.access = access.id;
    await this.#d.storage.set(`f:${family.id}`, family);
    // The replaced access token goes at once: one live access token per CLI session.
    if (previous) await this.#d.auth.drop(previous);
    return {
      access_token: access.token,
      access_expires_at: access.expires_at!,
      refresh_token: `wdr_${family.id}_${secret}`,
      operator: family.operator,
      scopes: family.scopes,
      family: family.id,
    };
  }

  async #revoke(family: Family, reason: string, data: Record<string, unknown>): Promise<void> {
    await this.#d.audit(reason === "refresh_reuse" ? "cli.refresh_reused" : "cli.logout", `operator:${family.operator}`, { family: family.id, reason, ...data });
    family.revoked_at = new Date(this.#d.now()).toISOString();
    family.revoked_reason = reason;
    await this.#d.storage.set(`f:${family.id}`, family);
    if (family.access) {
      await this.#d.auth.drop(family.access);
      await this.#d.moved();
    }
  }

  async #family(id: string): Promise<Family> {
    const f = (await this.#d.storage.get(`f:${id}`)) as Family | undefined;
    if (!f) throw new WardenError("unauthorized", "this refresh token is not valid; run `warden login` again");
    return f;
  }

  async #byUserCode(userCode: string): Promise<{ key: string; record: Pending }> {
    const code = String(userCode).trim().toUpperCase();
    const digest = /^[A-Z]{4}-[A-Z]{4}$/.test(code) ? await this.#d.storage.get(`uc:${code}`) : undefined;
    const key = typeof digest === "string" ? `d:${digest}` : undefined;
    const record = key ? ((await this.#d.storage.get(key)) as Pending | undefined) : undefined;
    if (!key || !record) throw new WardenError("device_code_invalid", `no sign-in is waiting with code ${code.slice(0, 9)}; check the code \`warden login\` printed`);
    if (Date.parse(record.expires_at) <= this.#d.now()) {
      await this.#forget(key, record);
      throw new WardenError("device_code_invalid", `code ${code} has expired; run \`warden login\` again`);
    }
    return { key, record };
  }

  /** Pending sign-ins, the expired ones deleted on the way. */
  async #pending(): Promise<Array<{ key: string; record: Pending }>> {
    const out = [];
    for (const key of await this.#d.storage.list("d:", MAX_PENDING * 4)) {
      const record = (await this.#d.storage.get(key)) as Pending | undefined;
      if (!record) continue;
      if (Date.parse(record.expires_at) <= this.#d.now()) await this.#forget(key, record);
      else out.push({ key, record });
    }
    return out;
  }

  async #forget(key: string, record: Pending): Promise<void> {
    await this.#d.storage.delete(key);
    await this.#d.storage.delete(`uc:${record.user_code}`);
  }
}

function parseRefresh(token: unknown): { familyId: string; secret: string } {
  const [, familyId, secret] = (typeof token === "string" ? /^wdr_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/.exec(token) : null) ?? [];
  if (familyId === undefined || secret === undefined) throw new WardenError("unauthorized", "this is not a Warden refresh token; run `warden login` again");
  return { familyId, secret };
}

/** A lock by name within this process (a single host; a fleet passes its shared lock instead). */
export function inProcessLock(): <T>(name: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const run = (tails.get(name) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    tails.set(name, tail);
    void tail.then(() => tails.get(name) === tail && tails.delete(name));
    return run;
  };
}
