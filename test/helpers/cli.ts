// Runs the real `warden` binary in a child process.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const BIN = join(__dirname, "../../core/cli/bin.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function warden(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 60_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}
