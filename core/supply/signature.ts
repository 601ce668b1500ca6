// Publisher keys and detached pack signatures: one documented format (docs/signing-your-module.md),
// Ed25519 by node's crypto. A signature names the pack by its sha256 and the module by id and
// version, and the key that made it by key id (the sha256 of the raw public key). Reading a
// signature never trusts it: the file is size-capped before it is read, must be exactly the
// documented shape, and anything else counts as no signature at all (never "valid because a field
// was missing": OPA's lesson).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { closeSync, constants, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HostError } from "../base/errors.js";

export const SIGNATURE_FORMAT = "warden-signature/1";
/** A signature file is a few hundred bytes; anything over this is refused before it is read. */
export const MAX_SIGNATURE_BYTES = 4096;
/** A public key file (PEM) is about 113 bytes. */
const MAX_KEY_FILE_BYTES = 8192;

export interface PackSignature {
  format: typeof SIGNATURE_FORMAT;
  /** sha256 (hex) of the raw 32-byte Ed25519 public key. */
  key_id: string;
  algorithm: "ed25519";
  /** "sha256:" and the hex sha256 of the pack's bytes. */
  digest: string;
  id: string;
  version: string;
  /** base64 of the 64-byte Ed25519 signature over signedMessage() of the other fields. */
  signature: string;
}

const FIELDS: Record<keyof PackSignature, RegExp> = {
  format: /^warden-signature\/1$/,
  key_id: /^[0-9a-f]{64}$/,
  algorithm: /^ed25519$/,
  digest: /^sha256:[0-9a-f]{64}$/,
  id: /^[a-z][a-z0-9-]{1,39}$/,
  version: /^[0-9A-Za-z.+-]{1,64}$/,
  signature: /^[A-Za-z0-9+/]{86}==$/,
};

/** The bytes a signature is made over: every field but the signature, as canonical JSON. */
export function signedMessage(s: Omit<PackSignature, "signature">): Buffer {
  // Canonical JSON of six strings: keys in sorted order, each value as JSON.stringify writes it
  // (what canonicalJson gives, written out: this runs on every verification).
  const j = JSON.stringify;
  return Buffer.from(`{"algorithm":${j(s.algorithm)},"digest":${j(s.digest)},"format":${j(s.format)},"id":${j(s.id)},"key_id":${j(s.key_id)},"version":${j(s.version)}}`);
}

export function sha256Hex(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

const keyIds = new WeakMap<KeyObject, string>();

/** The key id of a public key: sha256 of its raw 32 bytes (worked out once per key object). */
export function keyIdOf(publicKey: KeyObject): string {
  let id = keyIds.get(publicKey);
  if (id === undefined) keyIds.set(publicKey, (id = sha256Hex(rawPublicKey(publicKey))));
  return id;
}

export function rawPublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== "ed25519") throw new HostError("input_invalid", `a publisher key must be Ed25519, not ${publicKey.asymmetricKeyType}`);
  const jwk = publicKey.export({ format: "jwk" }) as { x?: string };
  return Buffer.from(jwk.x ?? "", "base64url");
}

/** A public key from its raw 32 bytes (as the trust policy stores it). */
export function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
}

/**
 * Reads a regular file of at most `max` bytes; null when it is larger (a huge file is never read
 * whole). Anything but a regular file (a FIFO, a device, a folder) is refused without blocking:
 * opening a FIFO to read would wait for a writer, and /dev/zero never ends.
 */
