// Typed scopes: each scoped capability's parameters parsed once into a descriptor (Deno's permission
// descriptors are the model), with one documented default, checked by one function, compared by
// one function when an upgrade changes them.
//
// The rule for wildcards: in a scoped capability, a pattern reaches only the module's own names
// (its own config keys and events, the commands and events of the user modules it depends on)
// unless it names something else explicitly. `"*"` is therefore always safe to grant without
// approval; `"auth.*"`, `"api.port"` or `"billing.*"` (not a dependency) reach beyond the module
// and make the grant elevated: an operator approves it, pinned to the manifest's hash.
import { isInternalHostEntry } from "./internal-addresses.js";
import { matchesPattern } from "./patterns.js";

/** What a module's own names are; computed by the loader from its manifest and the installed modules. */
export interface ScopeFacts {
  moduleId: string;
  /** Ids of the user modules it lists in `dependencies` (system modules are never "own"). */
  userDependencies: readonly string[];
}

/** A list of patterns: `relative` is set by "*" (the module's own names); `explicit` names the rest. */
export interface PatternScope {
  readonly relative: boolean;
  readonly explicit: readonly string[];
}

export interface NetScope {
  readonly hosts: readonly string[];
}

export interface Scopes {
  "commands.invoke": PatternScope;
  "config.read": PatternScope;
  "events.emit": PatternScope;
  "events.subscribe": PatternScope;
  "net.fetch": NetScope;
}

export type ScopedCapability = keyof Scopes;

interface ScopeKind<S> {
  /** The parameter that holds the patterns. */
  param: string;
  /** One documented default when the parameter is absent. */
  defaultText: string;
  parse(params: Record<string, unknown>): S;
  /** Patterns that reach beyond the module's own names (non-empty: the grant is elevated). */
  beyondOwn(scope: S, facts: ScopeFacts): string[];
  /** Patterns of `next` that `prev` did not cover (non-empty: the upgrade widens the grant). */
  widening(prev: S, next: S): string[];
  describe(scope: S): string;
}

function patternList(params: Record<string, unknown>, param: string, fallback: readonly string[]): PatternScope {
  const raw = params[param];
  const list = Array.isArray(raw) ? raw.filter((p): p is string => typeof p === "string") : fallback;
  const explicit = [...new Set(list.filter((p) => p !== "*"))].sort();
  return Object.freeze({ relative: list.includes("*"), explicit: Object.freeze(explicit) });
}

/** Whether pattern `outer` matches every name pattern `inner` can match. */
export function patternCovers(outer: string, inner: string): boolean {
  if (outer === "*") return true;
  if (inner === "*") return false;
  if (outer.endsWith(".*")) return inner.startsWith(outer.slice(0, -1));
  return outer === inner;
}

function patternWidening(prev: PatternScope, next: PatternScope): string[] {
  const out: string[] = [];
  if (next.relative && !prev.relative) out.push("*");
  for (const p of next.explicit) if (!prev.explicit.some((q) => patternCovers(q, p))) out.push(p);
  return out;
}

function describePatterns(param: string, s: PatternScope): string {
  const parts = [...(s.relative ? ["* (own names)"] : []), ...s.explicit];
  return `${param}: ${parts.join(", ") || "own names only"}`;
}

/** The first dotted segment of a pattern, or undefined for "*". */
function namespaceOf(pattern: string): string | undefined {
  if (pattern === "*") return undefined;
  const dot = pattern.indexOf(".");
  return dot < 0 ? pattern : pattern.slice(0, dot);
}

function underOwn(pattern: string, owners: readonly string[]): boolean {
  const ns = namespaceOf(pattern);
  return ns !== undefined && pattern !== ns && owners.includes(ns);
}

