// The module author's test harness: loads a module folder in a real host (the real sandbox for
// user modules), calls its commands, and records every capability call, so a test can assert
// "greet never writes storage". Ungranted calls fail exactly as in production.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CapabilityRequest } from "../../sdk/manifest.js";
import { Host } from "../host.js";
import { silentLogger } from "../log/index.js";
import { readManifest } from "../manifest/index.js";

export interface RecordedCapabilityCall {
  method: string;
  capability: string;
  allowed: boolean;
}

export interface TestHostOptions {
  /** The module folder (a path or a file: URL such as `new URL(".", import.meta.url)`). */
  module: string | URL;
  /** Grant only these (a subset of the manifest's); default: everything it declares, approved. */
  grants?: CapabilityRequest[];
  /** Settings of the module, by key without the module prefix (`{ greeting: "hi" }`). */
  config?: Record<string, unknown>;
  /** Run in-process instead of the sandbox (faster, for logic-only tests). Default false. */
  inProcess?: boolean;
}

export interface TestHost {
  readonly id: string;
  /** Calls `<id>.<command>` as the local operator; resolves to its output or rejects with its error. */
  call<O = unknown>(command: string, input?: Record<string, unknown>): Promise<O>;
  /** Every capability call the module made, in order. */
  readonly capabilityCalls: RecordedCapabilityCall[];
  /** Capabilities the module used (allowed calls), without repeats. */
  used(): string[];
  /** Forget the recorded calls (e.g. after setup). */
  resetRecording(): void;
  /** The underlying host, for anything else. */
  readonly host: Host;
  close(): Promise<void>;
}

export async function createTestHost(options: TestHostOptions): Promise<TestHost> {
  const dir = resolve(options.module instanceof URL ? fileURLToPath(options.module) : options.module);
  const { manifest, hash } = readManifest(dir, { allowSystem: false });
  const home = mkdtempSync(join(tmpdir(), "warden-testhost-"));
  const host = await Host.open({ home, modulePaths: [dir], logger: silentLogger(), ...(options.inProcess ? { userRuntime: "inprocess" as const } : {}) });
  const names = (list: CapabilityRequest[] = []) => list.map((c) => (typeof c === "string" ? c : c.name));
  const declared = names(manifest.capabilities);
  const granted = options.grants ? names(options.grants) : declared;
  await host.loader.records.grantForDevelopment(
    manifest.id,
    { hash, capabilities: manifest.capabilities ?? [] },
    declared.filter((c) => !granted.includes(c)),
    "operator:local",
  );
  await host.loader.reloadModule(manifest.id);
  for (const [k, v] of Object.entries(options.config ?? {})) await host.run("config.set", { key: `${manifest.id}.${k}`, value: v });

  const calls: RecordedCapabilityCall[] = [];
  host.kernel.capabilityObservers.add((e) => {
    if (e.module === manifest.id) calls.push({ method: e.method, capability: e.capability, allowed: e.allowed });
  });
  // Activated now, so a test's recording starts after activate() (errors surface on the first call).
  await host.loader.ensureActive(manifest.id).catch(() => {});
  return {
    id: manifest.id,
    host,
    capabilityCalls: calls,
    call: <O>(command: string, input: Record<string, unknown> = {}) => host.run(`${manifest.id}.${command}`, input) as Promise<O>,
    used: () => [...new Set(calls.filter((c) => c.allowed).map((c) => c.capability))].sort(),
    resetRecording: () => void calls.splice(0),
    close: async () => {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
