// In-process services between trusted modules: a provider offers a named object; a module may use
// it only if it lists the provider in its dependencies. Capabilities backed by a service (cache.use,
// security.manage, auth.manage) find it here by service name, never by module name.
import { HostError } from "./base/errors.js";
import type { HostServices, Surface } from "../sdk/system/services.js";

export class ServiceRegistry {
  readonly #services = new Map<string, { provider: string; service: object }>();
  /** What the host itself offers (typed by sdk/system/services.ts's HostServices). */
  readonly #host: Partial<HostServices> = {};
  readonly #listeners = new Set<(name: string) => void>();

  /** A service the host offers its system modules (ctx.services.host). */
  provideHost<K extends keyof HostServices>(name: K, service: HostServices[K]): void {
    this.#host[name] = service;
  }

  /** The host's own service of that name, when it is configured. */
  hostService<K extends keyof HostServices>(name: K): HostServices[K] | undefined {
    return this.#host[name];
  }

  /** The same, for a name that crossed from a module as a plain string. */
  hostServiceNamed(name: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.#host, name) ? Object.getOwnPropertyDescriptor(this.#host, name)?.value : undefined;
  }

  /** A `surface:*` service (what `warden serve` starts), or undefined if none of that name is a surface. */
  surface(name: string): Surface | undefined {
    const s = this.#services.get(name)?.service;
    return isSurface(s) ? s : undefined;
  }

  provide(provider: string, name: string, service: object): void {
    const existing = this.#services.get(name);
    if (existing && existing.provider !== provider) {
      throw new HostError("module_duplicate", `service '${name}' is already provided by module '${existing.provider}'`);
    }
    this.#services.set(name, { provider, service });
    for (const l of this.#listeners) l(name);
  }

  /** Told of every service provided (a surface's provider reactivated after a reload, say). */
  onProvide(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  withdraw(provider: string): void {
    for (const [name, s] of this.#services) if (s.provider === provider) this.#services.delete(name);
  }

  providerOf(name: string): string | undefined {
    return this.#services.get(name)?.provider;
  }

  /** For capability implementations: the service or a clear module_unavailable. */
  require<T>(name: string): T {
    const s = this.#services.get(name);
    if (!s) {
      throw new HostError("module_unavailable", `no active module provides the '${name}' service; check \`warden module list\``);
    }
    return s.service as T;
  }

  /** Names of the services whose name starts with the prefix (e.g. `surface:`). */
  names(prefix = ""): string[] {
    return [...this.#services.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  get(name: string): object | undefined {
    return this.#services.get(name)?.service;
  }
}

function isSurface(s: unknown): s is Surface {
  return typeof s === "object" && s !== null && typeof (s as Partial<Surface>).start === "function" && typeof (s as Partial<Surface>).stop === "function";
}
