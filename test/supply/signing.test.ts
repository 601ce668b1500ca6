// Signed packs on one host: who made a pack is verified under the trust policy; with
// modules.require_signature every other verdict is refused with its own code, and without it the
// pack installs with a warning and shows as unverified. A publisher change on upgrade waits for
// approval; the kill switch stops what runs and refuses what comes; hostile signature files and a
// token without modules.trust change nothing.
import { generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { signedMessage, signPack, type PackSignature } from "../../core/supply/signature.js";
import { canonicalJson } from "../../core/audit/canonical.js";
import { failure, makePack, newKey, publicPem, versionCode } from "../helpers/packs.js";
import { testHost } from "../helpers/host.js";

const hosts: Host[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
});

const key = newKey;
const pem = publicPem;
const acme = key();
const globex = key();
const mallory = key();

const code = versionCode;
const pack = makePack;

type Sig = Record<string, string>;
const readSig = (file: string): Sig => JSON.parse(readFileSync(`${file}.sig`, "utf8"));
const writeSig = (file: string, s: unknown) => writeFileSync(`${file}.sig`, typeof s === "string" ? s : JSON.stringify(s));
/** The base64 signature with one byte changed (its first character, to another valid one). */
const flipped = (b64: string) => (b64[0] === "A" ? "B" : "A") + b64.slice(1);

let h: Host;
beforeEach(async () => {
  h = await testHost({ kernelOnly: true, inProcess: true });
  hosts.push(h);
  await h.run("trust.add", { key: pem(acme.publicKey), name: "acme", ids: "acme-*" });
});

const listed = async (id: string) => ((await h.run("module.list")) as Array<{ id: string; publisher?: string; state: string; error?: { code: string } }>).find((m) => m.id === id);

/** Each case: what it does to a pack, the code it earns when signatures are required, and the verdict otherwise. */
const CASES: Array<[string, () => Promise<{ file: string; id: string }>, string, string]> = [
  ["unsigned (no .sig beside it)", () => pack("acme-plain", "1.0.0", null), "signature_missing", "unsigned"],
  ["signed by a key the policy does not hold", () => pack("acme-stranger", "1.0.0", mallory.privateKey), "publisher_untrusted", "untrusted"],
  [
    "one byte of the pack changed after signing",
    async () => {
      const signed = await pack("acme-bytes", "1.0.0", acme.privateKey);
      const changed = await pack("acme-bytes", "1.0.0", null, { body: code.replace("ctx.module.version", "ctx.module.version ") });
      writeFileSync(`${changed.file}.sig`, readFileSync(`${signed.file}.sig`));
      return changed;
    },
    "signature_invalid",
    "invalid",
  ],
  [
    "bytes that are no pack at all, signed as one: refused before anything is unpacked when signatures are required",
    async () => {
      const p = await pack("acme-garbage", "1.0.0", acme.privateKey);
      const b = readFileSync(p.file);
      b[b.length - 9] = b[b.length - 9]! ^ 0xff; // the gzip trailer: no longer a readable pack
      writeFileSync(p.file, b);
      return p;
    },
    "signature_invalid",
    "unreadable",
  ],
  [
    "one byte of the signature changed",
    async () => {
      const p = await pack("acme-sigbyte", "1.0.0", acme.privateKey);
      const s = readSig(p.file);
      writeSig(p.file, { ...s, signature: flipped(s.signature!) });
      return p;
    },
    "signature_invalid",
    "invalid",
  ],
  [
    "the signature's version swapped (a 1.0.0 signature replayed as 2.0.0's)",
    async () => {
      const p = await pack("acme-swap", "2.0.0", acme.privateKey);
      const s = readSig(p.file);
      writeSig(p.file, { ...s, version: "1.0.0" });
      return p;
    },
    "signature_invalid",
    "invalid",
  ],
  [
    "the pack's module.json names another version than the signature",
    async () => {
      const signed = await pack("acme-ver", "1.0.0", acme.privateKey);
      const other = await pack("acme-ver", "1.0.1", null);
      writeFileSync(`${other.file}.sig`, readFileSync(`${signed.file}.sig`));
      return other;
    },
    "signature_invalid",
    "invalid",
  ],
  ["a key trusted only for other module ids (acme-*)", () => pack("globex-tool", "1.0.0", acme.privateKey), "publisher_not_allowed", "not_allowed"],
  [
    "signed by a key that was removed from the policy",
    async () => {
      await h.run("trust.add", { key: pem(globex.publicKey), name: "globex" });
      await h.run("trust.remove", { which: "globex" });
      return pack("acme-gone", "1.0.0", globex.privateKey);
    },
    "publisher_untrusted",
    "untrusted",
  ],
];

