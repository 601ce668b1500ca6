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
  state: ModuleState;
  error?: HostError;
  /** Effective grants (system set, or declared and approved, minus runtime revocations). */
  grants: GrantSet;
  active?: ActiveModule;
  activating?: Promise<void>;
  /** Unsubscribe functions of event subscriptions made while active. */
  subscriptions: Array<() => void>;
  /** When it last became active (idle deactivation counts from here or its last call). */
  activatedAt?: number;
  /** A module refused (duplicate id) keeps its listing but is never the owner of that id. */
  shadow?: boolean;
  /** Failed because its circuit breaker opened (not because it could not load). */
  breaker?: boolean;
  /**
   * Read but its grants not decided yet (the manifest index is being written, another host's
   * install is being added): it answers module_unavailable, never runs with partial grants.
   */
  undecided?: boolean;
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