const KINDS: { [K in ScopedCapability]: ScopeKind<Scopes[K]> } = {
  "commands.invoke": {
    param: "commands",
    defaultText: 'required; "*" means the commands of the user modules it depends on',
    parse: (p) => patternList(p, "commands", []),
    beyondOwn: (s, f) => s.explicit.filter((p) => !underOwn(p, [f.moduleId, ...f.userDependencies])),
    widening: patternWidening,
    describe: (s) => describePatterns("commands", s),
  },
  "config.read": {
    param: "keys",
    defaultText: 'its own settings (<id>.*); "*" means the same',
    parse: (p) => patternList(p, "keys", []),
    beyondOwn: (s, f) => s.explicit.filter((p) => !underOwn(p, [f.moduleId])),
    widening: patternWidening,
    describe: (s) => describePatterns("keys", s),
  },
  "events.emit": {
    param: "events",
    defaultText: 'its own events (<id>.*); "*" means the same',
    parse: (p) => patternList(p, "events", ["*"]),
    beyondOwn: (s, f) => s.explicit.filter((p) => !underOwn(p, [f.moduleId])),
    widening: patternWidening,
    describe: (s) => describePatterns("events", s),
  },
  "events.subscribe": {
    param: "events",
    defaultText: 'its own events and those of the user modules it depends on; "*" means the same',
    parse: (p) => patternList(p, "events", ["*"]),
    beyondOwn: (s, f) => s.explicit.filter((p) => !underOwn(p, [f.moduleId, ...f.userDependencies])),
    widening: patternWidening,
    describe: (s) => describePatterns("events", s),
  },
  "net.fetch": {
    param: "hosts",
    defaultText: "required; no default",
    parse: (p) => {
      const raw = Array.isArray(p.hosts) ? p.hosts.filter((h): h is string => typeof h === "string") : [];
      return Object.freeze({ hosts: Object.freeze([...new Set(raw.map((h) => h.toLowerCase()))].sort()) });
    },
    // Any host is a deliberate choice: "*" alone needs an operator.
    // "*", and anything inside the host's own networks (loopback, where the host's own API listens,
    // private and link-local ranges, the metadata address): an operator approves those.
    beyondOwn: (s) => s.hosts.filter((h) => h === "*" || isInternalHostEntry(h)),
    widening: (prev, next) => next.hosts.filter((h) => !prev.hosts.some((q) => hostCovers(q, h))),
    describe: (s) => `hosts: ${s.hosts.join(", ")}`,
  },
};

/** Host pattern `outer` ("*", "*.example.com", "example.com", with optional :port) covers `inner`. */
export function hostCovers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (outer.startsWith("*.")) {
    const suffix = outer.slice(1);
    return inner.endsWith(suffix) && !inner.slice(0, -suffix.length).includes(":");
  }
  return false;
}

export function isScoped(name: string): name is ScopedCapability {
  return Object.prototype.hasOwnProperty.call(KINDS, name);
}

export function parseScope<K extends ScopedCapability>(name: K, params: Record<string, unknown>): Scopes[K] {
  return (KINDS[name] as ScopeKind<Scopes[K]>).parse(params);
}

export function beyondOwn<K extends ScopedCapability>(name: K, scope: Scopes[K], facts: ScopeFacts): string[] {
  return (KINDS[name] as ScopeKind<Scopes[K]>).beyondOwn(scope, facts);
}

export function scopeWidening<K extends ScopedCapability>(name: K, prev: Scopes[K], next: Scopes[K]): string[] {
  return (KINDS[name] as ScopeKind<Scopes[K]>).widening(prev, next);
}

export function describeScope<K extends ScopedCapability>(name: K, scope: Scopes[K]): string {
  return (KINDS[name] as ScopeKind<Scopes[K]>).describe(scope);
}

export function scopeDefault(name: ScopedCapability): { param: string; text: string } {
  return { param: KINDS[name].param, text: KINDS[name].defaultText };
}

// --- the checks, one function per question ---------------------------------------------------

/** May the module read this full config key? Its own keys always; others only explicitly. */
export function coversConfigKey(s: PatternScope, facts: ScopeFacts, key: string): boolean {
  if (key.startsWith(`${facts.moduleId}.`)) return true;
  return s.explicit.some((p) => matchesPattern(p, key));
}

/** May the module emit this event? Its own events always; others only explicitly. */
export function coversEmit(s: PatternScope, facts: ScopeFacts, event: string): boolean {
  if (event.startsWith(`${facts.moduleId}.`)) return true;
  return s.explicit.some((p) => matchesPattern(p, event));
}

/**
 * May the module subscribe to this pattern? Relative reach is its own and its user dependencies'
 * events; a subscription pattern must fall entirely inside what is granted.
 */
export function coversSubscription(s: PatternScope, facts: ScopeFacts, pattern: string): boolean {
  if (s.relative) {
    const ns = namespaceOf(pattern);
    if (ns !== undefined && pattern !== ns && [facts.moduleId, ...facts.userDependencies].includes(ns)) return true;
  }
  return s.explicit.some((p) => patternCovers(p, pattern));
}

/** The facts of a command the policy point needs. */
export interface CommandTarget {
  permission: string;
  /** Owning module id (or host namespace). */
  module: string;
  kind: "host" | "system" | "user";
}

/**
 * May the module invoke this command? "*" reaches the user modules it depends on; an explicit
 * pattern is matched against the command's permission, as a token's scope is.
 */
export function coversCommand(s: PatternScope, facts: ScopeFacts, target: CommandTarget): boolean {
  if (s.relative && target.kind === "user" && (target.module === facts.moduleId || facts.userDependencies.includes(target.module))) return true;
  return s.explicit.some((p) => matchesPattern(p, target.permission));
}
