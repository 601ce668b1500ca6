// One discovered module folder and what the host knows about it now.
import { isElevated } from "../hostapi/catalogue.js";
import type { GrantSet } from "../hostapi/grants.js";
import type { HostError } from "../base/errors.js";
import type { LoadedManifest } from "../manifest/index.js";
import type { ActiveModule } from "../runtime.js";

export type ModuleState = "active" | "failed" | "disabled" | "pending_approval" | "installed";

export interface ModuleEntry {
  id: string;
  dir: string;
  kind: "system" | "user";
  loaded?: LoadedManifest;
  /** Written only by transition(), with what comes with it. */
  readonly state: ModuleState;
  readonly error?: HostError;
  /** Effective grants (system set, or declared and approved, minus runtime revocations). */
  grants: GrantSet;
  readonly active?: ActiveModule;
  activating?: Promise<void>;
  /** Unsubscribe functions of event subscriptions made while active. */
  subscriptions: Array<() => void>;
  /** When it last became active (idle deactivation counts from here or its last call). */
  readonly activatedAt?: number;
  /** A module refused (duplicate id) keeps its listing but is never the owner of that id. */
  shadow?: boolean;
  /** Failed because its circuit breaker opened (not because it could not load). */
  readonly breaker?: boolean;
  /**
   * Read but its grants not decided yet (the manifest index is being written, another host's
   * install is being added): it answers module_unavailable, never runs with partial grants.
   */
  undecided?: boolean;
}

/** Where a module's runtime state may go, and what each step brings with it. */
export type Transition =
  /** Activated: running from `at`, with no error. */
  | { to: "active"; active: ActiveModule; at: number }
  /** Failed: why; `breaker` when its circuit breaker opened (only an enable restarts it). */
  | { to: "failed"; error: HostError; breaker?: true }
  /** Not running: the error that explains it, if any (otherwise none); `clearBreaker` once the breaker no longer holds it. */
  | { to: "installed" | "disabled" | "pending_approval"; error?: HostError | undefined; clearBreaker?: true };

/**
 * The one writer of a module's runtime state (ModuleEntry's state, error, breaker, active): each
 * step sets what comes with it and clears what does not, so no state is left half-changed.
 */
export function transition(e: ModuleEntry, t: Transition): void {
  // The fields are readonly to everyone else; this is where they change.
  switch (t.to) {
    case "active":
      Object.assign(e, { state: "active", active: t.active, activatedAt: t.at });
      Reflect.deleteProperty(e, "error");
      return;
    case "failed":
      Object.assign(e, { state: "failed", error: t.error }, t.breaker ? { breaker: true } : {});
      Reflect.deleteProperty(e, "active");
      return;
    default:
      Object.assign(e, { state: t.to });
      Reflect.deleteProperty(e, "active");
      if (t.error) Object.assign(e, { error: t.error });
      else Reflect.deleteProperty(e, "error");
      if (t.clearBreaker) Reflect.deleteProperty(e, "breaker");
  }
}

export interface ModuleSummary {
  id: string;
  version: string | null;
  kind: "system" | "user";
  state: ModuleState;
  capabilities: string[];
  /** Those of its capabilities that are elevated (an operator approves them). */
  elevated: string[];
  path: string;
  error?: { code: string; message: string };
  /** User modules: the verified publisher's name, or "unverified (why)". */
  publisher?: string;
  /** User modules installed from a pack: its sha256 (what `module block` names). */
  pack?: string | null;
  /** A staged upgrade waiting for an operator's approval: its version. */
  upgrade_waiting?: string;
}

export function summarize(e: ModuleEntry): ModuleSummary {
  const capabilities = (e.loaded?.manifest.capabilities ?? []).map((c) => (typeof c === "string" ? c : c.name));
  const out: ModuleSummary = {
    id: e.id,
    version: e.loaded?.manifest.version ?? null,
    kind: e.kind,
    state: e.state,
    capabilities,
    elevated: capabilities.filter(isElevated),
    path: e.dir,
  };
  if (e.error) out.error = { code: e.error.code, message: e.error.message };
  return out;
}
