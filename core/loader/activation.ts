// The two things the loader hands out about a module it cannot simply run: the spec a runtime
// activates it from, and why a call cannot reach it.
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import type { LoadedManifest } from "../manifest/index.js";
import type { ActivationSpec } from "../runtime.js";
import { BOUND_METHODS, contextShape } from "../hostapi/table.js";
import type { ModuleEntry } from "./module-entry.js";

/** What a runtime is given to activate a module: its files, grants, context shape and limits (capped by host policy). */
export function activationSpec(kernel: Kernel, e: ModuleEntry, loaded: LoadedManifest): ActivationSpec {
  const m = loaded.manifest;
  const cfg = kernel.config;
  const cap = (v: number | undefined, def: "sandbox.defaultMemoryMb" | "sandbox.defaultTimeoutMs", max: "sandbox.maxMemoryMb" | "sandbox.maxTimeoutMs") => Math.min(v ?? cfg.get(def), cfg.get(max));
  const namespaces = kernel.providers.namespaces();
  return {
    id: e.id,
    version: m.version,
    kind: e.kind,
    dir: e.dir,
    entryFile: loaded.entryFile,
    manifest: structuredClone(m),
    granted: e.grants.names(),
    api: contextShape(namespaces, kernel.bus.commandsOf(new Set(namespaces.map((p) => p.module)))),
    bound: BOUND_METHODS,
    limits: {
      memoryMb: cap(m.limits?.memoryMb, "sandbox.defaultMemoryMb", "sandbox.maxMemoryMb"),
      timeoutMs: cap(m.limits?.timeoutMs, "sandbox.defaultTimeoutMs", "sandbox.maxTimeoutMs"),
    },
  };
}

/**
 * Why a call cannot reach the module. A module that failed to load or activate answers with that
 * failure's own code (integrity_failed, manifest_invalid, timeout, ...) and its message, so the
 * caller learns what to fix; one stopped by its circuit breaker, disabled or not active is
 * module_unavailable with the way back.
 */
export function unavailable(e: ModuleEntry): HostError {
  if (e.state === "pending_approval" && e.error) return e.error;
  const details = { module: e.id, state: e.state, ...(e.error ? { cause: e.error.code } : {}) };
  if (e.state === "failed" && e.error && !e.breaker) {
    return new HostError(e.error.code, `module '${e.id}' cannot run: ${e.error.message}`, { details: { ...details, ...(isRecord(e.error.details) ? e.error.details : {}) } });
  }
  const how = e.state === "disabled" ? `; run \`warden module enable ${e.id}\`` : e.breaker ? `; it failed repeatedly and stays stopped until \`warden module enable ${e.id}\`` : "";
  const why = e.error ? `${e.error.code}: ${e.error.message}` : e.state;
  return new HostError("module_unavailable", `module '${e.id}' is ${e.state} (${why})${how}`, { details });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