export function readCapped(file: string, max: number): Buffer | null {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HostError("input_invalid", `${file} is not a regular file`);
    if (st.size > max) return null;
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * A signature as the documented shape, or why it is not one. Any deviation (too large, not JSON,
 * a field missing, extra or of the wrong form) is "malformed": the pack then counts as unsigned.
 */
export function parseSignature(bytes: Buffer | string): { ok: true; signature: PackSignature } | { ok: false; why: string } {
  const text = typeof bytes === "string" ? bytes : bytes.toString("utf8");
  if (Buffer.byteLength(text) > MAX_SIGNATURE_BYTES) return { ok: false, why: `it is larger than ${MAX_SIGNATURE_BYTES} bytes` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, why: "it is not JSON" };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { ok: false, why: "it is not a JSON object" };
  const o = doc as Record<string, unknown>;
  // The reason never quotes the file: `--signature` may name any file the host can read.
  for (const k of Object.keys(o)) if (!Object.hasOwn(FIELDS, k)) return { ok: false, why: "it has a field the format does not" };
  for (const [k, re] of Object.entries(FIELDS)) {
    const v = o[k];
    if (typeof v !== "string") return { ok: false, why: `its '${k}' is ${v === undefined ? "missing" : "not a string"}` };
    if (!re.test(v)) return { ok: false, why: `its '${k}' is not of the documented form` };
  }
  const str = (k: keyof PackSignature) => o[k] as string;
  return {
    ok: true,
    signature: { format: SIGNATURE_FORMAT, key_id: str("key_id"), algorithm: "ed25519", digest: str("digest"), id: str("id"), version: str("version"), signature: str("signature") },
  };
}

/** Whether `s` is a signature by `publicKey` (its key id included) over its fields. */
export function signatureVerifies(s: PackSignature, publicKey: KeyObject): boolean {
  if (keyIdOf(publicKey) !== s.key_id) return false;
  try {
    return verify(null, signedMessage(s), publicKey, Buffer.from(s.signature, "base64"));
  } catch {
    return false;
  }
}

export function signPack(privateKey: KeyObject, packSha256: string, id: string, version: string): PackSignature {
  const publicKey = createPublicKey(privateKey);
  const unsigned = { format: SIGNATURE_FORMAT, key_id: keyIdOf(publicKey), algorithm: "ed25519", digest: `sha256:${packSha256}`, id, version } as const;
  return { ...unsigned, signature: sign(null, signedMessage(unsigned), privateKey).toString("base64") };
}

/** Whether anything is at `path`, a dangling symlink included (existsSync says no to one). */
function occupied(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `warden keys new --out FILE`: FILE (the private key, 0600) and FILE.pub. Never over anything
 * (a file, a link, a dangling link), and never half a pair: the public key is created exclusively
 * first, the private key is written beside and linked into place (a link, unlike a rename, fails
 * when the name is taken), and whatever was made is removed if a step fails.
 */
export function newKeyPair(out: string): { privateFile: string; publicFile: string; keyId: string } {
  const publicFile = `${out}.pub`;
  for (const f of [out, publicFile]) if (occupied(f)) throw new HostError("usage", `${f} already exists; choose another --out (a key is never overwritten)`);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  writeFileSync(publicFile, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644, flag: "wx" });
  try {
    writeFileSync(tmp, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    linkSync(tmp, out);
  } catch (e) {
    rmSync(publicFile, { force: true });
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new HostError("usage", `${out} appeared while the key was made; choose another --out (a key is never overwritten)`);
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  return { privateFile: out, publicFile, keyId: keyIdOf(publicKey) };
}

export function readPrivateKey(file: string): KeyObject {
  if (!occupied(file)) throw new HostError("usage", `${file} does not exist; make a key with \`warden keys new --out ${file}\``);
  const bytes = readCapped(file, MAX_KEY_FILE_BYTES);
  let key: KeyObject;
  try {
    if (!bytes) throw new Error("too large");
    key = createPrivateKey(bytes);
  } catch {
    throw new HostError("input_invalid", `${file} is not a private key (expected the PEM file \`warden keys new\` wrote)`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new HostError("input_invalid", `${file} is a ${key.asymmetricKeyType} key; Warden signs with Ed25519 (\`warden keys new\`)`);
  return key;
}

/** A public key from a .pub file's text (PEM), or the raw key as base64: what `trust add` accepts. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  if (t.length > MAX_KEY_FILE_BYTES) throw new HostError("input_invalid", "that is not a public key (too long)");
  try {
    if (t.startsWith("-----BEGIN")) {
      if (t.includes("PRIVATE KEY")) throw new HostError("input_invalid", "that is a private key: give the .pub file (the private key never leaves its author)");
      const k = createPublicKey(t);
      rawPublicKey(k);
      return k;
    }
    const raw = Buffer.from(t, "base64");
    if (raw.length !== 32 || raw.toString("base64").replace(/=+$/, "") !== t.replace(/=+$/, "")) throw new Error("not 32 bytes");
    return publicKeyFromRaw(raw);
  } catch (e) {
    if (e instanceof HostError) throw e;
    throw new HostError("input_invalid", "that is not an Ed25519 public key: give the .pub file `warden keys new` wrote, or its raw key as base64");
  }
}
