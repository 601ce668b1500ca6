import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { warden } from "./helpers/cli.js";
import { tempDir } from "./helpers/modules.js";

const EXAMPLES = join(__dirname, "../modules/examples");
let home: string;
const w = (...args: string[]) => warden(["--home", home, "--modules", EXAMPLES, ...args]);

beforeAll(() => {
  home = tempDir("warden-cli-");
});

describe("warden CLI (child process)", () => {
  it("prints its version", () => {
    const r = warden(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("lists modules as JSON with the documented shape", () => {
    const r = w("module", "list", "--json");
    expect(r.code, r.stderr).toBe(0);
    const hello = r.json.find((m: any) => m.id === "hello");
    expect(hello).toMatchObject({ id: "hello", version: "1.0.0", kind: "user", state: "active", capabilities: ["commands.register"] });
    expect(hello.path).toBe(join(EXAMPLES, "hello"));
    for (const m of r.json) expect(Object.keys(m)).toEqual(expect.arrayContaining(["id", "version", "kind", "state", "capabilities"]));
  });

  it("lists modules as a human table", () => {
    const r = w("module", "list");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+VERSION\s+KIND\s+STATE/m);
    expect(r.stdout).toMatch(/^hello\s+1\.0\.0\s+user\s+active/m);
  });

  it("calls a command with a positional argument and a flag", () => {
    const r = w("hello", "greet", "Ada", "--excited", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toEqual({ message: "hello Ada!" });
    expect(w("hello", "greet", "--name", "Bob").stdout.trim()).toBe("message  hello Bob");
  });

  it("keeps notes across calls (storage in system.brain)", () => {
    expect(w("notes", "add", "todo", "buy milk").code).toBe(0);
    const r = w("notes", "get", "todo", "--json");
    expect(r.json).toMatchObject({ title: "todo", text: "buy milk" });
    expect(w("notes", "list", "--json").json).toEqual(["todo"]);
  });

  it("refuses invalid input with input_invalid, exit 2 and each failing path", () => {
    const r = w("hello", "greet", "--input", '{"name": 5, "extra": true}', "--json");
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("input_invalid");
    const paths = r.json.error.details.problems.map((p: any) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["/name", "/"]));
    const human = w("hello", "greet", "--input", '{"name": 5}');
    expect(human.code).toBe(2);
    expect(human.stderr).toContain("input_invalid");
    expect(human.stdout).toBe("");
  });

  it("answers an unknown command with command_not_found and exit 2", () => {
    const r = w("hello", "shout", "--json");
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("command_not_found");
    const top = w("nosuchmodule", "x", "--json");
    expect(top.code).toBe(2);
    expect(top.json.error.code).toBe("command_not_found");
  });

  it("shows a capability refusal with exit 3", () => {
    const r = w("hello", "remember", "Ada", "--json");
    expect(r.code).toBe(3);
    expect(r.json.error.code).toBe("capability_denied");
    expect(r.json.error.message).toContain("storage.write");
  });

  it("reports a module error from module code with exit 1", () => {
    const r = w("notes", "get", "missing-note", "--json");
    expect(r.code).toBe(1);
    expect(r.json.error).toMatchObject({ code: "module_error", details: { code: "note_not_found" } });
  });

  it("sets and reads config, validated against the owner's schema", () => {
    expect(w("config", "set", "sandbox.maxTimeoutMs", "2500").code).toBe(0);
    expect(w("config", "get", "sandbox.maxTimeoutMs", "--json").json).toMatchObject({ key: "sandbox.maxTimeoutMs", value: 2500, source: "set" });
    const bad = w("config", "set", "sandbox.maxTimeoutMs", "fast", "--json");
    expect(bad.code).toBe(2);
    expect(bad.json.error.code).toBe("config_invalid");
    const unknown = w("config", "set", "nobody.knows", "1", "--json");
    expect(unknown.json.error.code).toBe("config_invalid");
  });

  it("generates help from the manifests", () => {
    const r = w("hello", "greet", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Say hello to someone");
    expect(r.stdout).toContain("--excited");
    const top = w("--help");
    expect(top.stdout).toMatch(/hello\s+Greets people/);
    expect(top.stdout).toMatch(/notes\s+Keeps short notes/);
  });
});

describe("warden audit (child process)", () => {
  it("tails with -n and verify exits non-zero naming the first bad seq after tampering", async () => {
    const auditHome = tempDir("warden-cli-audit-");
    const a = (...args: string[]) => warden(["--home", auditHome, ...args]);
    a("config", "set", "sandbox.maxTimeoutMs", "2000");
    a("config", "set", "sandbox.maxTimeoutMs", "3000");
    const tail = a("audit", "tail", "-n", "1", "--json");
    expect(tail.code).toBe(0);
    expect(tail.json).toHaveLength(1);
    expect(tail.json[0]).toMatchObject({ action: "config.set", target: "sandbox.maxTimeoutMs", data: { value: 3000 } });
    const ok = a("audit", "verify", "--json");
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ ok: true });
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(auditHome, "system.brain"));
    db.prepare("UPDATE audit SET data = '{\"value\":9999}' WHERE seq = 2").run();
    db.close();
    const bad = a("audit", "verify", "--json");
    expect(bad.code).not.toBe(0);
    expect(bad.json).toMatchObject({ ok: false, first_bad_seq: 2 });
  });
});
