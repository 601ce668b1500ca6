// Seals for what a shared store holds on behalf of the fleet: a module record (what the operator
// installed and approved, every file's hash included) and the trust policy. Someone who can write
// PostgreSQL but is not a host (a leaked database credential, another application on the server)
// can change a row, but cannot make its seal: the key is derived from WARDEN_SECRET_KEY, which
// every host of a fleet holds and the database never sees. Each host verifies the seal before it
// acts on a row, so a store it did not verify is never trusted further than a stranger.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "../audit/canonical.js";

export class Sealer {
  readonly #key: Buffer;

  /** `secret`: the fleet's shared 32-byte key; the seal key is derived from it for this one use. */
  constructor(secret: Buffer) {
    this.#key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), Buffer.from("warden-store-seal/1"), 32));
  }

  /** The seal of `value` as a `kind` (so a record's seal never passes for the policy's), over its canonical JSON. */
  seal(kind: string, value: unknown): string {
    return this.sealText(kind, canonicalJson(value));
  }

  /**
   * The seal of a text the caller serialises itself, the same way when sealing and verifying (a
   * module record: its columns in a fixed order, read back exactly as written; cheaper than
   * canonical JSON for the hundreds of records a fleet host reads on every change).
   */
  sealText(kind: string, text: string): string {
    return createHmac("sha256", this.#key).update(`${kind}\n`).update(text).digest("hex");
  }

  verify(kind: string, value: unknown, seal: unknown): boolean {
    let text: string;
    try {
      text = canonicalJson(value);
    } catch {
      return false; // not canonical JSON: nothing a host wrote
    }
    return this.verifyText(kind, text, seal);
  }

  verifyText(kind: string, text: string, seal: unknown): boolean {
    if (typeof seal !== "string" || !/^[0-9a-f]{64}$/.test(seal)) return false;
    return timingSafeEqual(Buffer.from(this.sealText(kind, text), "hex"), Buffer.from(seal, "hex"));
  }
}
