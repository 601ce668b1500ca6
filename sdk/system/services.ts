// The services trusted (system) modules offer one another and the host offers them: one map from
// name to shape, which `ctx.services.provide`, `use` and `host` are checked against on both sides.
// It augments the public ModuleContext's (empty) maps only where this file is imported, so a module
// author's editor, which sees `sdk/index.ts` alone, never loads Redis or Fastify types.
import type { CacheApi } from "../context.js";
import type { AccessLog } from "./access-log.js";
import type { FleetLock, RedisBackend } from "./fleet.js";

// ---- security: the REST surface's per-request decision ----

/** A request is let through: by whom, the window it counts in, and (fleet) the revocation epoch read. */
export interface Allowance {
  allow: true;
  client: string;
  limit?: { limit: number; remaining: number; reset: number };
  /** With a fleet's Redis: the revocation epoch read in the same step (token caches check it). */
  epoch?: string;
}

/** A request is refused, with the status and error fields the surface answers with. */
export interface Refusal {
  allow: false;
  status: number;
  code: "rate_limited" | "blocked" | "locked_down" | "security_unavailable";
  message: string;
  reason: string;
  retry_after?: number;
  blocked_until?: string;
  locked_until?: string;
  /** The limit that was crossed (requests per window), for RateLimit headers. */
  limit?: number;
}

export type Decision = Allowance | Refusal;

export interface SecurityService {
  /** A fleet's security state answers asynchronously (Redis); a single host's at once. */
  check(client: string): Decision | Promise<Decision>;
  recordFailure(client: string): Decision | Promise<Decision>;
  /** The client a request counts as: the peer, or X-Forwarded-For's when the peer is a trusted proxy. */
  clientAddress(peer: string, forwardedFor?: string): string;
}

// ---- auth: token verification for the REST surface ----

export interface Identity {
  tokenId: string;
  name: string;
  scopes: string[];
  bootstrap: boolean;
  /** The operator the token belongs to; absent: a service account's token. */
  operator?: string;
  /** CIDRs it may be used from; absent: anywhere. Sessions it opens are bound to them too. */
  bind?: string[];
}

export interface AuthService {
  /** `epoch`: the revocation epoch the security check read (fleet), against which cached verifications are checked. */
  verify(token: string, client?: string, epoch?: string): Promise<Identity>;
  noteUse(tokenId: string): Promise<void>;
  /** The current credential fingerprint of a live token; undefined once it is revoked or expired. */
  credential(tokenId: string): Promise<string | undefined>;
  /** The fleet's clock (Redis TIME in a fleet, this host's otherwise). */
  now(): number;
  /** A token minted by the trusted surface itself (the newcomer's example token). */
  grant(o: { name: string; scopes: string[] }): Promise<{ token: string }>;
  /** How many argon2 verifications this host ran (for the limits tests and the bench). */
  argonRuns(): number;
  /** CLI sign-in (`warden login`): device authorization, then rotating refresh tokens. */
  cli: CliSignIn;
}

export interface CliTokens {
  access_token: string;
  access_expires_at: string;
  refresh_token: string;
  operator: string;
  scopes: string[];
  family: string;
}

export interface CliSignIn {
  start(client: string): Promise<{ device_code: string; user_code: string; expires_in: number; interval: number }>;
  token(deviceCode: string, client: string): Promise<CliTokens>;
  refresh(refreshToken: string, client: string): Promise<CliTokens>;
  logout(refreshToken: string): Promise<{ family: string; ended: boolean }>;
}

// ---- console: sessions ----

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
  /** Whose session it is: `operator:local` or `token:<id>` (a session's children inherit it). Slots are counted per principal. */
  principal: string;
  /** The named operator it belongs to (their token or sign-in opened it); it ends when they are removed. */
  operator?: string;
  /** CIDRs it may be used from (its token's, or its parent's); absent: anywhere. */
  bind?: string[];
  /** The session whose login URL opened this one: it ends with it. */
  parent?: string;
  /** The absolute end: max_hours after the first session of its line opened. */
  deadline: string;
  /** The token it stands on, when a token opened it or asked for its login URL. */
  token?: TokenBond;
  client: string;
  created_at: string;
  last_seen: string;
}

export interface ConsoleService {
  /** Where the serving host's REST surface listens, with the console on; undefined when it is not served. */
  setAddress(url: string | undefined): void;
  login(code: string, client: string): Promise<{ record: SessionRecord; cookie: string }>;
  loginWithToken(token: { tokenId: string; scopes: string[]; operator?: string; bind?: string[] }, client: string): Promise<{ record: SessionRecord; cookie: string }>;
  /** `client`: the address the request comes from, checked against the session's bind list. */
  verify(cookie: string, client: string): Promise<SessionRecord>;
  /** OpenID Connect sign-in: whether it is configured, where to send the browser, and the callback. */
  oidc: {
    enabled(): boolean;
    start(client: string): Promise<{ url: string; state: string }>;
    /** `query`: the callback's query string (`?code=...&state=...`). */
    finish(query: string, cookieState: string | undefined, client: string): Promise<{ record: SessionRecord; cookie: string }>;
  };
  logout(id: string): Promise<void>;
}

// ---- cache: the namespaces behind cache.use ----

export interface CacheService {
  /** What the cache.use capability exposes to a module: its own namespace, within its budgets (the SDK's CacheApi). */
  forModule(moduleId: string): CacheApi;
}

// ---- surfaces: what `warden serve` starts ----

export interface Surface {
  start(): Promise<{ url?: string; lines?: string[] }>;
  stop(): Promise<void>;
  address?(): string | undefined;
}

/** Services between system modules, by name. */
export interface SystemServices {
  auth: AuthService;
  security: SecurityService;
  console: ConsoleService;
  cache: CacheService;
  "surface:api": Surface;
}

// ---- principals: the host's named operators, for the modules that keep their credentials ----

export interface PrincipalService {
  /** The operator's permissions now (the union of their roles'); undefined when there is no such operator. */
  permissionsOf(name: string): string[] | undefined;
  /** The operator who signs in with this identity-provider claim, if any. */
  byClaim(claim: "email" | "sub", value: string): string | undefined;
  /** Called when an operator is removed: end what belongs to them, and answer how many ended. */
  onRemoved(fn: (name: string, actor: string) => Promise<number>): () => void;
}

/** Services the host offers its system modules (the operators; when configured, a fleet's Redis and lock, the access log). */
export interface HostServices {
  principals: PrincipalService;
  "backend:redis": RedisBackend;
  "backend:lock": FleetLock;
  "log:access": AccessLog;
}

declare module "../context.js" {
  interface ServiceMap extends SystemServices {}
  interface HostServiceMap extends HostServices {}
}
