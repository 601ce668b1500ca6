// Grants: a module's capability requests (module.json) parsed once into typed form. The host's
// checks read a GrantSet; what is elevated and what an upgrade adds are decided here, by comparing
// typed scopes, never names alone.
import type { CapabilityRequest } from "../../sdk/manifest.js";
import { isElevated } from "../hostapi/catalogue.js";
import { beyondOwn, describeScope, isScoped, parseScope, scopeWidening, type ScopeFacts, type ScopedCapability, type Scopes } from "./scopes.js";

/** A capability request in normal form, as declared. */
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

/** The capabilities a module holds now, with their scopes parsed once. Immutable: a revoke makes a new set. */
export class GrantSet {
  readonly #grants: readonly Grant[];
  readonly #names: ReadonlySet<string>;
  readonly #scopes: Partial<Scopes>;
  readonly facts: ScopeFacts;
  /** System modules: every scope check passes (they are trusted code in the host process). */
  readonly unrestricted: boolean;

  constructor(grants: readonly Grant[], facts: ScopeFacts, unrestricted = false) {
    this.unrestricted = unrestricted;
    this.facts = Object.freeze({ moduleId: facts.moduleId, userDependencies: Object.freeze([...facts.userDependencies]) });
    this.#grants = Object.freeze(grants.map((g) => Object.freeze({ name: g.name, params: Object.freeze({ ...g.params }) })));
    this.#names = new Set(grants.map((g) => g.name));
    const scopes: Partial<Record<ScopedCapability, unknown>> = {};
    for (const g of grants) if (isScoped(g.name)) scopes[g.name] = parseScope(g.name, g.params);
    this.#scopes = scopes as Partial<Scopes>;
  }

  static empty(moduleId: string): GrantSet {
    return new GrantSet([], { moduleId, userDependencies: [] });
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  scope<K extends ScopedCapability>(name: K): Scopes[K] | undefined {
    return this.#scopes[name];
  }

  names(): string[] {
    return [...this.#names].sort();
  }

  /** The set minus runtime revocations. */
  without(revoked: ReadonlySet<string>): GrantSet {
    return new GrantSet(
      this.#grants.filter((g) => !revoked.has(g.name)),
      this.facts,
      this.unrestricted,
    );
  }

  /** As module.json writes them (for `module inspect`). */
  requests(): Array<string | ({ name: string } & Record<string, unknown>)> {
    return this.#grants.map((g) => (Object.keys(g.params).length ? { name: g.name, ...g.params } : g.name));
  }
}

/** Why a request needs an operator: an elevated capability, or a scope beyond the module's own names. */
export interface Elevation {
  capability: string;
  reason: string;
}

export function elevations(grants: readonly Grant[], facts: ScopeFacts): Elevation[] {
  const out: Elevation[] = [];
  for (const g of grants) {
    if (isElevated(g.name)) out.push({ capability: g.name, reason: "elevated capability" });
    else if (isScoped(g.name)) {
      const beyond = beyondOwn(g.name, parseScope(g.name, g.params) as never, facts);
      if (beyond.length) out.push({ capability: g.name, reason: `reaches beyond its own names: ${beyond.join(", ")}` });
    }
  }
  return out;
}

/** One line per grant, as an operator reads it: `net.fetch (hosts: api.example.com)`. */
export function describeGrant(g: Grant): string {
  if (!isScoped(g.name)) return g.name;
  return `${g.name} (${describeScope(g.name, parseScope(g.name, g.params) as never)})`;
}

export interface GrantDiff {
  /** New capabilities and widened scopes, e.g. `net.fetch hosts +169.254.169.254`. */
  added: string[];
  removed: string[];
}

/** Scoped capabilities whose "*" reaches the user modules a module depends on. */
const REACHES_DEPENDENCIES: ReadonlySet<string> = new Set(["commands.invoke", "events.subscribe"]);

/**
 * What an upgrade from `prev` to `next` adds: new capabilities, widened scopes of kept ones, and
 * (given both versions' facts) the new reach of a "*" through a newly listed dependency.
 */
export function compareGrants(prev: readonly Grant[], next: readonly Grant[], facts?: { prev: ScopeFacts; next: ScopeFacts }): GrantDiff {
  const before = new Map(prev.map((g) => [g.name, g]));
  const after = new Map(next.map((g) => [g.name, g]));
  const added: string[] = [];
  for (const [name, g] of after) {
    const old = before.get(name);
    if (!old) {
      added.push(describeGrant(g));
      continue;
    }
    if (isScoped(name)) {
      const widened = widen(name, old, g);
      if (widened.length) added.push(`${name} widened: +${widened.join(", +")}`);
    }
  }
  if (facts) {
    const newDeps = facts.next.userDependencies.filter((d) => !facts.prev.userDependencies.includes(d));
    for (const [name, g] of after) {
      if (!REACHES_DEPENDENCIES.has(name) || !isScoped(name) || newDeps.length === 0) continue;
      const scope = parseScope(name, g.params) as { relative: boolean };
      if (scope.relative && before.has(name)) added.push(`${name} widened through new dependencies: +${newDeps.map((d) => `${d}.*`).join(", +")}`);
    }
  }
  const removed = [...before.keys()].filter((n) => !after.has(n));
  return { added, removed };
}

function widen<K extends ScopedCapability>(name: K, prev: Grant, next: Grant): string[] {
  return scopeWidening(name, parseScope(name, prev.params), parseScope(name, next.params));
}
