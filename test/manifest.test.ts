import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileCommandSchema, parseManifestText, readManifest, validateManifest, MAX_MANIFEST_BYTES, RESERVED_IDS } from "../core/manifest/index.js";
import { tempDir } from "./helpers/modules.js";

const BASE = { id: "sample", version: "1.0.0", host: "^0.1.0", description: "d", entry: "index.js" };

/** A temp module folder with an index.js and the given manifest (an object, or raw text). */
function moduleDir(manifest: object | string): string {
  const dir = tempDir();
  writeFileSync(join(dir, "index.js"), "export function activate() {}\n");
  writeFileSync(join(dir, "module.json"), typeof manifest === "string" ? manifest : JSON.stringify(manifest));
  return dir;
}

const FIXTURES = join(__dirname, "fixtures/manifests");
const expectations: Record<string, string> = JSON.parse(readFileSync(join(FIXTURES, "bad-expectations.json"), "utf8"));

function refusal(dir: string, allowSystem = false) {
  try {
    readManifest(dir, { allowSystem });
  } catch (e: any) {
    return e;
  }
  throw new Error(`${dir} was accepted`);
}

describe("malformed manifests (test/fixtures/manifests/bad)", () => {
  it("has at least 24 cases", () => expect(Object.keys(expectations).length).toBeGreaterThanOrEqual(24));

  for (const [name, path] of Object.entries(expectations)) {
    it(`${name}: manifest_invalid at '${path || "/"}'`, () => {
      const dir = join(FIXTURES, "bad", name);
      const err = refusal(dir);
      expect(err.code).toBe("manifest_invalid");
      expect(err.message).toContain(join(dir, "module.json"));
      const paths = (err.details.problems as Array<{ path: string; message: string }>).map((p) => p.path);
      expect(paths).toContain(path);
      expect(err.details.file).toBe(join(dir, "module.json"));
    });
  }

  it("refuses a manifest over 1 MiB before reading it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "module.json"), JSON.stringify({ id: "big", pad: "x".repeat(MAX_MANIFEST_BYTES) }));
    const err = refusal(dir);
    expect(err.code).toBe("manifest_invalid");
    expect(err.message).toMatch(/\d+ bytes, 1048576 allowed/);
  });

  it("refuses an entry that escapes through a symbolic link", () => {
    const outside = tempDir();
    writeFileSync(join(outside, "evil.js"), "export function activate() {}\n");
    const dir = tempDir();
    symlinkSync(join(outside, "evil.js"), join(dir, "index.js"));
    writeFileSync(join(dir, "module.json"), JSON.stringify({ id: "linky", version: "1.0.0", host: "^0.1.0", description: "d", entry: "index.js" }));
    const err = refusal(dir);
    expect(err.details.problems[0]).toMatchObject({ path: "/entry" });
    expect(err.message).toMatch(/outside the module folder/);
  });

  it("reports every problem, not only the first", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "index.js"), "");
    writeFileSync(join(dir, "module.json"), JSON.stringify({ id: "many", version: "x", host: "?", description: "d", entry: "index.js", capabilities: ["nope"] }));
    const err = refusal(dir);
    expect(err.details.problems.map((p: any) => p.path)).toEqual(expect.arrayContaining(["/version", "/host", "/capabilities/0"]));
  });

  it("missing module.json is refused with a clear message", () => {
    const err = refusal(tempDir());
    expect(err.message).toMatch(/module\.json is missing/);
  });

  it("reports schema and semantic problems together, in one error", () => {
    const dir = moduleDir({ ...BASE, id: "Bad", version: "1.0", entry: "gone.js", capabilities: ["storage.wrte"], limits: { memoryMb: 0 } });
    const err = refusal(dir);
    const paths = err.details.problems.map((p: any) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["/id", "/version", "/entry", "/capabilities/0", "/limits/memoryMb"]));
    expect(err.message).toMatch(/\(and 4 more problems\)$/);
  });

  it("refuses a module.json that is a symbolic link (it would echo the target in parse errors)", () => {
    const outside = tempDir();
    writeFileSync(join(outside, "secret"), "root:x:0:0");
    const dir = tempDir();
    symlinkSync(join(outside, "secret"), join(dir, "module.json"));
    const err = refusal(dir);
    expect(err.message).toMatch(/must be a regular file, but it is a symbolic link/);
    expect(err.message).not.toContain("root:x");
  });

  it("refuses a module.json that is a directory", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "module.json"));
    expect(refusal(dir).message).toMatch(/must be a regular file, but it is a directory/);
  });

  it("refuses deep nesting without overflowing the stack", () => {
    const depth = 200_000;
    const dir = moduleDir(`{"id":"deep","config":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    const err = refusal(dir);
    expect(err.code).toBe("manifest_invalid");
    expect(err.message).toMatch(/nested deeper than 64 levels/);
  });

  it("refuses a file that is not UTF-8", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "module.json"), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    expect(refusal(dir).message).toMatch(/not valid UTF-8/);
  });

  it("refuses an entry that links to a file inside the folder with the wrong extension", () => {
    const dir = moduleDir({ ...BASE, entry: "main.js" });
    writeFileSync(join(dir, "data.json"), "{}");
    symlinkSync(join(dir, "data.json"), join(dir, "main.js"));
    expect(refusal(dir).message).toMatch(/\/entry: 'main\.js' links to 'data\.json'/);
  });

  it("an entry whose name starts with two dots is still inside the folder", () => {
    const dir = moduleDir({ ...BASE, entry: "..main.js" });
    writeFileSync(join(dir, "..main.js"), "");
    expect(readManifest(dir, { allowSystem: false }).entryFile).toBe(join(dir, "..main.js"));
  });

  it("parseManifestText refuses prototype keys at any depth, listing each", () => {
    let err: any;
    try {
      parseManifestText('{"a":[{"b":{"prototype":1}}],"__proto__":{},"constructor":2}', "/x/module.json");
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe("manifest_invalid");
    expect(err.message).toMatch(/^\/x\/module\.json: /);
    expect(err.details.problems.map((p: any) => p.path)).toEqual(["/a/0/b/prototype", "/__proto__", "/constructor"]);
    expect(({} as any).kind).toBeUndefined();
  });

  it("validateManifest refuses non-objects with the file named", () => {
    for (const raw of [null, 3, "x", []]) {
      expect(() => validateManifest(raw, "/m/module.json", "/m", { allowSystem: false })).toThrow(/^\/m\/module\.json: \/: must be a JSON object/);
    }
  });
});

describe("command schemas (compileCommandSchema)", () => {
  it("compiles in strict mode and fills defaults", () => {
    const validate = compileCommandSchema({ type: "object", properties: { n: { type: "integer", default: 3 } } });
    const value: Record<string, unknown> = {};
    expect(validate(value)).toBe(true);
    expect(value.n).toBe(3);
    expect(() => compileCommandSchema({ type: "object", requird: ["n"] })).toThrow(/unknown keyword: "requird"/);
  });

  it("refuses $id (ids would collide across reloads and modules) but allows a property named $id", () => {
    expect(() => compileCommandSchema({ type: "object", properties: { a: { $id: "https://e.example/a", type: "string" } } })).toThrow(/"\$id" is not allowed .*\/properties\/a\/\$id/);
    const ok = compileCommandSchema({ type: "object", properties: { $id: { type: "string" }, meta: { type: "object", default: { $id: "x" } } } });
    expect(ok({ $id: "y" })).toBe(true);
  });

  it("the same schema content compiles again and again (re-reading a manifest)", () => {
    for (let i = 0; i < 3; i++) {
      const dir = join(FIXTURES, "good/basic");
      expect(readManifest(dir, { allowSystem: false }).manifest.id).toBe("sample");
      expect(compileCommandSchema({ type: "object", properties: { x: { $ref: "#/definitions/d" } }, definitions: { d: { type: "string" } } })({ x: "s" })).toBe(true);
    }
  });
});

describe("valid manifests", () => {
  it("validates, defaults kind and permissions, and hashes the bytes", () => {
    const dir = join(FIXTURES, "good/basic");
    const a = readManifest(dir, { allowSystem: false });
    expect(a.manifest.kind).toBe("user");
    expect(a.manifest.commands!.go!.permission).toBe("sample.go");
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(readManifest(dir, { allowSystem: false }).hash).toBe(a.hash);
    expect(a.hash).toBe(
      createHash("sha256")
        .update(readFileSync(join(dir, "module.json")))
        .digest("hex"),
    );
    expect(a.entryFile).toBe(join(dir, "index.js"));
    expect(a.file).toBe(join(dir, "module.json"));
    expect(a.dir).toBe(dir);
  });

  it("keeps an explicit permission and defaults the others", () => {
    const input = { type: "object", properties: {} };
    const dir = moduleDir({ ...BASE, commands: { a: { description: "a", input }, b: { description: "b", input, permission: "sample.admin" } } });
    const { manifest } = readManifest(dir, { allowSystem: false });
    expect(manifest.commands!.a!.permission).toBe("sample.a");
    expect(manifest.commands!.b!.permission).toBe("sample.admin");
  });

  it("accepts object capabilities with valid parameters, output schemas of any type and config defaults", () => {
    const dir = moduleDir({
      ...BASE,
      capabilities: ["commands.register", { name: "net.fetch", hosts: ["api.example.com"] }, { name: "commands.invoke", commands: ["notes.*"] }],
      dependencies: { notes: "^1.0.0" },
      limits: { memoryMb: 64, timeoutMs: 1000 },
      commands: { list: { description: "l", input: { type: "object" }, output: { type: "array", items: { type: "string" } }, readOnly: true } },
      config: { type: "object", properties: { port: { type: "integer", minimum: 1, default: 8080 } } },
    });
    expect(readManifest(dir, { allowSystem: false }).manifest.capabilities).toHaveLength(3);
  });

  it("reserves the host's own names", () => {
    expect([...RESERVED_IDS].sort()).toEqual([
      "approval",
      "audit",
      "commands",
      "config",
      "console",
      "dev",
      "events",
      "help",
      "home",
      "host",
      "keys",
      "log",
      "login",
      "logout",
      "metrics",
      "module",
      "modules",
      "net",
      "operator",
      "role",
      "sandbox",
      "secrets",
      "serve",
      "services",
      "status",
      "storage",
      "trust",
      "version",
      "warden",
    ]);
  });

  it("accepts kind system only where the host allows it", () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.js"), "");
    writeFileSync(join(dir, "module.json"), JSON.stringify({ id: "sys", version: "1.0.0", host: "^0.1.0", description: "d", entry: "index.js", kind: "system" }));
    expect(readManifest(dir, { allowSystem: true }).manifest.kind).toBe("system");
    expect(refusal(dir).details.problems[0].path).toBe("/kind");
  });

  it("every bundled module's manifest is valid", () => {
    for (const id of ["auth", "cache", "security", "api", "console"]) expect(readManifest(join(__dirname, "../modules", id), { allowSystem: true }).manifest.id).toBe(id);
    for (const id of ["hello", "notes"]) expect(readManifest(join(__dirname, "../modules/examples", id), { allowSystem: false }).manifest.id).toBe(id);
  });
});
