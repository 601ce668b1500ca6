// Warden's public error contract: the catalogue of stable codes (each with its CLI exit code, HTTP
// status and advice) and the error shape every surface uses (the CLI's --json output, REST bodies,
// the sandbox bridge). Core imports it from here; a code is never renamed, only added.

export interface ErrorFields {
  /** A stable code from Warden's catalogue (see docs/manifest-reference.md#error-codes). */
  code: ErrorCode | (string & {});
  message: string;
  reason?: string;
  retry_after?: number;
  blocked_until?: string;
  locked_until?: string;
  details?: unknown;
}

export interface ErrorBody {
  error: ErrorFields;
}

export interface ErrorSpec {
  /** CLI exit code: 2 usage/input, 3 denied, 4 module unavailable or failed, 1 other. */
  exit: 1 | 2 | 3 | 4;
  /** HTTP status the REST surface answers with. */
  http: number;
  /** What an operator or caller should do about it; appended to messages that lack advice. */
  hint: string;
}

export const ERROR_CATALOGUE = {
  usage: { exit: 2, http: 400, hint: "Run with --help to see the expected arguments." },
  manifest_invalid: { exit: 2, http: 400, hint: "Fix module.json; `warden module check <dir>` shows every problem." },
  bundle_failed: {
    exit: 2,
    http: 503,
    hint: "The module's code does not bundle (a syntax error, or an import of a package, a Node builtin or a file outside its folder); `warden module check <dir>` shows where.",
  },
  typecheck_failed: { exit: 2, http: 400, hint: "Fix the TypeScript errors `warden module check <dir>` lists with file and line." },
  module_duplicate: { exit: 4, http: 409, hint: "Two module folders declare the same id; remove or rename one." },
  dependency_unresolved: { exit: 4, http: 503, hint: "Install or fix the named dependency, or relax the version range." },
  dependency_cycle: { exit: 4, http: 503, hint: "Break the cycle: a module may not depend on itself through others." },
  host_incompatible: { exit: 4, http: 503, hint: "Use a module version whose `host` range includes this host's version." },
  approval_required: { exit: 3, http: 403, hint: "An operator must run `warden module approve <id>`." },
  approval_stale: { exit: 2, http: 409, hint: "What awaits approval changed; run `warden module inspect <id>` and approve what it shows." },
  capability_denied: { exit: 3, http: 403, hint: "Declare the capability in module.json and have it granted." },
  forbidden: { exit: 3, http: 403, hint: "Use a token whose scopes include the command's permission." },
  unauthorized: { exit: 3, http: 401, hint: "Send a valid token in `Authorization: Bearer` or `X-API-Key`." },
  token_expired: { exit: 3, http: 401, hint: "Ask an operator for a new token (`warden auth grant`)." },
  token_revoked: { exit: 3, http: 401, hint: "Ask an operator for a new token (`warden auth grant`)." },
  session_expired: { exit: 3, http: 401, hint: "Log in to the console again: `warden console` prints a new one-time login URL." },
  login_code_invalid: { exit: 3, http: 401, hint: "Login URLs work once and for a few minutes; run `warden console` for a new one." },
  authorization_pending: { exit: 3, http: 400, hint: "An operator approves the code in the console (Sign in a CLI); `warden login` waits for it." },
  device_code_invalid: { exit: 3, http: 400, hint: "Sign-in codes work once and for ten minutes; run `warden login` again." },
  refresh_reused: { exit: 3, http: 401, hint: "A refresh token works once; the CLI session was revoked because an old one came back. Run `warden login` again." },
  oidc_unavailable: { exit: 1, http: 503, hint: "Check console.oidc.issuer and console.oidc.client_id, and that the identity provider answers; `warden console` still gives a one-time login URL." },
  oidc_state_invalid: { exit: 3, http: 401, hint: "Start the sign-in again from the console's login page, in the same browser." },
  oidc_code_invalid: { exit: 3, http: 401, hint: "A sign-in code works once; start the sign-in again from the console's login page." },
  oidc_token_invalid: { exit: 3, http: 401, hint: "The identity provider's ID token did not verify (issuer, audience, nonce, signature); check console.oidc.client_id, then sign in again." },
  oidc_refused: { exit: 3, http: 401, hint: "The identity provider refused the sign-in; try again, or ask its administrator." },
  oidc_operator_unknown: { exit: 3, http: 403, hint: "No operator signs in as this identity: an admin runs `warden operator add NAME --role ROLE --email ADDRESS` (or --subject)." },
  tls_required: { exit: 1, http: 500, hint: "Give the REST API a certificate (api.tls_cert, api.tls_key) or listen on loopback; `warden security profile` shows what the profile expects." },
  address_not_allowed: {
    exit: 3,
    http: 403,
    hint: "This token or console session is bound to other addresses (`warden auth list` shows its bind); use it from there, or ask for one bound to where you are.",
  },
  bootstrap_token_rejected: { exit: 3, http: 403, hint: "The bootstrap token is for local tooling; grant a REST token with `warden auth grant`." },
  command_not_declared: { exit: 2, http: 400, hint: 'Declare the command under "commands" in module.json before registering it.' },
  command_not_found: { exit: 2, http: 404, hint: "Run `warden --help` or `warden <module> --help` to list commands." },
  module_not_found: { exit: 2, http: 404, hint: "Run `warden module list` to see known modules." },
  secret_unavailable: { exit: 1, http: 500, hint: "The secret key is missing or wrong; restore <home>/secret.key or WARDEN_SECRET_KEY." },
  method_not_allowed: { exit: 2, http: 405, hint: "Use a method the Allow header lists." },
  not_found: { exit: 2, http: 404, hint: "Check the name or id; list commands show what exists." },
  second_operator_required: {
    exit: 3,
    http: 403,
    hint: "Two-person approval is on (approvals.required 2): run the change as a command (it is filed as a request), and have another operator approve it with `warden approval approve ID`.",
  },
  approval_expired: { exit: 3, http: 409, hint: "Requests wait approvals.ttl_minutes for a second operator; file the change again." },
  request_decided: { exit: 3, http: 409, hint: "`warden approval list` shows who decided it and when." },
  input_invalid: { exit: 2, http: 400, hint: "Fix the listed fields; `warden <module> <command> --help` shows the input." },
  config_invalid: { exit: 2, http: 400, hint: "Run `warden config list` to see keys and their current values." },
  module_unavailable: { exit: 4, http: 503, hint: "Run `warden module inspect <id>` to see why the module is not active." },
  module_error: { exit: 1, http: 502, hint: "The module reported an error; see its message." },
  timeout: { exit: 4, http: 504, hint: "The module overran its time limit; raise limits.timeoutMs or fix the module." },
  memory_limit: { exit: 4, http: 502, hint: "The module exceeded its memory limit; raise limits.memoryMb or fix the module." },
  module_crashed: { exit: 4, http: 502, hint: "The module's sandbox process died; it is restarted automatically." },
  quota_exceeded: { exit: 1, http: 507, hint: "Delete data or raise storage.maxBytesPerModule." },
  integrity_failed: { exit: 4, http: 503, hint: "The module's files changed since install; reinstall it." },
  signature_missing: {
    exit: 3,
    http: 403,
    hint: "Signatures are required (modules.require_signature): install the pack with its .sig beside it, signed by a trusted publisher (`warden module pack --sign`).",
  },
  signature_invalid: { exit: 3, http: 403, hint: "The pack or its signature was changed after signing; get both again from the publisher. `warden module verify <pack>` shows what is wrong." },
  publisher_untrusted: { exit: 3, http: 403, hint: "The pack is signed by a key the trust policy does not hold; `warden trust add <key.pub> --name <publisher>` trusts it." },
  publisher_not_allowed: { exit: 3, http: 403, hint: "The publisher's key is trusted only for other module ids; widen its --ids with `warden trust add` if it may ship this one." },
  module_blocked: { exit: 3, http: 403, hint: "An operator blocked this exact pack; `warden module blocked` says why. Install another version." },
  rate_limited: { exit: 1, http: 429, hint: "Wait for Retry-After seconds before calling again." },
  blocked: { exit: 3, http: 429, hint: "This client is blocked; wait for Retry-After seconds or ask an operator." },
  locked_down: { exit: 4, http: 503, hint: "The host is in lockdown; wait for Retry-After seconds." },
  security_unavailable: { exit: 4, http: 503, hint: "Security state cannot be read; the request is refused to stay safe." },
  cache_unavailable: { exit: 4, http: 503, hint: "The fleet's shared cache (Redis) cannot be reached; retry once it is back." },
  store_unavailable: { exit: 4, http: 503, hint: "The store (PostgreSQL) cannot be reached; check that it runs and that --store / WARDEN_STORE_URL names it. Retry once it is back." },
  address_in_use: { exit: 4, http: 503, hint: "Another process listens on that address and port; stop it, or set api.port (or --api-port) to a free port." },
  listen_failed: { exit: 4, http: 503, hint: "The surface could not listen; check api.host, api.port and the TLS files named in the message." },
  api_disabled: { exit: 4, http: 503, hint: "Run `warden config set api.enabled true` and restart `warden serve`." },
  malformed_request: { exit: 2, http: 400, hint: "Send a JSON object body." },
  payload_too_large: { exit: 2, http: 413, hint: "Send a smaller body or raise api.body_limit." },
  unsupported_media_type: { exit: 2, http: 415, hint: "Send `Content-Type: application/json`." },
  audit_failed: { exit: 1, http: 500, hint: "The audit chain could not be written; the action was not performed." },
  internal: { exit: 1, http: 500, hint: "This is a Warden bug; please report it with the log line." },
  call_depth_exceeded: { exit: 1, http: 508, hint: "Modules invoking commands nested deeper than sandbox.maxCallDepth (a module invoking itself?); fix the loop, or raise the setting." },
  capability_required: {
    exit: 2,
    http: 409,
    hint: "A system module needs that capability; revoking it breaks what the message names. Pass --force to revoke it anyway; `warden module approve <id>` gives it back.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Whether `code` is one of the catalogue's. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code);
}

/** The CLI's exit code for an error code (1 for one outside the catalogue). */
export function exitCodeFor(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOGUE[code].exit : 1;
}

/** The REST status for an error code (500 for one outside the catalogue). */
export function httpStatusFor(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOGUE[code].http : 500;
}

/** What an error carries besides its code and message. */
export interface ErrorExtras {
  details?: unknown;
  reason?: string;
  retryAfter?: number;
  blockedUntil?: string;
  lockedUntil?: string;
  cause?: unknown;
}

/**
 * An error with a code from the catalogue: what system modules throw on purpose (the host answers
 * it with the code's status and exit code), and the base of the host's own HostError. A user
 * module's error never carries a host code across: whatever it throws is its own module_error.
 */
export class WardenError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly reason?: string;
  readonly retryAfter?: number;
  readonly blockedUntil?: string;
  readonly lockedUntil?: string;

  constructor(code: ErrorCode, message: string, extras: ErrorExtras = {}) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.name = "WardenError";
    this.code = code;
    if (extras.details !== undefined) this.details = extras.details;
    if (extras.reason !== undefined) this.reason = extras.reason;
    if (extras.retryAfter !== undefined) this.retryAfter = extras.retryAfter;
    if (extras.blockedUntil !== undefined) this.blockedUntil = extras.blockedUntil;
    if (extras.lockedUntil !== undefined) this.lockedUntil = extras.lockedUntil;
  }

  get spec(): ErrorSpec {
    return ERROR_CATALOGUE[this.code];
  }

  /** The wire shape shared by the CLI's --json output, REST bodies and the control socket. */
  toJSON(): ErrorFields {
    return errorFields(this.code, this.message, this);
  }
}

