// Module packs for the supply-chain tests: a module folder packed as `warden module install` takes
// it, and its detached signature by a given key (the documented format, made by core's signer).
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tar from "tar";
import { sha256Hex, signPack } from "../../core/supply/signature.js";
import { tempDir, writeModule } from "./modules.js";

export const versionCode = `export function activate(ctx) { ctx.commands.register("version", async () => ctx.module.version); }`;
const commands = { version: { description: "the module's version", input: { type: "object", additionalProperties: true } } };

/** A pack of module `id` at `version`, with `<pack>.sig` by `signer` unless it is null. */
export async function makePack(id: string, version: string, signer: KeyObject | null, o: { body?: string } = {}): Promise<{ file: string; sha: string; id: string }> {
  const root = tempDir("warden-pack-");
  writeModule(root, { id, version, commands, code: o.body ?? versionCode, capabilities: ["commands.register"] });
  const file = join(root, `${id}-${version}.tgz`);
  await tar.c({ gzip: true, file, cwd: root, portable: true }, [id]);
  const sha = sha256Hex(readFileSync(file));
  if (signer) writeFileSync(`${file}.sig`, JSON.stringify(signPack(signer, sha, id, version)));
  return { file, sha, id };
}

/** A publisher's key pair. */
export const newKey = () => generateKeyPairSync("ed25519");
/** A public key as the .pub file `warden keys new` writes holds it. */
export const publicPem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }) as string;
/** The refusal a call ends in, or undefined when it succeeds. */
export const failure = (p: Promise<unknown>) => p.then(() => undefined).catch((e: { code: string; message: string }) => e);
