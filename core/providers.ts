// Which module provides what a capability opens. A provider declares it in its manifest's
// `provides` (so the host knows it before running any code, and can activate the provider on
// demand when a granted module first uses it):
//   "provides": { "cache.use": { "service": "cache" } }        ctx.cache.* runs on the in-process
//                                                              service "cache" (its forModule(id))
//   "provides": { "security.manage": { "namespace": "security" } }
//                                                              ctx.security.<cmd>(input) runs the
//                                                              provider's command <cmd>, whose
//                                                              permission must be "security.manage"
// core names no module: it knows capabilities (the catalogue) and asks this index who provides them.
import type { Provision } from "../sdk/manifest.js";
import { HostError } from "./base/errors.js";
import type { ServiceRegistry } from "./services.js";

export interface Provided {
  module: string;
  capability: string;
  service?: string;
  namespace?: string;
}

export class ProviderIndex {
  readonly #byCapability = new Map<string, Provided>();
  readonly #byNamespace = new Map<string, Provided>();
  readonly #services: ServiceRegistry;
  readonly #activate: (moduleId: string) => Promise<void>;

  constructor(services: ServiceRegistry, activate: (moduleId: string) => Promise<void>) {
    this.#services = services;
    this.#activate = activate;
  }

  /** Records a module's `provides`; a capability or namespace provided twice is refused. */
  declare(moduleId: string, provides: Readonly<Record<string, Provision>> | undefined): void {
    const mine: Provided[] = Object.entries(provides ?? {}).map(([capability, p]) => ({ module: moduleId, capability, ...p }));
    for (const p of mine) {
      const other = this.#byCapability.get(p.capability);
      if (other && other.module !== moduleId) throw new HostError("module_duplicate", `capability '${p.capability}' is already provided by module '${other.module}'`);
      const ns = p.namespace === undefined ? undefined : this.#byNamespace.get(p.namespace);
      if (ns && ns.module !== moduleId) throw new HostError("module_duplicate", `context namespace '${p.namespace}' is already provided by module '${ns.module}'`);
    }
    this.forget(moduleId);
    for (const p of mine) {
      this.#byCapability.set(p.capability, p);
      if (p.namespace !== undefined) this.#byNamespace.set(p.namespace, p);
    }
  }

  forget(moduleId: string): void {
    for (const [k, p] of this.#byCapability) if (p.module === moduleId) this.#byCapability.delete(k);
    for (const [k, p] of this.#byNamespace) if (p.module === moduleId) this.#byNamespace.delete(k);
  }

  /** The command namespace `ns` of the context (ctx.security), if a provider declares one. */
  namespace(ns: string): Provided | undefined {
    return this.#byNamespace.get(ns);
  }

  namespaces(): Provided[] {
    return [...this.#byNamespace.values()];
  }

  /** Whether `moduleId` opens its commands of permission `capability` to holders of that capability. */
  exposes(moduleId: string, capability: string): boolean {
    const p = this.#byCapability.get(capability);
    return p !== undefined && p.module === moduleId && p.namespace !== undefined;
  }

  /** The in-process service behind a capability, its provider activated first if need be. */
  async service<T>(capability: string): Promise<T> {
    const p = this.#byCapability.get(capability);
    if (!p || p.service === undefined) {
      throw new HostError("module_unavailable", `no installed module provides the '${capability}' capability; check \`warden module list\``);
    }
    if (this.#services.providerOf(p.service) !== p.module) await this.#activate(p.module);
    return this.#services.require<T>(p.service);
  }
}
