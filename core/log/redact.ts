// Secrets never reach a log line or the audit chain: fields with secret-bearing names are masked at
// any depth (names compared case-insensitively), and anything shaped like a Warden token is masked
// inside strings. Shared by the logger and the audit chain.
export const SECRET_FIELDS = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "apikey",
  "api_key",
  "token",
  "access_token",
  "refresh_token",
  "secret",
  "client_secret",
  "password",
  "passwd",
  "cookie",
  "set-cookie",
  "private_key",
];
const SECRET_FIELD_SET = new Set(SECRET_FIELDS);
/** A Warden token (`wdn_` + base62 id, secret and checksum); no character in it needs JSON escaping. */
export const TOKEN_PATTERN = /wdn_[A-Za-z0-9_]{20,}/g;
export const REDACTED = "[redacted]";
export const TOKEN_REDACTED = "wdn_[redacted]";

const MAX_DEPTH = 8;
const MAX_ITEMS = 1000;

/** A URL inside any text, up to whitespace or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;
/** Query parameters that carry credentials (`?password=`, `sslpassword`, `api_token`, a one-time login `code`, ...). */
const SECRET_PARAM = /pass|secret|token|key|code/i;

/**
 * The URL with its credentials replaced by ***: the userinfo password (whatever characters it
 * holds, `@` included) and any query parameter named like a credential. A URL that does not parse
 * shows only its scheme.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, "***");
    return u.toString();
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    return scheme ? `${scheme}://(unparsable URL hidden)` : "(unparsable URL hidden)";
  }
}

/**
 * A request target as a server sees it (`/path?query`, no scheme): tokens masked, and the value of
 * every query parameter named like a credential replaced by ***.
 */
export function scrubRequestTarget(target: string): string {
  const s = scrubString(target);
  const q = s.indexOf("?");
  if (q < 0 || !SECRET_PARAM.test(s.slice(q))) return s;
  const parts = s
    .slice(q + 1)
    .split("&")
    .map((p) => {
      const eq = p.indexOf("=");
      return eq >= 0 && SECRET_PARAM.test(p.slice(0, eq)) ? `${p.slice(0, eq)}=***` : p;
    });
  return `${s.slice(0, q)}?${parts.join("&")}`;
}

export function scrubString(s: string): string {
  let out = s.includes("wdn_") ? s.replace(TOKEN_PATTERN, TOKEN_REDACTED) : s;
  // Only URLs that could carry a credential are rewritten; others are left exactly as written.
  if (out.includes("://")) out = out.replace(URL_IN_TEXT, (u) => (u.includes("@") || (u.includes("?") && SECRET_PARAM.test(u.slice(u.indexOf("?")))) ? redactUrl(u) : u));
  return out;
}

const UPPER = /[A-Z]/;

export function isSecretField(name: string): boolean {
  // Lower-case names (nearly all) are looked up without a copy.
  return SECRET_FIELD_SET.has(name) || (UPPER.test(name) && SECRET_FIELD_SET.has(name.toLowerCase()));
}

/**
 * A redacted, depth- and size-bounded deep copy of any value, with JSON.stringify's view of objects
 * (toJSON honoured, own enumerable keys) and Errors kept readable ({type, message, stack, code...})
 * instead of collapsing to {}. Values JSON cannot hold (functions, bigint) are passed through, so
 * canonicalJson can still refuse them.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH) return "[depth]";
  if (value instanceof Error) return redact(errorFields(value, depth), depth + 1);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function")
    return redact(
      guard(() => toJSON.call(value)),
      depth + 1,
    );
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const k of Object.keys(value)) {
    if (n++ >= MAX_ITEMS) break;
    const raw = guard(() => (value as Record<string, unknown>)[k]);
    // A field named url may be a bare request target (`/path?code=...`), which scrubString leaves alone.
    const v = isSecretField(k) ? REDACTED : k === "url" && typeof raw === "string" ? scrubRequestTarget(raw) : redact(raw, depth + 1);
    // Defined, not assigned: a "__proto__" key stays a plain key instead of swapping the prototype.
    if (k === "__proto__") Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

function errorFields(e: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.name, message: e.message, stack: e.stack };
  for (const k of Object.keys(e)) out[k] = guard(() => Reflect.get(e, k));
  if (e.cause !== undefined && depth < MAX_DEPTH) out.cause = e.cause;
  return out;
}

/** A throwing getter must not turn a log call or an audit append into a crash. */
function guard(get: () => unknown): unknown {
  try {
    return get();
  } catch {
    return "[unreadable]";
  }
}
