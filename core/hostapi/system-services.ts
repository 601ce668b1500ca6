// Services between system modules, through the port: a module provides under its own id, uses only
// what a module in its dependencies provides, and reaches the host's own services (a fleet's Redis
// and lock, the access log) by name.
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import type { HostPort } from "../runtime.js";

export function systemServices(kernel: Kernel, moduleId: string, dependencies: readonly string[]): NonNullable<HostPort["services"]> {
  return {
    provide: (name, service) => kernel.services.provide(moduleId, name, service),
    use: (name) => {
      const provider = kernel.services.providerOf(name);
      if (provider === undefined || !dependencies.includes(provider)) {
        throw new HostError(
          "dependency_unresolved",
          `module '${moduleId}' may use service '${name}' only from a module in its dependencies` +
            (provider ? `; add "${provider}" to its module.json dependencies` : "; no active module provides it"),
        );
      }
      return kernel.services.require(name);
    },
    host: (name) => kernel.services.hostServiceNamed(name),
  };
}
