// `warden module new <id>`: a TypeScript module skeleton that passes its own test at once. It
// depends on the published SDK by version (or on `--sdk <tarball or folder>` for offline work),
// never on a path into a checkout; its commands are the `warden` on PATH.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HostError } from "../base/errors.js";
import { RESERVED_IDS } from "../manifest/index.js";
import { HOST_VERSION, ROOT } from "../base/paths.js";
import type { Manifest } from "../../sdk/manifest.js";
import { MODULE_TYPES_FILE, moduleTypesSource } from "./module-types.js";

export function scaffoldModule(id: string, parent: string, options: { sdk?: string } = {}): { dir: string; files: string[] } {
  if (!/^[a-z][a-z0-9-]{1,39}$/.test(id) || RESERVED_IDS.has(id)) {
    throw new HostError("usage", `'${id}' is not a usable module id: lowercase letters, digits and '-', 2-40 characters, not a reserved name; choose one like 'my-module'`);
  }
  const dir = resolve(parent, id);
  if (existsSync(dir)) throw new HostError("usage", `${dir} already exists; choose another id or --dir`);
  let sdk = `^${HOST_VERSION}`;
  if (options.sdk !== undefined) {
    const local = resolve(options.sdk);
    if (!existsSync(local)) throw new HostError("usage", `--sdk ${options.sdk}: no such tarball or folder; give the @warden/sdk tarball (npm pack in sdk/) or its folder`);
    sdk = `file:${local}`;
  }
  mkdirSync(dir, { recursive: true });
  const files = skeleton(id, sdk);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, files: Object.keys(files) };
}

/** The skeleton's files, by name. */
function skeleton(id: string, sdk: string): Record<string, string> {
  return { ...sourceFiles(id), ...projectFiles(id, sdk) };
}

/** module.json, index.ts and its test. */
function sourceFiles(id: string): Record<string, string> {
  const [major, minor] = HOST_VERSION.split(".");
  const manifest = {
    $schema: "./node_modules/@warden/sdk/dist/module.schema.json",
    id,
    version: "0.1.0",
    host: `^${major}.${minor}.0`,
    description: `The ${id} module`,
    entry: "index.ts",
    capabilities: ["commands.register", "storage.read", "storage.write"],
    limits: { memoryMb: 32, timeoutMs: 1000 },
    commands: {
      greet: {
        description: "Greet someone and remember who it was",
        input: {
          type: "object",
          properties: { name: { type: "string", minLength: 1, maxLength: 100, description: "who to greet" } },
          required: ["name"],
          additionalProperties: false,
        },
        output: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
        args: ["name"],
      },
      last: {
        description: "Who was greeted last",
        input: { type: "object", properties: {}, additionalProperties: false },
        readOnly: true,
      },
    },
  } satisfies Manifest & { $schema: string };
  return {
    "module.json": JSON.stringify(manifest, null, 2) + "\n",
    [MODULE_TYPES_FILE]: moduleTypesSource(manifest),
    "index.ts": `// Types come from module.json's schemas (module-types.ts; \`warden module check\` refreshes it).
import type { Context } from "./${MODULE_TYPES_FILE.replace(/\.ts$/, ".js")}";

export async function activate(ctx: Context) {
  ctx.commands.register("greet", async ({ name }) => {
    await ctx.storage.set("last", name);
    return { message: \`hello \${name}\` };
  });
  ctx.commands.register("last", async () => ({ name: (await ctx.storage.get<string>("last")) ?? null }));
}

export async function deactivate() {}
`,
    "index.test.ts": `import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHost, type TestHost } from "@warden/sdk/testing";

let host: TestHost;
beforeAll(async () => {
  host = await createTestHost({ module: new URL(".", import.meta.url) });
});
afterAll(async () => host.close());

describe("${id}", () => {
  it("greets and remembers, in the real sandbox", async () => {
    host.resetRecording();
    expect(await host.call("greet", { name: "Ada" })).toEqual({ message: "hello Ada" });
    expect(host.used()).toEqual(["storage.write"]);
    expect(await host.call("last")).toEqual({ name: "Ada" });
  });

  it("is refused what it was not granted", async () => {
    const limited = await createTestHost({ module: new URL(".", import.meta.url), grants: ["commands.register", "storage.read"] });
    await expect(limited.call("greet", { name: "Ada" })).rejects.toMatchObject({ code: "capability_denied" });
    await limited.close();
  });
});
`,
  };
}

/** The versions of TypeScript and vitest this host is tested with: the module's own devDependencies. */
function toolVersions(): { typescript: string; vitest: string } {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies?: Record<string, string> };
  return { typescript: pkg.devDependencies?.typescript ?? "^5.9.3", vitest: pkg.devDependencies?.vitest ?? "^4.0.0" };
}

/** package.json, tsconfig.json, README.md and what the README's commands use. */
function projectFiles(id: string, sdk: string): Record<string, string> {
  return {
    "package.json":
      JSON.stringify(
        {
          name: id,
          version: "0.1.0",
          private: true,
          type: "module",
          description: `The ${id} Warden module`,
          scripts: { test: "warden module test .", check: "warden module check .", types: "warden module types .", pack: "warden module pack .", dev: "warden dev ." },
          // The SDK (types, defineModule, the test harness) and the tools an editor and the tests
          // use; the host and its CLI are the `warden` installed on this machine.
          devDependencies: { "@warden/sdk": sdk, ...toolVersions() },
        },
        null,
        2,
      ) + "\n",
    "tsconfig.json":
      JSON.stringify(
        {
          compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] },
          include: ["*.ts"],
        },
        null,
        2,
      ) + "\n",
    ".gitignore": "node_modules/\n*.tgz\n*.tgz.sig\n",
    // What `warden module pack` leaves out beyond its defaults (tests, lockfiles, package.json, tsconfig, dotfiles).
    ".wardenignore": "calls.json\n",
    "README.md": `# ${id}

A Warden module. \`module.json\` declares its commands and the capabilities it needs; \`index.ts\`
binds the commands in \`activate(ctx)\`, typed from the manifest's schemas (\`module-types.ts\`,
which \`warden module check\` refreshes). Run these in this folder, with \`warden\` on your PATH
(Warden's README, "Installing"):

\`\`\`sh
npm install                     # the SDK, TypeScript and vitest, for your editor and the tests
warden module check .           # manifest, bundle and types, with file:line for each problem
warden module test .            # index.test.ts, with the module in the real sandbox
warden module learn . --calls calls.json --json   # which capabilities it really uses
warden module pack --list .     # what the pack will hold
warden module pack .            # ${id}-0.1.0.tgz, for \`warden module install\`
\`\`\`

While you work, \`warden dev .\` runs the module, reloads and type-checks it on every save and
prints its log lines (Ctrl-C stops it); call it from another terminal with the
\`warden --home ... ${id} greet Ada\` line it prints.
`,
    "calls.json": JSON.stringify([{ command: "greet", input: { name: "Ada" } }, { command: "last" }], null, 2) + "\n",
  };
}
