// Runs the real `warden` binary in a child process.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const BIN = join(__dirname, "../../core/cli/bin.mjs");

export interface CliResult {
  code: number;
  pid: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function warden(args: string[], env: Record<string, string> = {}, stdin?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 60_000,
    ...(stdin === undefined ? {} : { input: stdin }),
  });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, pid: r.pid ?? 0, stdout: r.stdout, stderr: r.stderr, json };
}

/** As warden(), without blocking this process (a host serving in this very process can answer it). */
export function wardenAsync(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    proc.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    proc.on("close", (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, pid: proc.pid ?? 0, stdout, stderr, json });
    });
  });
}

export interface Serving {
  proc: ChildProcess;
  output(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** `warden serve` in the background, resolved once it says it is serving. */
export async function serveInBackground(args: string[], env: Record<string, string> = {}, serveArgs: string[] = []): Promise<Serving> {
  // Any free API port unless the test says otherwise: several hosts serve at once in a test run.
  const proc = spawn(process.execPath, [BIN, ...args, "serve", ...serveArgs], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", WARDEN_API_PORT: "0", ...env } });
  let out = "";
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("host serving")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}
