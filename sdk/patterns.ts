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
