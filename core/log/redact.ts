// Secrets never reach a log line or the audit chain: fields with secret-bearing names are masked
// at any depth, and anything shaped like a Warden token is masked inside strings.
export const SECRET_FIELDS = ["authorization", "x-api-key", "token", "secret", "password", "cookie", "apikey", "api_key", "set-cookie"];
const SECRET_FIELD_SET = new Set(SECRET_FIELDS);
export const TOKEN_PATTERN = /wdn_[A-Za-z0-9_]{20,}/g;
export const REDACTED = "[redacted]";

export function scrubString(s: string): string {
  return s.replace(TOKEN_PATTERN, "wdn_" + REDACTED);
}

export function isSecretField(name: string): boolean {
  return SECRET_FIELD_SET.has(name.toLowerCase());
}

/** A redacted deep copy (depth- and size-bounded) of any value. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "[depth]";
  if (Array.isArray(value)) return value.slice(0, 1000).map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretField(k) ? REDACTED : redact(v, depth + 1);
  return out;
}
