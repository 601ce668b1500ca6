// The packed host, installed as an operator installs it (npm pack, then npm install -g into a
// prefix) from the registry on loopback the package test uses. Kept per tarball content under
// node_modules/.cache, so the native addons compile once, not on every bench run.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalRegistry } from "../test/helpers/local-registry.js";

const ROOT = join(import.meta.dirname, "..");

export interface Installed {
  /** prefix/bin/warden */
  bin: string;
  /** A project folder with the host installed locally (node_modules/.bin/warden), as `npm install <tarball>` leaves it. */
  project: string;
}

export async function installedHost(): Promise<Installed> {
  const out = mkdtempSync(join(tmpdir(), "warden-bench-pack-"));
  const packed = spawnSync("npm", ["pack", "--pack-destination", out, "--json"], { cwd: ROOT, encoding: "utf8" });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const tarball = join(out, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
  const sha = createHash("sha256").update(readFileSync(tarball)).digest("hex").slice(0, 16);
  const prefix = join(ROOT, "node_modules", ".cache", "warden", "bench-install", sha);
  const bin = join(prefix, "bin", "warden");
  if (!existsSync(bin)) {
    process.stderr.write("installing the packed host for the cli suite (native addons compile once, a few minutes)...\n");
    const registry = await startLocalRegistry(ROOT);
    try {
      const r = await new Promise<number | null>((resolve) => {
        const child = spawn("npm", ["install", "-g", tarball, "--prefix", prefix, "--registry", registry.url, "--allow-scripts=argon2,better-sqlite3,esbuild,isolated-vm", "--no-audit", "--no-fund"], {
          stdio: "inherit",
          env: { ...process.env, "prebuild-install_buildFromSource": "true" },
        });
        child.on("close", resolve);
      });
      if (r !== 0) throw new Error("installing the packed host failed (see above)");
    } finally {
      await registry.close();
    }
  }
  rmSync(out, { recursive: true, force: true });
  const project = join(prefix, "project");
  if (!existsSync(join(project, "node_modules", ".bin", "warden"))) {
    mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
    mkdirSync(join(project, "node_modules", "@warden"), { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "bench-project", private: true, devDependencies: { "@warden/host": "*" } }));
    symlinkSync(join(prefix, "lib", "node_modules", "@warden", "host"), join(project, "node_modules", "@warden", "host"));
    symlinkSync("../@warden/host/core/cli/bin.mjs", join(project, "node_modules", ".bin", "warden"));
  }
  return { bin, project };
}
