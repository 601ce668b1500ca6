// The grant policy, as a pure function: from a module's manifest, what the operator recorded and
// what the host knows of the other modules, decide whether it may run and with which grants.
import type { Manifest } from "../../sdk/manifest.js";
import { HostError } from "../base/errors.js";
import { SYSTEM_CAPABILITIES } from "../hostapi/catalogue.js";
import { elevations, GrantSet, toGrants } from "../hostapi/grants.js";
import type { ScopeFacts } from "../hostapi/scopes.js";
import type { ModuleRecord } from "../store/store.js";

export interface GrantDecision {
  state: "installed" | "disabled" | "pending_approval";
  grants: GrantSet;
  error?: HostError;
}

export interface GrantInput {
  manifest: Manifest;
  /** sha256 of module.json as loaded. */
  hash: string;
  kind: "system" | "user";
  record: ModuleRecord | undefined;
  /** Kind of each installed module by id (a dependency's kind decides what is "own"). */
  kindOf: (id: string) => "system" | "user" | undefined;
}

export function scopeFacts(manifest: Manifest, kindOf: GrantInput["kindOf"]): ScopeFacts {
  return { moduleId: manifest.id, userDependencies: Object.keys(manifest.dependencies ?? {}).filter((d) => kindOf(d) === "user") };
}

export function decideGrants(i: GrantInput): GrantDecision {
  const facts = scopeFacts(i.manifest, i.kindOf);
  const revoked = new Set(i.record?.revoked ?? []);
  if (i.record?.disabled) return { state: "disabled", grants: GrantSet.empty(i.manifest.id) };
  if (i.kind === "system") {
    return { state: "installed", grants: new GrantSet(toGrants(SYSTEM_CAPABILITIES), facts, true).without(revoked) };
  }
  const declared = toGrants(i.manifest.capabilities);
  const elevated = elevations(declared, facts);
  if (elevated.length > 0 && i.record?.approvedHash !== i.hash) {
    const list = elevated.map((e) => `${e.capability} (${e.reason})`).join("; ");
    return {
      state: "pending_approval",
      grants: GrantSet.empty(i.manifest.id),
      error: new HostError("approval_required", `module '${i.manifest.id}' requests what needs an operator's approval: ${list}; run \`warden module approve ${i.manifest.id}\``, {
        details: { module: i.manifest.id, elevated: elevated.map((e) => e.capability), reasons: elevated },
      }),
    };
  }
  return { state: "installed", grants: new GrantSet(declared, facts).without(revoked) };
}
