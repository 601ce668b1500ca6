// Writes throwaway module folders for tests that are about the kernel rather than about a fixture.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ModuleSpec {
  id: string;
  version?: string;
  host?: string;
  kind?: "system" | "user";
  capabilities?: unknown[];
  dependencies?: Record<string, string>;
  commands?: Record<string, unknown>;
  config?: Record<string, unknown>;
  limits?: { memoryMb?: number; timeoutMs?: number };
  /** Source of index.js; defaults to an activate that does nothing. */
  code?: string;
}

export function tempDir(prefix = "warden-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function writeModule(root: string, spec: ModuleSpec): string {
  const dir = join(root, spec.id);
  mkdirSync(dir, { recursive: true });
  const manifest: Record<string, unknown> = {
    id: spec.id,
    version: spec.version ?? "1.0.0",
    host: spec.host ?? "^0.1.0",
    description: `test module ${spec.id}`,
    entry: "index.js",
    capabilities: spec.capabilities ?? ["commands.register"],
  };
  if (spec.kind) manifest.kind = spec.kind;
  if (spec.dependencies) manifest.dependencies = spec.dependencies;
  if (spec.commands) manifest.commands = spec.commands;
  if (spec.config) manifest.config = spec.config;
  if (spec.limits) manifest.limits = spec.limits;
  writeFileSync(join(dir, "module.json"), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, "index.js"), spec.code ?? "export async function activate() {}\n");
  return dir;
}

export const emptyInput = { type: "object", properties: {}, additionalProperties: false };
