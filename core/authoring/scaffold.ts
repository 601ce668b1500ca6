// `warden module new <id>`: a TypeScript module skeleton that passes its own test at once.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HostError } from "../errors.js";
import { RESERVED_IDS } from "../manifest/index.js";
import { HOST_VERSION } from "../paths.js";

export function scaffoldModule(id: string, parent: string): { dir: string; files: string[] } {
  if (!/^[a-z][a-z0-9-]{1,39}$/.test(id) || RESERVED_IDS.has(id)) {
    throw new HostError("usage", `'${id}' is not a usable module id: lowercase letters, digits and '-', 2-40 characters, not a reserved name`);
  }
  const dir = resolve(parent, id);
  if (existsSync(dir)) throw new HostError("usage", `${dir} already exists; choose another id or --dir`);
  mkdirSync(dir, { recursive: true });
  const [major, minor] = HOST_VERSION.split(".");
  const files: Record<string, string> = {
    "module.json": JSON.stringify(
      {
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
    "README.md": `# ${id}

A Warden module. \`module.json\` declares its commands and the capabilities it needs; \`index.ts\`
binds the commands in \`activate(ctx)\`.

- Check it: \`warden module check .\` (manifest, bundle, types)
- Run it with reload on change: \`warden dev .\`, then in another terminal \`warden ${id} greet Ada\`
- Test it: \`npx vitest run\` (uses \`warden/sdk/testing\`, which runs the module in the real sandbox)
- See which capabilities it really uses: \`warden module learn .\`
- Install it: \`warden module install .\`
`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, files: Object.keys(files) };
}
