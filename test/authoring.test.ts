import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTestHost } from "../core/authoring/testing.js";
import { warden } from "./helpers/cli.js";
import { testHost } from "./helpers/host.js";
import { emptyInput, tempDir, writeModule } from "./helpers/modules.js";
import type { Host } from "../core/host.js";
import { eventually } from "./helpers/eventually.js";

const ROOT = join(__dirname, "..");
const EXAMPLES = join(ROOT, "modules/examples");
const hosts: Host[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
});

describe("module authoring kit", () => {
  // The whole walk from an installed package (npm install, tsc, the README's commands) is
  // test/package.test.ts; this one is the same kit run from the checkout, before any npm install.
  it("scaffolds a module outside the repository that checks, tests, packs only itself and installs", () => {
    const parent = tempDir("warden-scaffold-");
    const made = warden(["--home", join(parent, "home"), "module", "new", "greeter", "--dir", parent, "--json"]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.json.files).toEqual(expect.arrayContaining(["module.json", "module-types.ts", "index.ts", "index.test.ts", "README.md", "package.json", "tsconfig.json", ".wardenignore"]));
    const dir = join(parent, "greeter");
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    // By version, never a path into a checkout; the commands are the `warden` on PATH, never npx.
    expect(pkg.devDependencies["@warden/sdk"]).toBe("^0.1.0");
    expect(JSON.stringify(pkg)).not.toContain(ROOT);
    expect(JSON.stringify(pkg)).not.toMatch(/npx/);
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    expect(/```sh\n(.*)\n/.exec(readme)![1]).toMatch(/^npm install/);
    expect(readme).not.toMatch(/npx/);

    const check = warden(["module", "check", dir]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const test = warden(["module", "test", dir]);
    expect(test.code, test.stdout + test.stderr).toBe(0);
    expect(test.stdout + test.stderr).toMatch(/2 passed/);
    const list = warden(["module", "pack", "--list", dir, "--json"]);
    expect(list.json.files.map((f: { path: string }) => f.path)).toEqual(["README.md", "index.ts", "module-types.ts", "module.json"]);
    const out = join(parent, "not", "yet", "there");
    const packed = warden(["module", "pack", dir, "--out", out, "--json"]);
    expect(packed.code, packed.stderr).toBe(0);
    const install = warden(["--home", tempDir(), "module", "install", packed.json.file, "--json"]);
    expect(install.json).toMatchObject({ id: "greeter", action: "installed" });
  }, 180_000);

  it("a pack holds only the module and is reproducible: the same folder twice gives the same sha256", () => {
    const parent = tempDir("warden-pack-");
    warden(["module", "new", "packed", "--dir", parent]);
    const dir = join(parent, "packed");
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", "util.ts"), "export const x = 1;\n");
    mkdirSync(join(dir, "test"));
    writeFileSync(join(dir, "test", "more.test.ts"), "");
    for (const f of ["package-lock.json", ".env", ".npmrc", "tsconfig.build.json", "notes.tmp"]) writeFileSync(join(dir, f), "x");
    writeFileSync(join(dir, ".wardenignore"), "calls.json\n*.tmp\n");
    // A symlink is never packed: it could point anywhere on the author's disk.
    symlinkSync("/etc/hostname", join(dir, "linked.ts"));
    symlinkSync("/etc", join(dir, "etc-folder"));
    const listed = warden(["module", "pack", "--list", dir, "--json"]).json.files.map((f: { path: string }) => f.path);
    expect(listed).toEqual(["README.md", "index.ts", "lib/util.ts", "module-types.ts", "module.json"]);
    const a = warden(["module", "pack", dir, "--out", join(parent, "a"), "--json"]).json;
    // Times and modes differ between the two packs' sources; the bytes must not.
    chmodSync(join(dir, "index.ts"), 0o664);
    utimesSync(join(dir, "index.ts"), new Date(), new Date(Date.now() + 5000));
    const b = warden(["module", "pack", dir, "--out", join(parent, "b"), "--json"]).json;
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.sha256).toBe(a.sha256);
    expect(createHash("sha256").update(readFileSync(a.file)).digest("hex")).toBe(a.sha256);
    // module.json's `files` takes over from the defaults.
    const manifest = JSON.parse(readFileSync(join(dir, "module.json"), "utf8"));
    writeFileSync(join(dir, "module.json"), JSON.stringify({ ...manifest, files: ["index.ts", "lib/"] }));
    expect(warden(["module", "pack", "--list", dir, "--json"]).json.files.map((f: { path: string }) => f.path)).toEqual(["index.ts", "lib/util.ts", "module.json"]);
  }, 120_000);

  it("a handler whose input type disagrees with the manifest's schema fails module check with file:line; module types follows the schema", () => {
    const parent = tempDir("warden-types-");
    warden(["module", "new", "typed", "--dir", parent]);
    const dir = join(parent, "typed");
    const index = readFileSync(join(dir, "index.ts"), "utf8");
    writeFileSync(join(dir, "index.ts"), index.replace("async ({ name }) =>", "async ({ name }: { name: number }) =>"));
    const bad = warden(["module", "check", dir, "--json"]);
    expect(bad.code).toBe(2);
    const problem = bad.json.problems.find((p: { stage: string }) => p.stage === "types");
    expect(problem).toMatchObject({ file: join(dir, "index.ts"), line: 5, code: "typecheck_failed" });
    expect(problem.message).toMatch(/name: string/);
    // The schema says number now: check regenerates module-types.ts, and the handler agrees again.
    const manifest = JSON.parse(readFileSync(join(dir, "module.json"), "utf8"));
    manifest.commands.greet.input.properties.name = { type: "number" };
    manifest.commands.greet.output.properties.message = { type: "string" };
    writeFileSync(join(dir, "module.json"), JSON.stringify(manifest));
    const good = warden(["module", "check", dir, "--json"]);
    expect(good.json.problems, JSON.stringify(good.json.problems)).toEqual([]);
    expect(readFileSync(join(dir, "module-types.ts"), "utf8")).toMatch(/"greet": \{ input: \{ "name": number \}/);
    // An optional property is optional in the type.
    manifest.commands.greet.input.required = [];
    writeFileSync(join(dir, "module.json"), JSON.stringify(manifest));
    expect(warden(["module", "types", dir]).code).toBe(0);
    expect(readFileSync(join(dir, "module-types.ts"), "utf8")).toMatch(/"name"\?: number/);
  }, 120_000);

  it("refuses a bundle cache that others may write (planted in advance, or a shared WARDEN_CACHE_DIR)", () => {
    const shared = tempDir("warden-shared-cache-");
    chmodSync(shared, 0o777);
    const r = warden(["module", "check", join(EXAMPLES, "hello"), "--json"], { WARDEN_CACHE_DIR: shared });
    expect(r.code).toBe(2);
    expect(JSON.stringify(r.json.problems)).toMatch(/not this user's alone.*WARDEN_CACHE_DIR/);
    const own = join(tempDir("warden-own-cache-"), "cache");
    expect(warden(["module", "check", join(EXAMPLES, "hello")], { WARDEN_CACHE_DIR: own }).code).toBe(0);
    expect(statSync(own).mode & 0o777).toBe(0o700);
  }, 60_000);

  it("module check points at file and line for type and bundle errors", () => {
    const parent = tempDir();
    warden(["--home", join(parent, "home"), "module", "new", "broken", "--dir", parent]);
    const dir = join(parent, "broken");
    writeFileSync(
      join(dir, "index.ts"),
      `import type { ModuleContext } from "@warden/sdk";\nimport x from "../elsewhere";\nexport const leaked = x;\nexport async function activate(ctx: ModuleContext) {\n  await ctx.storage.set("k");\n}\n`,
    );
    const r = warden(["--home", join(parent, "home"), "module", "check", dir, "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.ok).toBe(false);
    const stages = r.json.problems.map((p: any) => p.stage);
    expect(stages).toEqual(expect.arrayContaining(["bundle", "types"]));
    const typeProblem = r.json.problems.find((p: any) => p.stage === "types" && p.line === 5);
    expect(typeProblem.file).toBe(join(dir, "index.ts"));
    const bundle = r.json.problems.find((p: any) => p.stage === "bundle");
    expect(bundle.message).toMatch(/outside the module folder/);
    expect(bundle.code).toBe("bundle_failed");
    expect(existsSync(bundle.file), bundle.file).toBe(true); // a real path, wherever the CLI ran
    expect(typeProblem.code).toBe("typecheck_failed");
  }, 60_000);

  it("the harness records capability calls: greet never writes storage", async () => {
    const hello = await createTestHost({ module: join(EXAMPLES, "hello") });
    const notes = await createTestHost({ module: join(EXAMPLES, "notes") });
    try {
      hello.resetRecording();
      expect(await hello.call("greet", { name: "Ada" })).toEqual({ message: "hello Ada" });
      expect(hello.capabilityCalls).toEqual([]);
      await expect(hello.call("remember", { name: "Ada" })).rejects.toMatchObject({ code: "capability_denied" });
      expect(hello.capabilityCalls).toEqual([{ method: "storage.set", capability: "storage.write", allowed: false }]);
      notes.resetRecording();
      await notes.call("add", { title: "t", text: "x" });
      expect(notes.used()).toEqual(["storage.write"]);
    } finally {
      await hello.close();
      await notes.close();
    }
  }, 60_000);

  it("ungranted calls fail in the harness exactly as in production", async () => {
    const notes = await createTestHost({ module: join(EXAMPLES, "notes"), grants: ["commands.register", "storage.read"] });
    try {
      await expect(notes.call("add", { title: "t", text: "x" })).rejects.toMatchObject({ code: "capability_denied" });
      await expect(notes.call("list")).resolves.toEqual([]);
    } finally {
      await notes.close();
    }
  }, 60_000);

  it("module learn prints the least-privilege list beside the manifest's", () => {
    const parent = tempDir();
    const calls = join(parent, "calls.json");
    writeFileSync(calls, JSON.stringify([{ command: "list" }, { command: "get", input: { title: "none" } }]));
    const r = warden(["--home", join(parent, "home"), "module", "learn", join(EXAMPLES, "notes"), "--calls", calls, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      module: "notes",
      declared: ["commands.register", "storage.read", "storage.write"],
      used: ["commands.register", "storage.read"],
      unused: ["storage.write"],
      suggested: ["commands.register", "storage.read"],
    });
  }, 60_000);
});

describe("lazy activation and idle deactivation", () => {
  it("with 300 installed modules the host is ready without activating them; a call activates exactly the module and its dependencies", async () => {
    const root = tempDir("warden-300-");
    for (let i = 0; i < 300; i++) {
      writeModule(root, {
        id: `mod${i}`,
        ...(i > 0 && i % 3 === 0 ? { dependencies: { [`mod${i - 1}`]: "^1.0.0" } } : {}),
        commands: { go: { description: "go", input: emptyInput } },
        code: `export function activate(ctx) { ctx.commands.register("go", async () => "${i}"); }`,
      });
    }
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root], userRuntime: undefined as never });
    hosts.push(h);
    const states = () =>
      h.loader
        .list()
        .filter((m) => m.state === "active")
        .map((m) => m.id)
        .sort();
    expect(h.loader.list()).toHaveLength(300);
    expect(states()).toEqual([]);
    await expect(h.run("mod150.go")).resolves.toBe("150");
    expect(states()).toEqual(["mod149", "mod150"]);
    await expect(h.run("mod7.go")).resolves.toBe("7");
    expect(states()).toEqual(["mod149", "mod150", "mod7"]);
  }, 60_000);

  it("deactivates an idle user module after sandbox.idle_ttl and re-activates it on the next call", async () => {
    const root = tempDir();
    writeModule(root, { id: "sleepy", commands: { go: { description: "go", input: emptyInput } }, code: `export function activate(ctx) { ctx.commands.register("go", async () => "awake"); }` });
    const h = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    hosts.push(h);
    await h.run("sleepy.go");
    expect(await h.loader.sweepIdle(60_000, Date.now() + 30_000)).toEqual([]);
    expect(await h.loader.sweepIdle(60_000, Date.now() + 61_000)).toEqual(["sleepy"]);
    expect(h.loader.entry("sleepy")!.state).toBe("installed");
    await expect(h.run("sleepy.go")).resolves.toBe("awake");
    expect(h.loader.entry("sleepy")!.state).toBe("active");
  });
});

describe("warden dev", () => {
  it("survives bad saves of module.json and of the code, and recovers on the next good one", async () => {
    const { spawn } = await import("node:child_process");
    const parent = tempDir("warden-dev-");
    const home = join(parent, "home");
    expect(warden(["--home", home, "module", "new", "greeter", "--dir", parent]).code).toBe(0);
    const dir = join(parent, "greeter");
    const good = readFileSync(join(dir, "module.json"), "utf8");
    const goodCode = readFileSync(join(dir, "index.ts"), "utf8");
    const dev = spawn(process.execPath, [join(ROOT, "core/cli/bin.mjs"), "--home", home, "dev", dir], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    dev.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    dev.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    const waitFor = async (re: RegExp, from: number) => {
      await eventually(() => re.test(out.slice(from)), `dev printed ${re}`, 300).catch(() => {
        throw new Error(`dev never printed ${re}: ${out}`);
      });
    };
    try {
      await waitFor(/dev: greeter/, 0);
      for (const [file, bad] of [
        ["module.json", "{ not json"],
        ["module.json", '{"id": "greeter"}'],
        ["index.ts", "export async function activate(ctx) { this is not code"],
      ] as const) {
        let mark = out.length;
        writeFileSync(join(dir, file), bad);
        await waitFor(/reloaded greeter \(failed/, mark);
        mark = out.length;
        writeFileSync(join(dir, "module.json"), good);
        writeFileSync(join(dir, "index.ts"), goodCode);
        await waitFor(/reloaded greeter \((active|installed)/, mark);
        const r = warden(["--home", home, "greeter", "greet", "Ada", "--json"]);
        expect(r.json, r.stderr).toEqual({ message: "hello Ada" });
      }
      // A save that runs but does not type-check: dev says where, and prints the module's log lines.
      const mark = out.length;
      writeFileSync(join(dir, "module.json"), good.replace('"storage.write"', '"storage.write", "log.write"'));
      writeFileSync(join(dir, "index.ts"), goodCode.replace("async ({ name }) => {", 'async ({ name }: { name: number }) => {\n    ctx.log.info("greeting " + name);'));
      await waitFor(/index\.ts:\d+: \[types\]/, mark);
      expect(warden(["--home", home, "greeter", "greet", "Ada", "--json"]).json).toEqual({ message: "hello Ada" });
      await waitFor(/log info  greeting Ada/, mark);
    } finally {
      dev.kill("SIGTERM");
    }
  }, 120_000);
});