/**
 * A WardenError from this copy of the SDK or another: each module's bundle carries its own copy of
 * this file, so `instanceof` holds only within one bundle. It is an Error with a catalogued code.
 */
export function isWardenError(e: unknown): e is WardenError {
  return e instanceof Error && isErrorCode((e as { code?: unknown }).code);
}

/** What an error carries besides its code and message, read from its fields (whichever copy made it). */
export function extrasOf(e: WardenError): ErrorExtras {
  const out: ErrorExtras = {};
  if (e.details !== undefined) out.details = e.details;
  if (e.reason !== undefined) out.reason = e.reason;
  if (e.retryAfter !== undefined) out.retryAfter = e.retryAfter;
  if (e.blockedUntil !== undefined) out.blockedUntil = e.blockedUntil;
  if (e.lockedUntil !== undefined) out.lockedUntil = e.lockedUntil;
  if (e.cause !== undefined) out.cause = e.cause;
  return out;
}

/** The wire fields of an error: snake_case, and only the fields it has. */
export function errorFields(code: ErrorFields["code"], message: string, e: Omit<ErrorExtras, "cause">): ErrorFields {
  const out: ErrorFields = { code, message };
  if (e.reason !== undefined) out.reason = e.reason;
  if (e.retryAfter !== undefined) out.retry_after = e.retryAfter;
  if (e.blockedUntil !== undefined) out.blocked_until = e.blockedUntil;
  if (e.lockedUntil !== undefined) out.locked_until = e.lockedUntil;
  if (e.details !== undefined) out.details = e.details;
  return out;
}

/**
 * The refusals written in many places, worded once: each says what is missing and the command
 * that lists what exists.
 */
export const refusals = {
  moduleNotFound: (id: string) => new WardenError("module_not_found", `no module '${id}' is installed; run \`warden module list\``, { details: { id } }),
  tokenNotFound: (ref: string) => new WardenError("not_found", `no token with id or name '${ref}'; run \`warden auth list\``, { details: { id: ref } }),
  sessionNotFound: (id: string) => new WardenError("not_found", `no open console session '${id}'; \`warden console sessions\` lists them`, { details: { id } }),
  secretNotFound: (module: string, name: string) =>
    new WardenError("not_found", `module '${module}' has no secret '${name}'; \`warden secrets list ${module}\` shows its secrets`, { details: { module, name } }),
} as const;
