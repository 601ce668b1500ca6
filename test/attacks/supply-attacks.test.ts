// Attacks on the supply chain from a review by someone who had not seen its tests, one host: each
// was a hole when found and is kept as the test that it stays closed. Hostile signature files, a
// pack that changes between its check and its unpacking, a staged upgrade approved after the policy
// changed, a module that takes a host namespace, half a key pair, an --ids that says nothing.
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { HOST_NAMESPACES } from "../../core/host-commands.js";
import { RESERVED_IDS } from "../../core/manifest/index.js";
import { newKeyPair, parseSignature, signPack } from "../../core/supply/signature.js";
import { failure, makePack, newKey, publicPem } from "../helpers/packs.js";
import { testHost } from "../helpers/host.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import * as tar from "tar";
import { sha256Hex } from "../../core/supply/signature.js";

const hosts: Host[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
});
const key = newKey;
const pem = publicPem;
const acme = key();
const globex = key();

let h: Host;
beforeEach(async () => {
  h = await testHost({ kernelOnly: true, inProcess: true });
  hosts.push(h);
  await h.run("trust.add", { key: pem(acme.publicKey), name: "acme", ids: "acme-*" });
});

describe("attack22: supply chain", () => {
  it("an extra field named like an Object.prototype member makes a signature malformed, like any extra field", async () => {
    const p = await makePack("acme-proto", "1.0.0", acme.privateKey);
    const good = JSON.parse(readFileSync(`${p.file}.sig`, "utf8"));
    for (const extra of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
      const parsed = parseSignature(JSON.stringify({ ...good, [extra]: "anything at all" }));
      expect(parsed.ok, extra).toBe(false);
    }
    // And through install with signatures required: documented "malformed -> signature_missing".
    await h.run("config.set", { key: "modules.require_signature", value: true });
    writeFileSync(`${p.file}.sig`, JSON.stringify({ ...good, constructor: "x" }));
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_missing" });
  });

  it("a pack that is a FIFO (serving other bytes on a second read) is refused: what is verified is what is unpacked", async () => {
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const good = await makePack("acme-fifo", "1.0.0", acme.privateKey);
    const evil = await makePack("acme-fifo", "1.0.0", null, {
      body: `export function activate(ctx) { ctx.commands.register("version", async () => "EVIL"); }`,
    });
    const dir = tempDir("attack22-fifo-");
    const fifo = join(dir, "acme-fifo-1.0.0.tgz");
    spawnSync("mkfifo", [fifo]);
    writeFileSync(`${fifo}.sig`, readFileSync(`${good.file}.sig`));
    // First reader gets the signed pack, the second (the unpack) gets the unsigned evil one.
    const writer = spawn("sh", ["-c", `cat '${good.file}' > '${fifo}'; cat '${evil.file}' > '${fifo}'`], { stdio: "ignore" });
    try {
      const r = await failure(h.run("module.install", { source: fifo }));
      // Should be refused (not a regular file / bytes differ); must never run the unsigned code as 'acme'.
      if (r === undefined) {
        const v = await h.run("acme-fifo.version");
        const listed = ((await h.run("module.list")) as Array<{ id: string; publisher?: string }>).find((m) => m.id === "acme-fifo");
        expect({ v, publisher: listed?.publisher }).not.toEqual({ v: "EVIL", publisher: "acme" });
      }
    } finally {
      writer.kill();
    }
  });

  it("a staged upgrade is judged again at approval: signed by a key removed since, it is refused while signatures are required", async () => {
    await h.run("trust.add", { key: pem(globex.publicKey), name: "globex" });
    await h.run("module.install", { source: (await makePack("acme-st", "1.0.0", acme.privateKey)).file });
    const staged = (await h.run("module.install", { source: (await makePack("acme-st", "1.1.0", globex.privateKey)).file })) as { action: string };
    expect(staged.action).toBe("staged");
    // globex's key leaks: the operator removes it (with --disable-signed) and requires signatures.
    await h.run("trust.remove", { which: "globex", disableSigned: true });
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const hash = ((await h.run("module.inspect", { id: "acme-st" })) as { staged_upgrade: { hash: string } }).staged_upgrade.hash;
    const r = await failure(h.run("module.approve", { id: "acme-st", hash, version: "1.1.0" }));
    // Should be refused (publisher_untrusted): the pack is signed by a key the policy no longer trusts.
    expect(r, `approved; now ${JSON.stringify(await h.run("acme-st.version").catch((e) => e.code))}`).toMatchObject({ code: "publisher_untrusted" });
  });

  it("an unsigned upgrade staged while signatures were optional is refused at approval once they are required", async () => {
    await h.run("module.install", { source: (await makePack("acme-st2", "1.0.0", acme.privateKey)).file });
    await h.run("module.install", { source: (await makePack("acme-st2", "1.1.0", null)).file });
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const hash = ((await h.run("module.inspect", { id: "acme-st2" })) as { staged_upgrade: { hash: string } }).staged_upgrade.hash;
    const r = await failure(h.run("module.approve", { id: "acme-st2", hash, version: "1.1.0" }));
    expect(r).toMatchObject({ code: "signature_missing" });
  });

  it("after trust remove, list shows the publisher's key is no longer trusted", async () => {
    await h.run("module.install", { source: (await makePack("acme-rm", "1.0.0", acme.privateKey)).file });
    await h.run("trust.remove", { which: "acme" });
    const listed = ((await h.run("module.list")) as Array<{ id: string; publisher?: string }>).find((m) => m.id === "acme-rm");
    const inspected = (await h.run("module.inspect", { id: "acme-rm" })) as { provenance: { status: string } };
    // Should say the key is no longer trusted (e.g. "acme (key removed)" / "unverified (untrusted)").
    expect({ publisher: listed?.publisher, status: inspected.provenance.status }).not.toEqual({ publisher: "acme", status: "verified" });
  });

  it("a user module cannot take the id 'trust' (a host namespace)", async () => {
    // Every namespace the host's own commands live in is a reserved module id.
    for (const ns of HOST_NAMESPACES) expect(RESERVED_IDS.has(ns), ns).toBe(true);
    const root = tempDir("attack22-trust-");
    const dir = writeModule(root, {
      id: "trust",
      commands: { add: { description: "fake trust add", input: { type: "object", additionalProperties: true } } },
      code: `export function activate(ctx) { ctx.commands.register("add", async () => "hijacked"); }`,
    });
    const r = await failure(h.run("module.install", { source: dir, approve: true }));
    // Should be refused at install as a reserved id (manifest_invalid), like 'module' or 'config'.
    expect(r, "install of id 'trust' was accepted").toMatchObject({ code: "manifest_invalid" });
  });

  it("keys new over a dangling FILE.pub symlink writes nothing, not half a key pair", () => {
    const dir = tempDir("attack22-keys-");
    const out = join(dir, "k");
    symlinkSync(join(dir, "nowhere"), `${out}.pub`);
    expect(() => newKeyPair(out)).toThrow();
    // Refused: but nothing should have been written.
    expect(existsSync(out), "private key written although the pair was refused").toBe(false);
  });

  it("a signature for another id, another version, naming another trusted key, or in odd forms is refused", async () => {
    await h.run("config.set", { key: "modules.require_signature", value: true });
    await h.run("trust.add", { key: pem(globex.publicKey), name: "globex" });
    const p = await makePack("acme-other", "1.0.0", null);
    const sig = (k: KeyObject, id: string, v: string) => writeFileSync(`${p.file}.sig`, JSON.stringify(signPack(k, p.sha, id, v)));
    sig(acme.privateKey, "acme-else", "1.0.0");
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_invalid" });
    sig(acme.privateKey, "acme-other", "1.0.1");
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_invalid" });
    const s = signPack(acme.privateKey, p.sha, "acme-other", "1.0.0");
    writeFileSync(`${p.file}.sig`, JSON.stringify({ ...s, key_id: JSON.parse(JSON.stringify(signPack(globex.privateKey, p.sha, "x", "1"))).key_id }));
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_invalid" });
    // Uppercase / whitespace / unicode escapes in key_id or digest: malformed.
    const up = { ...s, key_id: s.key_id.toUpperCase() };
    writeFileSync(`${p.file}.sig`, JSON.stringify(up));
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_missing" });
    writeFileSync(`${p.file}.sig`, JSON.stringify({ ...s, digest: ` ${s.digest}` }));
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_missing" });
    writeFileSync(`${p.file}.sig`, JSON.stringify({ ...s, digest: `${s.digest}\n` }));
    expect(await failure(h.run("module.install", { source: p.file }))).toMatchObject({ code: "signature_missing" });
    // /dev/zero and a symlink to it as .sig: empty read, unsigned.
    await h.run("config.set", { key: "modules.require_signature", value: true });
    expect(await failure(h.run("module.install", { source: p.file, signature: "/dev/zero" }))).toMatchObject({ code: "input_invalid", message: expect.stringContaining("not a regular file") });
    // Folder install while required.
    const folder = writeModule(tempDir(), { id: "acme-folder" });
    expect(await failure(h.run("module.install", { source: folder }))).toMatchObject({ code: "signature_missing" });
    // Same id as a system-reserved id inside a signed pack.
    const console = await makePack("console", "1.0.0", acme.privateKey);
    expect(await failure(h.run("module.install", { source: console.file }))).toMatchObject({ code: "manifest_invalid" });
  });

  it("a .sig inside the pack counts for nothing; the one beside it decides", async () => {
    const root = tempDir("attack22-odd-");
    writeModule(root, { id: "acme-odd", capabilities: ["commands.register"] });
    const p = await makePack("acme-odd", "1.0.0", null);
    writeFileSync(join(root, "acme-odd", "acme-odd-1.0.0.tgz.sig"), readFileSync(`${p.file}`).subarray(0, 10));
    const file = join(root, "acme-odd-1.0.0.tgz");
    await tar.c({ gzip: true, file, cwd: root, portable: true }, ["acme-odd"]);
    await h.run("config.set", { key: "modules.require_signature", value: true });
    expect(await failure(h.run("module.install", { source: file }))).toMatchObject({ code: "signature_missing" });
    writeFileSync(`${file}.sig`, JSON.stringify(signPack(acme.privateKey, sha256Hex(readFileSync(file)), "acme-odd", "1.0.0")));
    await expect(h.run("module.install", { source: file })).resolves.toMatchObject({ publisher: "acme" });
  });
  it("trust add --ids ',' (or ' ') is refused, never read as every id", async () => {
    for (const ids of [",", " ", " , "]) {
      const r = await failure(h.run("trust.add", { key: pem(globex.publicKey), name: "globex", ids }));
      expect(
        r,
        `--ids '${ids}' accepted as: ${JSON.stringify(((await h.run("trust.export")) as { keys: Array<{ name: string; ids: string[] }> }).keys.find((k) => k.name === "globex"))}`,
      ).toMatchObject({ code: "input_invalid" });
    }
  });

  it("only scopes matching modules.trust reach the trust effects", async () => {
    const p = await makePack("acme-scope", "1.0.0", acme.privateKey);
    const out: Record<string, string[]> = {};
    for (const scopes of [["module.*"], ["config.*"], ["trust.*"], ["config.set", "modules.*"], ["*"], ["module.block"], ["config.set"], ["trust.add"], ["modules.trust.x"], ["modules"]]) {
      const caller = { kind: "token" as const, tokenId: "t", scopes };
      const ok: string[] = [];
      for (const [command, input] of [
        ["trust.add", { key: pem(globex.publicKey), name: "globex" }],
        ["module.block", { sha256: p.sha, reason: "x" }],
        ["config.set", { key: "modules.require_signature", value: true }],
      ] as const) {
        const r = await failure(h.dispatch({ command, input, caller }));
        if (r === undefined) ok.push(command);
      }
      out[scopes.join(",")] = ok;
    }
    expect(out["*"]).toHaveLength(3);
    expect(out["module.*"]).toEqual([]);
    expect(out["config.*"]).toEqual([]);
    expect(out["trust.*"]).toEqual([]);
    expect(out["module.block"]).toEqual([]);
    expect(out["config.set"]).toEqual([]);
    expect(out["trust.add"]).toEqual([]);
  });

  it("trust remove of the only key while signatures are required says what follows", async () => {
    await h.run("module.install", { source: (await makePack("acme-only", "1.0.0", acme.privateKey)).file });
    await h.run("config.set", { key: "modules.require_signature", value: true });
    expect(await h.run("trust.remove", { which: "acme" })).toMatchObject({ removed: "acme", warning: expect.stringContaining("every pack install will be refused") });
  });
  it("a module folder with id 'trust' in the home does not stop the host's start", async () => {
    const home = tempDir("attack22-home-");
    const h1 = await testHost({ kernelOnly: true, inProcess: true, home });
    const root = tempDir("attack22-trust-");
    const dir = writeModule(root, {
      id: "trust",
      commands: { add: { description: "fake trust add", input: { type: "object", additionalProperties: true } } },
      code: `export function activate(ctx) { ctx.commands.register("add", async () => "hijacked"); }`,
    });
    const installed = await failure(h1.run("module.install", { source: dir, approve: true }));
    expect(installed).toMatchObject({ code: "manifest_invalid", message: expect.stringContaining("reserved") });
    await h1.close();
    let reopened: Host | undefined;
    const r = await testHost({ kernelOnly: true, inProcess: true, home }).then(
      (x) => ((reopened = x), undefined),
      (e: { code: string; message: string }) => e,
    );
    if (reopened) hosts.push(reopened);
    // The host must still start (a module must never keep the host from starting).
    expect(r, "host failed to start after a module named 'trust' was installed").toBeUndefined();
  });
  it("a pack file swapped by rename during install never runs the other bytes under the signed publisher", async () => {
    await h.run("config.set", { key: "modules.require_signature", value: true });
    const good = await makePack("acme-race", "1.0.0", acme.privateKey);
    const evil = await makePack("acme-race", "1.0.0", null, {
      body: `export function activate(ctx) { ctx.commands.register("version", async () => "EVIL"); }`,
    });
    const dir = tempDir("attack22-race-");
    const file = join(dir, "acme-race-1.0.0.tgz");
    writeFileSync(`${file}.sig`, readFileSync(`${good.file}.sig`));
    writeFileSync(file, readFileSync(good.file));
    // Another process swaps the good and the evil bytes in under the pack's name as fast as it can.
    const swapper = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"); const [g, e, f] = ${JSON.stringify([good.file, evil.file, file])}; const b = [fs.readFileSync(g), fs.readFileSync(e)];
         for (let i = 0; ; i++) { fs.writeFileSync(f + ".n", b[i % 2]); fs.renameSync(f + ".n", f); }`,
      ],
      { stdio: "ignore" },
    );
    let evilRan = 0;
    let attempts = 0;
    try {
      for (; attempts < 60 && evilRan === 0; attempts++) {
        const r = await failure(h.run("module.install", { source: file }));
        if (r !== undefined) continue;
        if ((await h.run("acme-race.version")) === "EVIL") evilRan++;
        else await h.run("module.remove", { id: "acme-race" });
      }
    } finally {
      swapper.kill();
    }
    expect(evilRan).toBe(0);
  }, 120_000);
});
