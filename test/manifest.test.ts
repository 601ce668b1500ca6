import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readManifest, MAX_MANIFEST_BYTES } from "../core/manifest/index.js";
import { tempDir } from "./helpers/modules.js";

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
  it("has at least 20 cases", () => expect(Object.keys(expectations).length).toBeGreaterThanOrEqual(20));

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
});

describe("valid manifests", () => {
  it("validates, defaults kind and permissions, and hashes the bytes", () => {
    const dir = join(FIXTURES, "good/basic");
    const a = readManifest(dir, { allowSystem: false });
    expect(a.manifest.kind).toBe("user");
    expect(a.manifest.commands!.go!.permission).toBe("sample.go");
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(readManifest(dir, { allowSystem: false }).hash).toBe(a.hash);
    expect(a.entryFile).toBe(join(dir, "index.js"));
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
    for (const id of ["auth", "cache", "security", "api"]) expect(readManifest(join(__dirname, "../modules", id), { allowSystem: true }).manifest.id).toBe(id);
    for (const id of ["hello", "notes"]) expect(readManifest(join(__dirname, "../modules/examples", id), { allowSystem: false }).manifest.id).toBe(id);
  });
});
