// Whether an installed module may run as it is on disk: its record is one this host verified (in a
// fleet, sealed by a host), its pack is not blocked, and its files are the ones recorded at install.
// Checked at every activation and whenever the trust policy changes.
import { resolve } from "node:path";
import { HostError } from "../base/errors.js";
import type { ModuleRecord } from "../store/store.js";
import { blockedRefusal, publisherLabel } from "../supply/provenance.js";
import type { TrustPolicy } from "../supply/trust-policy.js";
import { changedFiles } from "./files.js";
import { summarize, transition, type ModuleEntry, type ModuleSummary } from "./module-entry.js";
import type { ModuleLoader } from "./module-loader.js";
import type { ModuleRecords } from "./module-records.js";

export function integrityError(e: ModuleEntry, o: { records: ModuleRecords; supply: TrustPolicy; home: string }): HostError | undefined {
  if (e.kind !== "user") return undefined;
  const inHome = resolve(e.dir) === resolve(o.home, "modules", e.id);
  const refused = o.records.refusal(e.id);
  if (refused && inHome) return refused;
  const record = o.records.find(e.id);
  // In a fleet, <home>/modules is a cache of the store: a folder there without a verified record runs nothing.
  if (!record && inHome && o.records.sealedStore) {
    return new HostError("integrity_failed", `module '${e.id}' is in this host's modules folder but the store holds no record of it; install it through any host of the fleet`, {
      details: { module: e.id },
    });
  }
  const pack = record?.provenance?.pack;
  const blocked = o.supply.blocked(pack);
  if (blocked && pack) return blockedRefusal(e.id, pack, blocked.reason);
  if (!record?.files || !record.installedPath) return undefined;
  // Installed here, or (in a fleet) through another host and materialised into this home.
  const here = resolve(record.installedPath) === resolve(e.dir) || inHome;
  if (!here) return undefined;
  const changed = changedFiles(e.dir, record.files);
  if (changed.length === 0) return undefined;
  return new HostError(
    "integrity_failed",
    `module '${e.id}' changed on disk since it was installed (${changed.slice(0, 5).join(", ")}${changed.length > 5 ? ", ..." : ""}); reinstall it with \`warden module install\``,
    { details: { module: e.id, changed } },
  );
}

/** An entry's summary; for a user module, with who published it and the pack it came from. */
export function summaryWithProvenance(e: ModuleEntry, record: ModuleRecord | undefined, policy: TrustPolicy): ModuleSummary {
  const out = summarize(e);
  if (e.kind !== "user") return out;
  return {
    ...out,
    publisher: record?.installedPath != null ? publisherLabel(record.provenance, policy) : "unverified (not installed)",
    pack: record?.provenance?.pack ?? null,
    ...(record?.staged ? { upgrade_waiting: record.staged.version } : {}),
  };
}

/**
 * The trust policy changed (a pack blocked or unblocked, here or through another host): a module
 * running a blocked pack stops at once and stays failed with module_blocked; one whose block was
 * lifted may run again. Returns the modules it stopped.
 */
export async function applyTrustPolicy(loader: ModuleLoader): Promise<string[]> {
  const stopped: string[] = [];
  for (const { id } of loader.list()) {
    const e = loader.entry(id);
    if (!e || e.kind !== "user" || !e.loaded || e.shadow) continue;
    const error = integrityError(e, { records: loader.records, supply: loader.kernel.supply, home: loader.kernel.home });
    if (error?.code === "module_blocked") {
      if (e.state === "failed" && e.error?.code === "module_blocked") continue;
      await loader.deactivate(id);
      transition(e, { to: "failed", error });
      stopped.push(id);
      loader.kernel.log.warn({ module: id, code: error.code, err: error.message }, "module stopped: its pack is blocked");
      loader.kernel.events.emit("module.failed", { id, code: error.code });
    } else if (e.state === "failed" && e.error?.code === "module_blocked") {
      transition(e, { to: "installed", clearBreaker: true });
      loader.redecide(e);
    }
  }
  return stopped;
}

/** Stops a module whose record this host cannot verify (a fleet store written outside Warden). */
export async function refuseModule(loader: ModuleLoader, id: string, error: HostError): Promise<void> {
  const e = loader.entry(id);
  if (!e) return;
  await loader.deactivate(id);
  transition(e, { to: "failed", error });
}
