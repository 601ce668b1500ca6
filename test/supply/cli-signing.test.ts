// The author's and the operator's commands end to end, as docs/signing-your-module.md and
// docs/trusting-publishers.md give them: keys new, pack --sign, verify, trust add from a .pub file,
// install with signatures required, and what the files on disk look like.
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXAMPLES_DIR } from "../../core/base/paths.js";
import { warden } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";

describe("signing from the command line", () => {
  it("keys new, pack --sign, verify, trust add, install: the documented walk, with the files it promises", () => {
    const dir = tempDir("warden-sign-cli-");
    const home = join(dir, "home");
    const w = (...args: string[]) => warden(["--home", home, ...args, "--json"]);
    // A module to sign: the hello example under an id of our own.
    const mod = join(dir, "acme-hello");
    cpSync(join(EXAMPLES_DIR, "hello"), mod, { recursive: true });
    const manifest = readFileSync(join(mod, "module.json"), "utf8")
      .replace(/"id": "hello"/, '"id": "acme-hello"')
      .replace(/"hello\./g, '"acme-hello.');
    writeFileSync(join(mod, "module.json"), manifest);

    const keys = warden(["keys", "new", "--out", join(dir, "keys", "acme"), "--json"]);
    expect(keys.code, keys.stderr).toBe(0);
    expect(statSync(join(dir, "keys", "acme")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "keys", "acme.pub"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // A key is never overwritten.
    expect(warden(["keys", "new", "--out", join(dir, "keys", "acme"), "--json"]).code).toBe(2);

    const packed = warden(["module", "pack", mod, "--sign", join(dir, "keys", "acme"), "--out", join(dir, "packs"), "--json"]);
    expect(packed.code, packed.stderr).toBe(0);
    const pack = packed.json.file as string;
    expect(packed.json.keyId).toBe(keys.json.keyId);
    const sig = JSON.parse(readFileSync(`${pack}.sig`, "utf8"));
    expect(Object.keys(sig).sort()).toEqual(["algorithm", "digest", "format", "id", "key_id", "signature", "version"]);
    expect(sig).toMatchObject({ format: "warden-signature/1", algorithm: "ed25519", digest: `sha256:${packed.json.sha256}`, id: "acme-hello", key_id: keys.json.keyId });

    expect(warden(["--home", home, "init"]).code).toBe(0);
    expect(w("module", "verify", pack).json).toMatchObject({ signed: true, trusted: false, status: "untrusted", keyId: keys.json.keyId });
    expect(w("trust", "add", join(dir, "keys", "acme.pub"), "--name", "acme", "--ids", "acme-*").json).toMatchObject({ name: "acme", ids: ["acme-*"] });
    expect(w("module", "verify", pack).json).toMatchObject({ signed: true, trusted: true, status: "verified", publisher: "acme" });
    expect(w("config", "set", "modules.require_signature", "true").code).toBe(0);
    expect(w("module", "install", pack).json).toMatchObject({ id: "acme-hello", publisher: "acme" });
    expect(w("acme-hello", "greet", "--name", "Ada").code).toBe(0);

    // Packing again without --sign drops the signature that no longer matches (a changed module).
    writeFileSync(join(mod, "index.ts"), readFileSync(join(mod, "index.ts"), "utf8") + "\n// changed\n");
    expect(warden(["module", "pack", mod, "--out", join(dir, "packs"), "--json"]).code).toBe(0);
    expect(existsSync(`${pack}.sig`)).toBe(false);
    const unsigned = w("module", "install", pack);
    expect(unsigned.code).toBe(3);
    expect(JSON.parse(unsigned.stderr || unsigned.stdout).error.code).toBe("signature_missing");
  }, 180_000);

  it("--sign with a file that is not a private key packs nothing", () => {
    const dir = tempDir("warden-sign-bad-");
    const mod = join(dir, "hello");
    cpSync(join(EXAMPLES_DIR, "hello"), mod, { recursive: true });
    writeFileSync(join(dir, "not-a-key"), "hello\n");
    const r = warden(["module", "pack", mod, "--sign", join(dir, "not-a-key"), "--out", join(dir, "packs"), "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr || r.stdout).error).toMatchObject({ code: "input_invalid", message: expect.stringContaining("not a private key") });
    expect(existsSync(join(dir, "packs"))).toBe(false);
  }, 60_000);
});