describe("signed packs on one host", () => {
  it("a pack signed by a trusted key installs, and its publisher is shown by list, inspect and the install's audit event", async () => {
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const p = await pack("acme-hello", "1.0.0", acme.privateKey);
    const r = (await h.run("module.install", { source: p.file })) as { publisher: string; pack: string; warning?: string };
    expect(r).toMatchObject({ publisher: "acme", pack: p.sha });
    expect(r.warning).toBeUndefined();
    await expect(h.run("acme-hello.version")).resolves.toBe("1.0.0");
    expect(await listed("acme-hello")).toMatchObject({ publisher: "acme", pack: p.sha, state: "active" });
    expect(await h.run("module.inspect", { id: "acme-hello" })).toMatchObject({ provenance: { status: "verified", publisher: { name: "acme" } } });
    const events = (await h.run("audit.tail", { n: 5 })) as Array<{ action: string; data: Record<string, unknown> }>;
    expect(events.find((e) => e.action === "module.install")?.data).toMatchObject({ pack: p.sha, signature: "verified", publisher: { name: "acme" } });
  });

  for (const [name, make, refusal, status] of CASES) {
    it(`${name}: refused with ${refusal} when signatures are required, installed as unverified with a warning when not`, async () => {
      const p = await make();
      await h.run("config.set", { key: "modules.require_signature", value: true });
      const e = await failure(h.run("module.install", { source: p.file }));
      expect(e).toMatchObject({ code: refusal });
      expect(e!.message.length).toBeGreaterThan(40); // says what happened and what to do
      const id = p.id;
      expect(await listed(id)).toBeUndefined();
      await h.run("config.set", { key: "modules.require_signature", value: false });
      if (status === "unreadable") {
        // Not required: it is unpacked, and found not to be a pack.
        expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "manifest_invalid" });
        return;
      }
      const r = (await h.run("module.install", { source: p.file })) as { publisher: string; warning?: string };
      expect(r.publisher).toBe(`unverified (${status})`);
      expect(r.warning).toMatch(/unverified/);
      expect(await listed(id)).toMatchObject({ publisher: `unverified (${status})` });
    });
  }

  it("hostile signature files count as no signature, never as a valid one: huge, deep, not JSON, a field missing or extra", async () => {
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const p = await pack("acme-hostile", "1.0.0", acme.privateKey);
    const good = readSig(p.file);
    const { key_id: _k, ...noKeyId } = good;
    const hostile: Array<[string, unknown]> = [
      ["huge", JSON.stringify({ ...good, pad: "x".repeat(5 * 1024 * 1024) })],
      ["deep", "[".repeat(4000) + "]".repeat(4000)],
      ["deep within the size", `{"format":${"[".repeat(1500)}${"]".repeat(1500)}}`],
      ["not JSON", "\u0000\u0001 definitely not json"],
      ["key id missing", noKeyId],
      ["an extra field", { ...good, trusted: "yes" }],
      ["a number where a string goes", { ...good, version: 1 }],
      ["an array", [good]],
    ];
    for (const [what, sig] of hostile) {
      writeSig(p.file, sig);
      const e = await failure(h.run("module.install", { source: p.file }));
      expect(e, what).toMatchObject({ code: "signature_missing", message: expect.stringMatching(/malformed|too large/) });
    }
    // A signature that names the trusted key but was made by another: invalid, not trusted.
    const forged = signPack(mallory.privateKey, p.sha, "acme-hostile", "1.0.0");
    writeSig(p.file, { ...forged, key_id: good.key_id });
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_invalid" });
    // And the real one still works: still serving.
    writeSig(p.file, good);
    await expect(h.run("module.install", { source: p.file })).resolves.toMatchObject({ publisher: "acme" });
  });

  it("an upgrade signed by another publisher waits for approval like a new capability; approving it switches publisher", async () => {
    await h.run("trust.add", { key: pem(globex.publicKey), name: "globex" });
    await h.run("module.install", { source: (await pack("acme-up", "1.0.0", acme.privateKey)).file });
    const staged = (await h.run("module.install", { source: (await pack("acme-up", "1.1.0", globex.privateKey)).file })) as { action: string; added: string[] };
    expect(staged.action).toBe("staged");
    expect(staged.added).toContain("publisher: acme -> globex");
    await expect(h.run("acme-up.version")).resolves.toBe("1.0.0");
    expect(await listed("acme-up")).toMatchObject({ publisher: "acme" });
    const inspected = (await h.run("module.inspect", { id: "acme-up" })) as { staged_upgrade: { hash: string; version: string; publisher: string } };
    expect(inspected.staged_upgrade.publisher).toBe("globex");
    await h.run("module.approve", { id: "acme-up", hash: inspected.staged_upgrade.hash, version: "1.1.0" });
    await expect(h.run("acme-up.version")).resolves.toBe("1.1.0");
    expect(await listed("acme-up")).toMatchObject({ publisher: "globex" });
    // Signed -> unsigned is a publisher change too; the same publisher again is not.
    expect(await h.run("module.install", { source: (await pack("acme-up", "1.2.0", null)).file })).toMatchObject({ action: "staged", added: ["publisher: globex -> unverified (unsigned)"] });
  });

  it("the kill switch: a blocked pack stops where it runs, is refused at install, and runs again once unblocked", async () => {
    const p = await pack("acme-bad", "1.0.0", acme.privateKey);
    await h.run("module.install", { source: p.file });
    await expect(h.run("acme-bad.version")).resolves.toBe("1.0.0");
    const blocked = (await h.run("module.block", { sha256: p.sha, reason: "exfiltrates tokens (CVE-0000-0001)" })) as { modules: string[]; stopped: string[] };
    expect(blocked).toMatchObject({ modules: ["acme-bad"], stopped: ["acme-bad"] });
    expect(await listed("acme-bad")).toMatchObject({ state: "failed", error: { code: "module_blocked" } });
    expect(await failure(h.run("acme-bad.version"))).toMatchObject({ code: "module_blocked" });
    await h.run("module.remove", { id: "acme-bad" });
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "module_blocked", message: expect.stringContaining("CVE-0000-0001") });
    expect(await h.run("module.blocked")).toMatchObject([{ sha256: p.sha, reason: "exfiltrates tokens (CVE-0000-0001)", by: "operator:local" }]);
    expect(await h.run("trust.export")).toMatchObject({ blocked: [{ sha256: p.sha }], keys: [{ name: "acme" }] });
    await h.run("module.unblock", { sha256: p.sha });
    await h.run("module.install", { source: p.file });
    await expect(h.run("acme-bad.version")).resolves.toBe("1.0.0");
  });

  it("trust remove --disable-signed disables what the key signed; without the flag, what runs keeps running", async () => {
    await h.run("trust.add", { key: pem(globex.publicKey), name: "globex" });
    await h.run("module.install", { source: (await pack("acme-one", "1.0.0", acme.privateKey)).file });
    await h.run("module.install", { source: (await pack("globex-two", "1.0.0", globex.privateKey)).file });
    expect(await h.run("trust.remove", { which: "globex" })).toMatchObject({ removed: "globex", disabled: [] });
    await expect(h.run("globex-two.version")).resolves.toBe("1.0.0");
    expect(await h.run("trust.remove", { which: "acme", disableSigned: true })).toMatchObject({ removed: "acme", disabled: ["acme-one"] });
    expect(await listed("acme-one")).toMatchObject({ state: "disabled" });
  });

  it("a token without modules.trust cannot trust, untrust, block, unblock or turn signatures off, by any path", async () => {
    const p = await pack("acme-tok", "1.0.0", acme.privateKey);
    const narrow = { kind: "token" as const, tokenId: "t-narrow", scopes: ["module.*", "config.set", "trust.list", "trust.export"] };
    const as = (command: string, input: unknown) => failure(h.dispatch({ command, input, caller: narrow }));
    for (const [command, input] of [
      ["trust.add", { key: pem(mallory.publicKey), name: "mallory" }],
      ["trust.remove", { which: "acme" }],
      ["module.block", { sha256: p.sha, reason: "x" }],
      ["module.unblock", { sha256: p.sha }],
      ["config.set", { key: "modules.require_signature", value: false }],
    ] as const) {
      expect(await as(command, input), command).toMatchObject({ code: "forbidden" });
    }
    const policy = (await h.run("trust.export")) as { keys: Array<{ name: string }>; revision: number };
    expect(policy.keys.map((k) => k.name)).toEqual(["acme"]);
    expect(policy.revision).toBe(1);
    // --disable-signed is also the disable effect: modules.trust alone does not reach it.
    const trustOnly = { kind: "token" as const, tokenId: "t-trust", scopes: ["modules.trust"] };
    expect(await failure(h.dispatch({ command: "trust.remove", input: { which: "acme", disableSigned: true }, caller: trustOnly }))).toMatchObject({ code: "forbidden" });
    expect(((await h.run("trust.export")) as { keys: unknown[] }).keys).toHaveLength(1);
    // The holder of modules.trust may.
    await expect(h.dispatch({ command: "trust.add", input: { key: pem(globex.publicKey), name: "globex" }, caller: trustOnly })).resolves.toMatchObject({ name: "globex" });
  });

  it("a signature is over the canonical JSON of its six other fields, as docs/signing-your-module.md says", async () => {
    const p = await pack("acme-format", "1.0.0", acme.privateKey);
    const { signature, ...fields } = readSig(p.file);
    expect(signedMessage(fields as Omit<PackSignature, "signature">).toString()).toBe(canonicalJson(fields));
    expect(verify(null, Buffer.from(canonicalJson(fields)), acme.publicKey, Buffer.from(signature!, "base64"))).toBe(true);
  });

  it("trust add refuses what is not an Ed25519 public key, a private key above all, and a name taken by another key", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(await failure(h.run("trust.add", { key: rsa.publicKey.export({ type: "spki", format: "pem" }) as string, name: "rsa" }))).toMatchObject({ code: "input_invalid" });
    expect(await failure(h.run("trust.add", { key: acme.privateKey.export({ type: "pkcs8", format: "pem" }) as string, name: "oops" }))).toMatchObject({
      code: "input_invalid",
      message: expect.stringContaining("private key"),
    });
    expect(await failure(h.run("trust.add", { key: pem(globex.publicKey), name: "acme" }))).toMatchObject({ code: "input_invalid" });
    expect(await failure(h.run("trust.add", { key: "not a key", name: "x" }))).toMatchObject({ code: "input_invalid" });
  });
});
