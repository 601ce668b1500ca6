// Warden outside this repository, as an operator and a module author get it: the host and the SDK
// packed (`npm pack`), installed into a temporary prefix from a registry on loopback that knows
// only this checkout's lockfile (tarballs from npm's cache, native addons compiled from source),
// and then used with the checkout out of reach: cwd outside it, PATH with only the installed bin,
// node and the system. Slow (the native addons compile, a few minutes): the rest of the suite runs
// beside it.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installedIn } from "../core/authoring/tools.js";
import { startLocalRegistry, type LocalRegistry } from "./helpers/local-registry.js";
import { tempDir } from "./helpers/modules.js";
import { eventually } from "./helpers/eventually.js";

const ROOT = join(__dirname, "..");
const NATIVE = "argon2,better-sqlite3,esbuild,isolated-vm";

let registry: LocalRegistry;
let work: string;
let prefix: string;
let env: NodeJS.ProcessEnv;
let hostTarball: string;
let sdkTarball: string;
let installOutput: string;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A command run to its end without blocking this process: the registry answers from this event loop. */
function run(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
const said = (r: Ran) => `${r.stdout}\n${r.stderr}`;
const warden = (args: string[], cwd = work) => run(join(prefix, "bin", "warden"), args, cwd);
// Native addons build from source: prebuild-install would fetch a binary from outside loopback.
const npm = (args: string[], cwd: string) => run("npm", [...args, "--registry", registry.url, "--no-audit", "--no-fund"], cwd, { "prebuild-install_buildFromSource": "true" });

beforeAll(async () => {
  work = tempDir("warden-package-");
  prefix = join(work, "prefix");
  // Nothing of the checkout on PATH (npm test puts its node_modules/.bin there), no state of the user's.
  env = {
    PATH: [join(prefix, "bin"), dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? "C.UTF-8",
    TMPDIR: process.env.TMPDIR,
    XDG_CACHE_HOME: join(work, "cache"),
    XDG_CONFIG_HOME: join(work, "config"),
    XDG_STATE_HOME: join(work, "state"),
    NO_COLOR: "1",
    CI: process.env.CI,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const packed = spawnSync("npm", ["pack", "--pack-destination", work, "--json"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  expect(packed.status, said(packed)).toBe(0);
  hostTarball = join(work, JSON.parse(packed.stdout)[0].filename);
  const sdkPacked = spawnSync("npm", ["pack", "--pack-destination", work, "--json"], { cwd: join(ROOT, "sdk"), encoding: "utf8", timeout: 300_000 });
  expect(sdkPacked.status, said(sdkPacked)).toBe(0);
  sdkTarball = join(work, JSON.parse(sdkPacked.stdout)[0].filename);
  registry = await startLocalRegistry(ROOT);
  const install = await npm(["install", "-g", hostTarball, "--prefix", prefix, `--allow-scripts=${NATIVE}`], work);
  installOutput = said(install);
  expect(install.status, `${installOutput}\nregistry misses: ${registry.misses.join(", ")}`).toBe(0);
}, 600_000);

afterAll(async () => {
  await registry?.close();
});

describe("the packed host and SDK, installed where the checkout is out of reach", () => {
  it("installs without warnings nobody can act on, and holds compiled JavaScript only (no tsx, typescript or vitest)", async () => {
    expect(installOutput).not.toMatch(/EBADENGINE|install-scripts|deprecated/i);
    const files = spawnSync("tar", ["tzf", hostTarball], { encoding: "utf8" }).stdout.split("\n");
    expect(files).toContain("package/dist/cli/main.js");
    // The tree that was tested is the tree an install gets (overrides do not reach an installer; a
    // shrinkwrap does). The registry here only knows the lockfile's versions, so this is asserted
    // on the tarball itself.
    expect(files).toContain("package/npm-shrinkwrap.json");
    const manifest = JSON.parse(spawnSync("tar", ["xzOf", hostTarball, "package/package.json"], { encoding: "utf8" }).stdout) as { scripts?: Record<string, string> };
    // No script that runs when the package is installed (npm 11 counts prepare for a tarball too).
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.startsWith("package/dist/modules/examples/") && !f.endsWith(".d.ts"))).toEqual([]);
    const installed = join(prefix, "lib", "node_modules", "@warden", "host");
    for (const dev of ["tsx", "typescript", "vitest"]) expect(existsSync(join(installed, "node_modules", dev)), dev).toBe(false);
    const ls = await run("npm", ["ls", "-g", "--prefix", prefix, "--all"], work);
    expect(ls.status, said(ls)).toBe(0);
  });

  it("runs as an operator's host: --version, init, serve --examples, one REST call, a CLI call through it", async () => {
    const version = await warden(["--version"]);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    const home = join(work, "home");
    expect((await warden(["--help"])).status).toBe(0); // no home needed for help
    const init = await warden(["init", "--home", home]);
    expect(init.status, said(init)).toBe(0);
    const serve = spawn(join(prefix, "bin", "warden"), ["--home", home, "serve", "--examples", "--enable-api", "--api-port", "0"], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    serve.stdout.on("data", (c: Buffer) => (out += c.toString()));
    serve.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => serve.on("exit", r));
    try {
      await eventually(() => out.includes("host serving") || serve.exitCode !== null || undefined, `the installed host serving:\n${out}`, 600);
      expect(serve.exitCode, out).toBe(null);
      const url = /curl -s -X POST (\S+)/.exec(out)![1]!;
      const token = /Bearer (wdn_\S+?)'/.exec(out)![1]!;
      const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "Ada" }) });
      expect(await res.json()).toEqual({ message: "hello Ada" });
      const viaSocket = await warden(["--home", home, "--json", "hello", "greet", "Bob"]);
      expect(JSON.parse(viaSocket.stdout), said(viaSocket)).toEqual({ message: "hello Bob" });
    } finally {
      serve.kill("SIGTERM");
      await exited;
    }
  }, 120_000);

  it("is a module author's kit: new, npm install, tsc, check, test, learn, pack --list, pack, install and call; a wrong handler type fails check", async () => {
    const made = await warden(["module", "new", "greeter", "--sdk", sdkTarball]);
    expect(made.status, said(made)).toBe(0);
    const dir = join(work, "greeter");
    expect(readFileSync(join(dir, "package.json"), "utf8")).not.toContain(ROOT);
    const install = await npm(["install"], dir);
    expect(install.status, `${said(install)}\nregistry misses: ${registry.misses.join(", ")}`).toBe(0);
    const tsc = await run(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "--noEmit"], dir);
    expect(tsc.status, said(tsc)).toBe(0);
    // check type-checks against the SDK the folder installed, not the host's fallback copy.
    expect(installedIn(dir, "@warden/sdk")).toBe(true);
    const check = await warden(["module", "check", "."], dir);
    expect(check.status, said(check)).toBe(0);
    const test = await warden(["module", "test", "."], dir);
    expect(test.status, said(test)).toBe(0);
    expect(said(test)).toMatch(/2 passed/);
    const learned = await warden(["--json", "module", "learn", ".", "--calls", "calls.json"], dir);
    expect(JSON.parse(learned.stdout), said(learned)).toMatchObject({ used: ["commands.register", "storage.read", "storage.write"] });
    const list = await warden(["--json", "module", "pack", "--list", "."], dir);
    expect(JSON.parse(list.stdout).files.map((f: { path: string }) => f.path)).toEqual(["README.md", "index.ts", "module-types.ts", "module.json"]);
    const packed = await warden(["--json", "module", "pack", "."], dir);
    expect(packed.status, said(packed)).toBe(0);
    const pack = JSON.parse(packed.stdout) as { file: string; sha256: string };
    expect(createHash("sha256").update(readFileSync(pack.file)).digest("hex")).toBe(pack.sha256);
    const again = JSON.parse((await warden(["--json", "module", "pack", ".", "--out", join(work, "again")], dir)).stdout) as { sha256: string };
    expect(again.sha256).toBe(pack.sha256);

    const home = join(work, "author-home");
    expect((await warden(["init", "--home", home])).status).toBe(0);
    const installed = await warden(["--home", home, "--json", "module", "install", pack.file]);
    expect(JSON.parse(installed.stdout), said(installed)).toMatchObject({ id: "greeter", action: "installed" });
    const called = await warden(["--home", home, "--json", "greeter", "greet", "Ada"]);
    expect(JSON.parse(called.stdout), said(called)).toEqual({ message: "hello Ada" });

    const index = join(dir, "index.ts");
    writeFileSync(index, readFileSync(index, "utf8").replace("async ({ name }) =>", "async ({ name }: { name: number }) =>"));
    const bad = await warden(["module", "check", "."], dir);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toMatch(new RegExp(`${index.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5: \\[types\\]`));
  }, 600_000);
});
