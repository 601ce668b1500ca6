// Who made a pack, as far as this host can tell: the verdict on a pack and its detached signature
// under the trust policy, and the refusal it earns when signatures are required. The same verdict
// is reached at install and on every fleet host that materialises the module, from the same inputs.
import { HostError } from "../base/errors.js";
import type { Provenance } from "../store/store.js";
import { parseSignature, signatureVerifies, type PackSignature } from "./signature.js";
import { idMatches, type TrustPolicy } from "./trust-policy.js";

export interface PackFacts {
  /** sha256 of the pack's bytes; null for a module installed from a folder. */
  sha256: string | null;
  /** The signature file's bytes, null when there is none, or "too-large" when it was not read. */
  signature: Buffer | null | "too-large";
  /** What the pack's own module.json says. */
  id: string;
  version: string;
}

/** The verdict on a pack. Every branch ends in a status; nothing is skipped for a field that is absent. */
export function judgePack(p: PackFacts, policy: TrustPolicy): Provenance {
  const base = { pack: p.sha256, publisher: null, signature: null };
  if (p.sha256 === null) return { ...base, status: "unsigned", reason: "installed from a folder, not from a signed pack" };
  if (p.signature === null) return { ...base, status: "unsigned", reason: "the pack has no signature file beside it" };
  if (p.signature === "too-large") return { ...base, status: "unsigned", reason: "its signature file is too large to be one, so it counts as none" };
  const parsed = parseSignature(p.signature);
  if (!parsed.ok) return { ...base, status: "unsigned", reason: `its signature file is malformed (${parsed.why}), so it counts as none` };
  const s = parsed.signature;
  const signed = { ...base, signature: s };
  if (s.digest !== `sha256:${p.sha256}`) return { ...signed, status: "invalid", reason: "the pack's content does not match its signature (the pack or the signature was changed after signing)" };
  if (s.id !== p.id || s.version !== p.version) {
    return { ...signed, status: "invalid", reason: `the signature is for ${s.id} ${s.version}, but the pack holds ${p.id} ${p.version}` };
  }
  const trusted = policy.trusted(s.key_id);
  if (!trusted) {
    const removed = policy.removedKey(s.key_id);
    return {
      ...signed,
      status: "untrusted",
      reason: removed
        ? `it is signed by key ${s.key_id.slice(0, 16)} ('${removed.name}'), which ${removed.removedBy} removed from the trust policy at ${removed.removedAt}`
        : `it is signed by key ${s.key_id.slice(0, 16)}, which the trust policy does not hold`,
    };
  }
  if (!signatureVerifies(s, trusted.publicKey)) {
    return {
      ...signed,
      status: "invalid",
      reason: `the signature does not verify with the key of '${trusted.key.name}' (${s.key_id.slice(0, 16)}): the pack's signature, id or version was changed, or another key made it`,
    };
  }
  const publisher = { name: trusted.key.name, keyId: s.key_id };
  if (trusted.key.ids.length > 0 && !trusted.key.ids.some((pattern) => idMatches(pattern, p.id))) {
    return { ...signed, publisher, status: "not_allowed", reason: `'${trusted.key.name}' is trusted only for ${trusted.key.ids.join(", ")}, not for ${p.id}` };
  }
  return { ...signed, publisher, status: "verified" };
}

/** The refusal a verdict earns when `modules.require_signature` is on (none for a verified pack). */
export function signatureRefusal(p: Provenance, id: string): HostError | undefined {
  const why = p.reason ?? "";
  switch (p.status) {
    case "verified":
      return undefined;
    case "unsigned":
      return new HostError(
        "signature_missing",
        `${id} was refused: signatures are required (modules.require_signature) and ${why}. Install the pack with its .sig beside it, signed by a trusted publisher`,
        {
          details: { module: id, pack: p.pack },
        },
      );
    case "invalid":
      return new HostError("signature_invalid", `${id} was refused: ${why}. Get the pack and its signature again from the publisher`, { details: { module: id, pack: p.pack } });
    case "untrusted":
      return new HostError(
        "publisher_untrusted",
        `${id} was refused: ${why}. If you know and trust the publisher, get their .pub from them (never from beside the pack) and \`warden trust add <their .pub> --name <name>\` first`,
        {
          details: { module: id, pack: p.pack, keyId: p.signature?.key_id },
        },
      );
    case "not_allowed":
      return new HostError("publisher_not_allowed", `${id} was refused: ${why}. Widen the key's --ids with \`warden trust add\` if that publisher may ship ${id}`, {
        details: { module: id, pack: p.pack, publisher: p.publisher?.name },
      });
  }
}

/**
 * How a verdict reads in lists: the publisher's name, or why there is none. With the policy as it
 * is now, a publisher whose key was removed since says so rather than looking verified.
 */
export function publisherLabel(p: Provenance | null | undefined, policy?: TrustPolicy): string {
  if (!p) return "unverified (installed before signatures were recorded)";
  if (p.status === "verified" && p.publisher) {
    if (policy && !policy.trusted(p.publisher.keyId)) return `${p.publisher.name} (key no longer trusted)`;
    return p.publisher.name;
  }
  return `unverified (${p.status})`;
}

/** `id`: the module, when it is known (a pack is refused before its manifest is read). */
export function blockedRefusal(id: string | undefined, sha256: string, reason: string): HostError {
  return new HostError(
    "module_blocked",
    `${id ? `${id}'s pack` : "the pack"} ${sha256.slice(0, 16)}... is blocked: ${reason}. \`warden module blocked\` lists blocked packs; install a version that is not blocked`,
    { details: { ...(id ? { module: id } : {}), pack: sha256, reason } },
  );
}

/**
 * Why a signature verified at install no longer verifies for these bytes (undefined when it does):
 * with the publisher's key, trusted now or removed since (removal is a trust decision, not a
 * content one). Used where a host materialises what another host installed.
 */
export function signedAsInstalled(s: PackSignature | null, sha256: string, id: string, version: string, policy: TrustPolicy): string | undefined {
  if (!s) return "its record says it was signed, but holds no signature";
  if (s.digest !== `sha256:${sha256}`) return "the pack's content does not match its signature";
  if (s.id !== id || s.version !== version) return `the signature is for ${s.id} ${s.version}, but the pack holds ${id} ${version}`;
  const key = policy.publicKeyOf(s.key_id);
  if (!key) return `the key ${s.key_id.slice(0, 16)} that signed it is not known to this host's trust policy`;
  return signatureVerifies(s, key) ? undefined : "the signature does not verify with its publisher's key";
}
