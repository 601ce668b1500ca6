// The host's side of `@warden/sdk/testing` (the types and the contract are the SDK's): loads a
// module folder in a real host (the real sandbox for user modules), calls its commands, and records
// every capability call, log line and faked fetch. Ungranted calls fail exactly as in production;
// the fake fetch answers only what the host's checks let through.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CapabilityRequest } from "../../sdk/manifest.js";
import type { CreateTestHost, FakeFetchRequest, RecordedCapabilityCall, TestHost, TestHostOptions } from "../../sdk/testing.js";
import { HostError } from "../base/errors.js";
import { Host } from "../host.js";
import type { NetTransport } from "../hostapi/net-fetch.js";
import { silentLogger } from "../log/index.js";
import { readManifest } from "../manifest/index.js";

export type { TestHost, TestHostOptions } from "../../sdk/testing.js";

/** The SDK's test host, with the host under it for Warden's own tests. */
export interface HostTestHost extends TestHost {
  readonly host: Host;
}

export const createTestHost: CreateTestHost = (options) => openTestHost(options);

export async function openTestHost(options: TestHostOptions): Promise<HostTestHost> {
  const dir = resolve(options.module instanceof URL ? fileURLToPath(options.module) : options.module);
  const { manifest, hash } = readManifest(dir, { allowSystem: false });
  const home = mkdtempSync(join(tmpdir(), "warden-testhost-"));
  let offset = 0;
  const now = () => Date.now() + offset;
  const fetches: FakeFetchRequest[] = [];
  const fake = options.fetch;
  const netTransport: NetTransport | undefined = fake
    ? async (request) => {
        fetches.push(request);
        const r = await fake(request);
        return { status: r.status, headers: r.headers ?? {}, body: r.body ?? "" };
      }
    : undefined;
  const host = await Host.open({
    home,
    modulePaths: [dir],
    logger: silentLogger(),
    clock: now,
    ...(netTransport ? { netTransport } : {}),
    ...(options.inProcess ? { userRuntime: "inprocess" as const } : {}),
  });
  const id = manifest.id;
  const names = (list: CapabilityRequest[] = []) => list.map((c) => (typeof c === "string" ? c : c.name));
  const declared = names(manifest.capabilities);
  const granted = options.grants ? names(options.grants) : declared;
  await host.loader.records.grantForDevelopment(
    id,
    { hash, capabilities: manifest.capabilities ?? [] },
    declared.filter((c) => !granted.includes(c)),
    "operator:local",
  );
  await host.loader.reloadModule(id);
  for (const [k, v] of Object.entries(options.config ?? {})) await host.run("config.set", { key: `${id}.${k}`, value: v });
  const setSecret = async (name: string, value: string) => void (await host.run("secrets.set", { module: id, name, value }));
  for (const [name, value] of Object.entries(options.secrets ?? {})) await setSecret(name, value);

  const calls: RecordedCapabilityCall[] = [];
  host.kernel.capabilityObservers.add((e) => {
    if (e.module === id) calls.push({ method: e.method, capability: e.capability, allowed: e.allowed });
  });
  const logs: TestHost["logs"] = [];
  host.kernel.logObservers.add((e) => {
    if (e.module === id) logs.push({ level: e.level, message: e.message });
  });
  // Activated now, so a test's recording starts after activate() (errors surface on the first call).
  await host.loader.ensureActive(id).catch(() => {});
  return {
    id,
    host,
    capabilityCalls: calls,
    logs,
    fetches,
    clock: {
      now,
      advance: (ms) => {
        if (!(ms >= 0)) throw new HostError("usage", "clock.advance: give a number of milliseconds >= 0 (the host's time only moves forward)");
        offset += ms;
      },
    },
    setSecret,
    call: <O>(command: string, input: Record<string, unknown> = {}) => host.run(`${id}.${command}`, input) as Promise<O>,
    used: () => [...new Set(calls.filter((c) => c.allowed).map((c) => c.capability))].sort(),
    resetRecording: () => {
      calls.splice(0);
      logs.splice(0);
      fetches.splice(0);
    },
    close: async () => {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
