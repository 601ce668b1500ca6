// The shape both contexts (in-process and the sandbox prelude) are generated from: namespace ->
// method -> capability, for the host API and each provider's command namespace.
import type { CapabilityName } from "./catalogue.js";
import { HOST_API } from "./table.js";

/** Namespace -> method -> capability: the shape both contexts are generated from. */
export type ContextShape = Record<string, Record<string, CapabilityName>>;

export function hostShape(): ContextShape {
  const shape: ContextShape = {};
  for (const [method, entry] of Object.entries(HOST_API)) {
    const [ns, fn] = method.split(".") as [string, string];
    (shape[ns] ??= {})[fn] = entry.capability;
  }
  return shape;
}

/** The whole context shape: the host API plus each provider's command namespace (its commands of that permission). */
export function contextShape(
  namespaces: ReadonlyArray<{ module: string; capability: string; namespace?: string }>,
  commands: ReadonlyArray<{ module: string; name: string; permission: string }>,
): ContextShape {
  const shape = hostShape();
  for (const p of namespaces) {
    if (p.namespace === undefined || Object.prototype.hasOwnProperty.call(shape, p.namespace)) continue;
    const methods: Record<string, CapabilityName> = {};
    for (const c of commands) if (c.module === p.module && c.permission === p.capability) methods[c.name] = p.capability as CapabilityName;
    shape[p.namespace] = methods;
  }
  return shape;
}
