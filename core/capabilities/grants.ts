// A grant is a capability request from module.json in normal form: `{ name, params }`.
import type { CapabilityRequest } from "../../sdk/manifest.js";

export interface Grant {
  name: string;
  params: Record<string, unknown>;
}

export function toGrant(request: CapabilityRequest): Grant {
  if (typeof request === "string") return { name: request, params: {} };
  const { name, ...params } = request;
  return { name, params };
}

export function toGrants(requests: readonly CapabilityRequest[] | undefined): Grant[] {
  return (requests ?? []).map(toGrant);
}

/**
 * Matches a name against a permission-style pattern: `*` matches everything, `a.*` matches
 * `a.b` and `a.b.c`, anything else must be equal.
 */
export function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export function matchesAny(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => matchesPattern(p, name));
}
