// Anchoring the audit chain beyond the home. Someone who can write the home can cut the chain's
// tail and rewrite audit.head, or edit a row and recompute every hash after it; a hash chain alone
// cannot tell. Two anchors can:
// - audit.head is signed (Ed25519) with a key kept outside the home: a rewritten head does not
//   verify without the key;
// - checkpoints (`warden audit checkpoint`): a signed {seq, hash} the operator keeps where the host
//   cannot rewrite it (and a copy goes to the security log). `audit verify --checkpoint FILE` then
//   catches a rewritten history, a cut tail with a replayed or rewritten head, and a deleted chain.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { HostError } from "../base/errors.js";

export interface Checkpoint {
  format: "warden-audit-checkpoint/1";
  home: string;
  seq: number;
  hash: string;
  time: string;
  public_key: string;
  signature: string;
}

const headMessage = (seq: number, hash: string) => Buffer.from(`warden-audit-head\n${seq}\n${hash}`);
const checkpointMessage = (c: Omit<Checkpoint, "signature">) => Buffer.from(`warden-audit-checkpoint\n${c.home}\n${c.seq}\n${c.hash}\n${c.time}\n${c.public_key}`);

/** Where a home's signing key lives by default: the user's state directory, never the home. */
export function defaultKeyFile(home: string): string {
  const xdg = process.env.XDG_STATE_HOME;
  const base = join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "state"), "warden", "audit-keys");
  let real = home;
  try {
    real = realpathSync(home);
  } catch {
    // not made yet
  }
  return join(base, `${createHash("sha256").update(real).digest("hex").slice(0, 32)}.pem`);
}

export class AuditSigner {
  readonly keyFile: string;
  #keys: { private: KeyObject; public: KeyObject } | undefined;

  /** `WARDEN_AUDIT_KEY_FILE` names the key; otherwise one per home under the user's state directory. */
  constructor(home: string, keyFile = process.env.WARDEN_AUDIT_KEY_FILE || defaultKeyFile(home)) {
    this.keyFile = keyFile;
  }

  /** The key, made on first use (mode 0600, its folder 0700). */
  #key(create: boolean): { private: KeyObject; public: KeyObject } {
    if (this.#keys) return this.#keys;
    if (!existsSync(this.keyFile)) {
      if (!create) throw new HostError("audit_failed", `the audit signing key ${this.keyFile} is missing, so audit.head and checkpoints cannot be checked; restore it (or set WARDEN_AUDIT_KEY_FILE)`);
      mkdirSync(dirname(this.keyFile), { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync("ed25519");
      writeFileSync(this.keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    }
    chmodSync(this.keyFile, 0o600);
    const privateKey = createPrivateKey(readFileSync(this.keyFile));
    this.#keys = { private: privateKey, public: createPublicKey(privateKey) };
    return this.#keys;
  }

  publicKey(): string {
    return this.#key(false).public.export({ type: "spki", format: "der" }).toString("base64");
  }

  signHead(seq: number, hash: string): string {
    return sign(null, headMessage(seq, hash), this.#key(true).private).toString("base64");
  }

  /** undefined when the signature is this key's; otherwise why not. */
  headSignatureProblem(seq: number, hash: string, signature: string | undefined): string | undefined {
    if (!signature) return "audit.head carries no signature (it was written without the key, or by hand)";
    return verify(null, headMessage(seq, hash), this.#key(false).public, Buffer.from(signature, "base64")) ? undefined : "audit.head's signature does not verify (it was rewritten without the key)";
  }

  checkpoint(home: string, seq: number, hash: string): Checkpoint {
    const keys = this.#key(true);
    const body = { format: "warden-audit-checkpoint/1" as const, home, seq, hash, time: new Date().toISOString(), public_key: this.publicKey() };
    return { ...body, signature: sign(null, checkpointMessage(body), keys.private).toString("base64") };
  }

  /** Checks a checkpoint's shape, that this key made it, and its signature; returns it typed. */
  readCheckpoint(value: unknown): Checkpoint {
    const c = value as Partial<Checkpoint> | null;
    if (
      !c ||
      c.format !== "warden-audit-checkpoint/1" ||
      !Number.isSafeInteger(c.seq) ||
      typeof c.hash !== "string" ||
      typeof c.time !== "string" ||
      typeof c.public_key !== "string" ||
      typeof c.signature !== "string" ||
      typeof c.home !== "string"
    ) {
      throw new HostError("input_invalid", "that is not a Warden audit checkpoint (make one with `warden audit checkpoint --out FILE`)");
    }
    if (c.public_key !== this.publicKey()) throw new HostError("input_invalid", "the checkpoint was signed with another key than this home's audit key");
    const { signature, ...body } = c as Checkpoint;
    if (!verify(null, checkpointMessage(body), this.#key(false).public, Buffer.from(signature, "base64")))
      throw new HostError("input_invalid", "the checkpoint's signature does not verify (it was edited)");
    return c as Checkpoint;
  }
}
