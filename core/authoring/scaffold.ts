// `warden module new <id>`: a TypeScript module skeleton that passes its own test at once.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HostError } from "../base/errors.js";
import { RESERVED_IDS } from "../manifest/index.js";
import { HOST_VERSION, ROOT } from "../base/paths.js";

export function scaffoldModule(id: string, parent: string): { dir: string; files: string[] } {
  if (!/^[a-z][a-z0-9-]{1,39}$/.test(id) || RESERVED_IDS.has(id)) {
    throw new HostError("usage", `'${id}' is not a usable module id: lowercase letters, digits and '-', 2-40 characters, not a reserved name`);
  }
  const dir = resolve(parent, id);
  if (existsSync(dir)) throw new HostError("usage", `${dir} already exists; choose another id or --dir`);
  mkdirSync(dir, { recursive: true });
  const files = skeleton(id);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, files: Object.keys(files) };
}

/** The skeleton's files, by name. */
function skeleton(id: string): Record<string, string> {
  return { ...sourceFiles(id), ...projectFiles(id) };
}

/** module.json, index.ts and its test. */
function sourceFiles(id: string): Record<string, string> {
  const [major, minor] = HOST_VERSION.split(".");
  return {
    "module.json":
      JSON.stringify(
        {
          $schema: "./node_modules/warden/manifests/module.schema.json",
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
        },
        null,
        2,
      ) + "\n",
    "index.ts": `import type { ModuleContext } from "warden/sdk";

export async function activate(ctx: ModuleContext) {
  ctx.commands.register("greet", async ({ name }: { name: string }) => {
    await ctx.storage.set("last", name);
    return { message: \`hello \${name}\` };
  });
  ctx.commands.register("last", async () => ({ name: (await ctx.storage.get<string>("last")) ?? null }));
}

export async function deactivate() {}
`,
    "index.test.ts": `import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHost, type TestHost } from "warden/sdk/testing";

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

/** package.json, tsconfig.json, README.md and what the README's commands use. */
function projectFiles(id: string): Record<string, string> {
  return {
    "package.json":
      JSON.stringify(
        {
          name: id,
          version: "0.1.0",
          private: true,
          type: "module",
          description: `The ${id} Warden module`,
          scripts: { test: "warden module test .", check: "warden module check .", pack: "warden module pack .", dev: "warden dev ." },
          // Warden itself, linked from where it is installed: its SDK types, test harness and CLI.
          devDependencies: { warden: `file:${ROOT}` },
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
    ".gitignore": "node_modules/\n*.tgz\n",
    "README.md": `# ${id}

A Warden module. \`module.json\` declares its commands and the capabilities it needs; \`index.ts\`
binds the commands in \`activate(ctx)\`. Run these in this folder:

\`\`\`sh
npm install                     # links Warden (its SDK, test harness and CLI) from ${ROOT}
npx warden module check .       # manifest, bundle and types, with file:line for each problem
npx warden module test .        # index.test.ts, with the module in the real sandbox
npx warden module learn . --calls calls.json --json   # which capabilities it really uses
npx warden module pack .        # ${id}-0.1.0.tgz, for \`warden module install\`
\`\`\`

While you work, \`npx warden dev .\` runs the module and reloads it on every save (Ctrl-C stops
it); call it from another terminal with the \`warden --home ... ${id} greet Ada\` line it prints.
`,
    "calls.json": JSON.stringify([{ command: "greet", input: { name: "Ada" } }, { command: "last" }], null, 2) + "\n",
  };
}
