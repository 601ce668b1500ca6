// Permission-style name patterns, shared by token scopes and capability scopes: `*` matches
// everything, `a.*` matches `a.b` and `a.b.c`, anything else must be equal.

export function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export function matchesAny(patterns: readonly string[], name: string): boolean {
  for (const p of patterns) if (matchesPattern(p, name)) return true;
  return false;
}

/**
 * Whether every name `scope` matches is matched by `limit` (a token's scope within what its asker
 * or its operator holds): `security.*` is within `security.*` or `*`, not within `security.manage`.
 */
export function patternWithin(limit: readonly string[], scope: string): boolean {
  if (!scope.endsWith(".*") && scope !== "*") return matchesAny(limit, scope);
  for (const p of limit) {
    if (p === "*" || p === scope) return true;
    if (p.endsWith(".*") && scope !== "*" && scope.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}
