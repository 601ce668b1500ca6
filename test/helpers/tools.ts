// Tools from Debian's packages that some tests need (promtool, chromium): found on PATH, or
// installed with apt-get when running as root. Where neither works the test is skipped with a loud
// line saying what to install, except in CI, where a missing tool fails the run.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** The tool's path, installing its Debian package if need be; undefined (and a loud line) if impossible. */
export function ensureTool(cmd: string, debianPackage: string): string | undefined {
  const found = which(cmd) ?? (existsSync(`/usr/bin/${cmd}`) ? `/usr/bin/${cmd}` : undefined);
  if (found) return found;
  if (process.getuid?.() === 0) {
    try {
      execFileSync("apt-get", ["install", "-y", "--no-install-recommends", debianPackage], { stdio: "ignore", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    } catch {
      try {
        execFileSync("apt-get", ["update"], { stdio: "ignore", timeout: 600_000 });
        execFileSync("apt-get", ["install", "-y", "--no-install-recommends", debianPackage], { stdio: "ignore", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      } catch {
        // reported below
      }
    }
    const now = which(cmd);
    if (now) return now;
  }
  if (process.env.CI === "true") throw new Error(`${cmd} is required in CI: install Debian's ${debianPackage} (.ci/run does)`);
  console.warn(`\n*** SKIPPING: ${cmd} not found; install Debian's '${debianPackage}' package (apt-get install ${debianPackage}) to run this test ***\n`);
  return undefined;
}
