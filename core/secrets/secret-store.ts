// Module secrets: set by an operator, readable only by the module they belong to (ctx.secrets.get),
// never shown by `config list`, the audit chain, logs or errors. Each value is sealed with
// AES-256-GCM under a key kept outside system.brain (WARDEN_SECRET_KEY, or <home>/secret.key,
// mode 0600, made on first use); the module id and secret name are bound in as associated data,
// so a sealed value copied to another module's row does not open.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { HostError } from "../base/errors.js";
import type { SecretRepo } from "../store/store.js";
import { homeLayout } from "../base/home.js";

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_VALUE_BYTES = 64 * 1024;
const VERSION = "v1";

export class SecretStore {
  readonly #repo: SecretRepo;
  readonly #keyFile: string;
  readonly #envKey: string | undefined;
  #key: Buffer | undefined;
  /** A fleet's store: every host must open what any host sealed, so a home's own key will not do. */
  readonly #shared: boolean;

  constructor(repo: SecretRepo, home: string, envKey: string | undefined = process.env.WARDEN_SECRET_KEY, o: { shared?: boolean } = {}) {
    this.#repo = repo;
    this.#keyFile = homeLayout(home).secretKey;
    this.#envKey = envKey === "" ? undefined : envKey;
    this.#shared = o.shared ?? false;
  }

  /** Where the key comes from, for `warden secrets list` (never the key). */
  keySource(): string {
    return this.#envKey !== undefined ? "WARDEN_SECRET_KEY" : this.#keyFile;
  }

  async set(moduleId: string, name: string, value: string, tx?: { secrets: SecretRepo }): Promise<void> {
    checkName(name);
    if (typeof value !== "string" || value.length === 0) throw new HostError("input_invalid", "a secret's value must be a non-empty string");
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_VALUE_BYTES) throw new HostError("input_invalid", `the secret is ${bytes} bytes; at most ${MAX_VALUE_BYTES} allowed`);
    const key = this.#keyFor(true);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(aad(moduleId, name));
    const sealed = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    await (tx?.secrets ?? this.#repo).put(moduleId, name, `${VERSION}:${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${sealed.toString("base64")}`);
  }

  async get(moduleId: string, name: string): Promise<string | undefined> {
    checkName(name);
    const row = await this.#repo.get(moduleId, name);
    if (row === undefined) return undefined;
    const [version, iv, tag, sealed] = row.split(":");
    if (version !== VERSION || !iv || !tag || sealed === undefined) throw unavailable(`the stored secret '${name}' of '${moduleId}' is not in a known format`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#keyFor(false), Buffer.from(iv, "base64"));
      decipher.setAAD(aad(moduleId, name));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(sealed, "base64")), decipher.final()]).toString("utf8");
    } catch (e) {
      if (e instanceof HostError) throw e;
      throw unavailable(`the secret '${name}' of '${moduleId}' does not open with the current key (${this.keySource()})`);
    }
  }

  delete(moduleId: string, name: string, tx?: { secrets: SecretRepo }): Promise<boolean> {
    checkName(name);
    return (tx?.secrets ?? this.#repo).delete(moduleId, name);
  }

  list(moduleId?: string): Promise<Array<{ module: string; name: string; updatedAt: string }>> {
    return this.#repo.list(moduleId);
  }

  /**
   * The key hosts sharing a store share (WARDEN_SECRET_KEY): it also seals the module records and
   * the trust policy they all verify (core/supply/seal.ts). Refuses when it is not set.
   */
  fleetKey(): Buffer {
    return this.#keyFor(false);
  }

  #keyFor(create: boolean): Buffer {
    if (this.#key) return this.#key;
    if (this.#envKey !== undefined) {
      const key = /^[0-9a-fA-F]{64}$/.test(this.#envKey) ? Buffer.from(this.#envKey, "hex") : Buffer.from(this.#envKey, "base64");
      if (key.length !== 32) throw unavailable("WARDEN_SECRET_KEY must be 32 bytes, as 64 hex digits or base64");
      return (this.#key = key);
    }
    if (this.#shared)
      throw unavailable(
        "hosts sharing a store share one key, which seals the module records and trust policy they verify and the module secrets: set WARDEN_SECRET_KEY (the same 32 bytes, as 64 hex digits or base64, on every host; `openssl rand -base64 32` makes one)",
      );
    if (!existsSync(this.#keyFile)) {
      if (!create) throw unavailable(`the secret key ${this.#keyFile} is missing`);
      writeFileSync(this.#keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    chmodSync(this.#keyFile, 0o600);
    const key = Buffer.from(readFileSync(this.#keyFile, "utf8").trim(), "base64");
    if (key.length !== 32) throw unavailable(`the secret key ${this.#keyFile} is not 32 bytes of base64`);
    return (this.#key = key);
  }
}

function checkName(name: string): void {
  if (typeof name !== "string" || !NAME.test(name))
    throw new HostError("input_invalid", `secret name '${String(name).slice(0, 80)}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter`);
}

function aad(moduleId: string, name: string): Buffer {
  return Buffer.from(`warden-secret\0${moduleId}\0${name}`);
}

function unavailable(message: string): HostError {
  return new HostError("secret_unavailable", message);
}
