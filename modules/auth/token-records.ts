// What a grant asks for, checked before anything is made; and the token list as `auth list` shows it.
import { WardenError } from "../../sdk/errors.js";
import { patternWithin } from "../../sdk/patterns.js";
import { bindAllows, parseBind } from "../../sdk/system/bound-addresses.js";
import { parseDuration } from "./durations.js";
import type { Identity, TokenRecord, TokenStorage, Usage } from "./token-record.js";

const SCOPE = /^(\*|[a-z][a-z0-9-]*(\.[A-Za-z0-9_-]+)*(\.\*)?)$/;

export interface GrantRequest {
  name: string;
  scopes: string[];
  expires?: string;
  bind?: string[];
  /** What the asker holds (its own scopes, its operator's roles): every scope must be within each. */
  within?: ReadonlyArray<{ what: string; patterns: readonly string[] }>;
}

/** The name, bind list and expiry of a grant, or the refusal that says what is wrong with it. */
export function checkGrant(o: GrantRequest, now: number): { name: string; bind: string[] | null; expiresAt: string | null } {
  const name = o.name.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new WardenError("input_invalid", `token name '${o.name}' must be 1-64 letters, digits, '.', '_' or '-'`);
  const bad = o.scopes.filter((s) => !SCOPE.test(s));
  if (o.scopes.length === 0 || bad.length)
    throw new WardenError("input_invalid", `scopes must be permission patterns like *, security.* or hello.greet${bad.length ? `; not: ${bad.join(", ")}` : ""}`);
  for (const limit of o.within ?? []) {
    const beyond = o.scopes.filter((s) => !patternWithin(limit.patterns, s));
    if (beyond.length)
      throw new WardenError("forbidden", `scopes ${beyond.map((s) => `'${s}'`).join(", ")} reach beyond ${limit.what}; a token holds at most what its asker and its operator hold`, {
        details: { scopes: beyond, side: "caller" },
      });
  }
  const bind = o.bind === undefined ? null : parseBind(o.bind);
  let expiresAt: string | null = null;
  if (o.expires !== undefined) {
    const ms = parseDuration(o.expires);
    if (!ms) throw new WardenError("input_invalid", `--expires '${o.expires}' must look like 30d, 12h, 90m or 45s`);
    expiresAt = new Date(now + ms).toISOString();
  }
  return { name, bind, expiresAt };
}

export type ListedToken = Omit<TokenRecord, "hash" | "prev" | "revoked_at" | "operator" | "bind"> & { revoked_at: string | null; operator: string | null; bind: string[] | null };

/** Every token, oldest first, with its usage (never its secret or hash). */
export async function listTokens(storage: TokenStorage): Promise<ListedToken[]> {
  const out: ListedToken[] = [];
  for (const key of await storage.list("t:", 100_000)) {
    const r = (await storage.get(key)) as TokenRecord | undefined;
    if (!r) continue;
    const u = (await storage.get(`u:${r.id}`)) as Usage | undefined;
    out.push({
      id: r.id,
      name: r.name,
      scopes: r.scopes,
      created_at: r.created_at,
      expires_at: r.expires_at,
      last_used_at: u?.last_used_at ?? r.last_used_at,
      last_request_at: u?.last_request_at ?? r.last_request_at,
      revoked_at: r.revoked_at,
      bootstrap: r.bootstrap,
      operator: r.operator ?? null,
      bind: r.bind ?? null,
    });
  }
  return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Revokes every live token of a removed operator (each audited through `record`); how many. */
export async function revokeOperatorTokens(
  auth: { list(): Promise<ListedToken[]>; revoke(id: string, record: (id: string, data: Record<string, unknown>) => Promise<void>): Promise<unknown> },
  operator: string,
  record: (id: string, data: Record<string, unknown>) => Promise<void>,
): Promise<number> {
  let n = 0;
  for (const t of await auth.list()) {
    if (t.operator === operator && !t.revoked_at) {
      await auth.revoke(t.id, record);
      n++;
    }
  }
  return n;
}

/**
 * A verified token may still not be used: its operator was removed on this host since (its tokens
 * are revoked too, which other hosts see through the epoch), or it is bound elsewhere.
 */
export function checkUse(identity: Identity, client: string, operatorExists: (name: string) => boolean, onAddressRefused?: (identity: Identity, client: string) => void): void {
  if (identity.operator !== undefined && !operatorExists(identity.operator))
    throw new WardenError("unauthorized", `token '${identity.name}' belonged to operator '${identity.operator}', who was removed`);
  if (identity.bind && !bindAllows(identity.bind, client)) {
    onAddressRefused?.(identity, client);
    throw new WardenError("address_not_allowed", `token '${identity.name}' may be used only from ${identity.bind.join(", ")}; this request came from ${client}`, {
      details: { bind: identity.bind, client },
    });
  }
}
