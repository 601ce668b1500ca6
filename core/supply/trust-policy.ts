// The trust policy: which publisher keys this host (or fleet) trusts, for which module ids, and
// which packs are blocked. One document in the store, one writer (this class): every change is
// written with its audit event in one transaction and carries a revision; in a fleet it is sealed
// (./seal.ts), so a row someone wrote into PostgreSQL directly is not a policy any host follows,
// and an older sealed revision replayed over a newer one is refused by every host that saw the newer.
import { HostError } from "../base/errors.js";
import type { AuditSink, LogSink } from "../kernel.js";
import type { Repos, Store } from "../store/store.js";
import type { Sealer } from "./seal.js";
import { keyIdOf, parsePublicKey, publicKeyFromRaw, rawPublicKey } from "./signature.js";
import type { KeyObject } from "node:crypto";

export const POLICY_FORMAT = "warden-trust-policy/1";

export interface TrustedKey {
  name: string;
  keyId: string;
  /** The raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  /** Module id patterns this key may sign (`acme-*`); empty: any id. */
  ids: string[];
  addedBy: string;
  addedAt: string;
}

export interface RemovedKey {
  name: string;
  keyId: string;
  /** Kept so that what the key signed before its removal can still be checked for tampering. */
  publicKey: string;
  removedBy: string;
  removedAt: string;
}

export interface BlockedPack {
  sha256: string;
  reason: string;
  by: string;
  at: string;
}

export interface PolicyDoc {
  format: typeof POLICY_FORMAT;
  revision: number;
  keys: TrustedKey[];
  removed: RemovedKey[];
  blocked: BlockedPack[];
}

const EMPTY: PolicyDoc = { format: POLICY_FORMAT, revision: 0, keys: [], removed: [], blocked: [] };
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ID_PATTERN = /^[a-z*][a-z0-9*-]{0,39}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_KEYS = 256;
const MAX_BLOCKED = 10_000;
const MAX_REASON = 500;

/** Whether a module id matches a key's id pattern (`*` stands for any run of id characters). */
export function idMatches(pattern: string, id: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[-]/g, "\\-"))
      .join("[a-z0-9-]*")}$`,
  );
  return re.test(id);
}

export class TrustPolicy {
  readonly #store: Store;
  readonly #audit: AuditSink;
  readonly #sealer: Sealer | undefined;
  readonly #log: LogSink;
  /** Present when the store is shared by a fleet: seals the policy and the module records every host verifies. */
  get sealer(): Sealer | undefined {
    return this.#sealer;
  }
  #doc: PolicyDoc = EMPTY;
  #keys = new Map<string, KeyObject>();
  /** Why the stored policy was not followed, when it was not (shown by `trust list`). */
  problem: string | undefined;

  constructor(store: Store, audit: AuditSink, log: LogSink, sealer?: Sealer) {
    this.#store = store;
    this.#audit = audit;
    this.#log = log;
    this.#sealer = sealer;
  }

  static async open(store: Store, audit: AuditSink, log: LogSink, sealer?: Sealer): Promise<TrustPolicy> {
    const p = new TrustPolicy(store, audit, log, sealer);
    await p.load();
    return p;
  }

  get doc(): PolicyDoc {
    return this.#doc;
  }

  /** Reads the policy (at start, and when another host changed it); true when it changed. */
  async load(): Promise<boolean> {
    const read = this.#verified(await this.#store.trustPolicy.get());
    if (!read.ok) {
      this.problem = read.why;
      this.#log.error({ code: "integrity_failed", err: read.why }, "trust policy: the stored policy is not followed");
      return false;
    }
    if (read.doc.revision === this.#doc.revision) {
      this.problem = undefined;
      return false;
    }
    try {
      this.#use(read.doc);
    } catch (e) {
      this.problem = `the stored trust policy holds a key that does not read (${(e as Error).message}); the last policy this host verified stays in force`;
      this.#log.error({ code: "integrity_failed", err: this.problem }, "trust policy: the stored policy is not followed");
      return false;
    }
    this.problem = undefined;
    return true;
  }

  #verified(row: { doc: string; seal: string | null } | undefined): { ok: true; doc: PolicyDoc } | { ok: false; why: string } {
    if (!row) return { ok: true, doc: this.#doc.revision === 0 ? EMPTY : this.#doc };
    let doc: PolicyDoc;
    try {
      doc = JSON.parse(row.doc) as PolicyDoc;
    } catch {
      return { ok: false, why: "the stored trust policy is not JSON; someone wrote to the store outside Warden. The last policy this host verified stays in force." };
    }
    if (this.#sealer && !this.#sealer.verify("trust-policy", doc, row.seal)) {
      return { ok: false, why: "the stored trust policy's seal does not verify (it was written outside Warden, or with another WARDEN_SECRET_KEY); the last policy this host verified stays in force" };
    }
    if (doc.format !== POLICY_FORMAT || !Array.isArray(doc.keys) || !Array.isArray(doc.blocked) || !Array.isArray(doc.removed) || typeof doc.revision !== "number") {
      return { ok: false, why: "the stored trust policy is not of the format this host knows" };
    }
    if (doc.revision < this.#doc.revision) {
      return {
        ok: false,
        why: `the stored trust policy is revision ${doc.revision}, older than revision ${this.#doc.revision} this host already follows (an old policy replayed); it is not followed`,
      };
    }
    return { ok: true, doc };
  }

  /** Follows `doc` from now on; throws (following nothing new) when one of its keys does not read. */
  #use(doc: PolicyDoc): void {
    const keys = new Map(doc.keys.map((k) => [k.keyId, publicKeyFromRaw(Buffer.from(k.publicKey, "base64"))]));
    this.#doc = doc;
    this.#keys = keys;
  }

  trusted(keyId: string): { key: TrustedKey; publicKey: KeyObject } | undefined {
    const key = this.#doc.keys.find((k) => k.keyId === keyId);
    const publicKey = this.#keys.get(keyId);
    return key && publicKey ? { key, publicKey } : undefined;
  }

  /** The public key of a key id the policy trusts or once trusted (for checking content, not for trusting it). */
  publicKeyOf(keyId: string): KeyObject | undefined {
    const trusted = this.#keys.get(keyId);
    if (trusted) return trusted;
    const removed = this.removedKey(keyId);
    try {
      return removed?.publicKey ? publicKeyFromRaw(Buffer.from(removed.publicKey, "base64")) : undefined;
    } catch {
      return undefined;
    }
  }

  removedKey(keyId: string): RemovedKey | undefined {
    return this.#doc.removed.find((k) => k.keyId === keyId);
  }

  blocked(sha256: string | null | undefined): BlockedPack | undefined {
    return sha256 ? this.#doc.blocked.find((b) => b.sha256 === sha256) : undefined;
  }

  /** One change: read, changed, revision bumped, sealed, written with its audit event. */
  async #write(change: (doc: PolicyDoc) => PolicyDoc, event: { actor: string; action: string; target: string; data: Record<string, unknown> }): Promise<PolicyDoc> {
    const next = await this.#store.transaction(async (tx: Repos) => {
      // Another host may have changed it since this one read it: start from the store's, when it verifies.
      const stored = this.#verified(await tx.trustPolicy.get());
      const base = stored.ok ? stored.doc : this.#doc;
      const doc = { ...change(structuredClone(base)), format: POLICY_FORMAT, revision: Math.max(base.revision, this.#doc.revision) + 1 } as PolicyDoc;
      await tx.trustPolicy.put(JSON.stringify(doc), this.#sealer ? this.#sealer.seal("trust-policy", doc) : null);
      await this.#audit.append({ actor: event.actor, action: event.action, target: event.target, data: { ...event.data, revision: doc.revision } }, tx);
      return doc;
    });
    this.problem = undefined;
    this.#use(next);
    return next;
  }

  /** Trusts a key, or (the same key and name again) replaces its --ids; `replaced` says what it had. */
  async add(keyText: string, name: string, ids: string[], actor: string): Promise<TrustedKey & { replaced?: string[] }> {
    if (typeof name !== "string" || !NAME.test(name)) throw new HostError("input_invalid", `publisher name '${String(name).slice(0, 64)}' must be 1-64 lowercase letters, digits, '.', '_' or '-'`);
    for (const p of ids) {
      if (!ID_PATTERN.test(p))
        throw new HostError("input_invalid", `--ids '${p.slice(0, 64)}' is not a module id pattern (lowercase letters, digits, '-', and '*' for any run of them, e.g. 'acme-*')`);
    }
    const publicKey = parsePublicKey(keyText);
    const keyId = keyIdOf(publicKey);
    const previous = this.#doc.keys.find((k) => k.keyId === keyId && k.name === name);
    const entry: TrustedKey = { name, keyId, publicKey: rawPublicKey(publicKey).toString("base64"), ids: [...new Set(ids)].sort(), addedBy: actor, addedAt: new Date().toISOString() };
    const doc = await this.#write(
      (d) => {
        const clash = d.keys.find((k) => k.name === name && k.keyId !== keyId);
        if (clash) throw new HostError("input_invalid", `a different key is already trusted as '${name}' (key ${clash.keyId.slice(0, 16)}); remove it first or choose another name`);
        const same = d.keys.find((k) => k.keyId === keyId && k.name !== name);
        // Renaming would also silently re-scope the key: one name per key, changed by remove and add.
        if (same)
          throw new HostError(
            "input_invalid",
            `this key is already trusted as '${same.name}'; \`warden trust add\` with --name ${same.name} changes its --ids, \`trust remove ${same.name}\` first to rename it`,
          );
        const others = d.keys.filter((k) => k.keyId !== keyId);
        if (others.length >= MAX_KEYS) throw new HostError("payload_too_large", `the trust policy holds at most ${MAX_KEYS} keys; remove one first`);
        return { ...d, keys: [...others, entry], removed: d.removed.filter((k) => k.keyId !== keyId) };
      },
      { actor, action: "trust.add", target: name, data: { keyId, ids: entry.ids } },
    );
    return { ...doc.keys.find((k) => k.keyId === keyId)!, ...(previous ? { replaced: previous.ids } : {}) };
  }

  /** `which`: the publisher's name or key id. */
  async remove(which: string, actor: string): Promise<TrustedKey> {
    const found = this.#doc.keys.find((k) => k.name === which || k.keyId === which);
    if (!found) throw new HostError("not_found", `no trusted key is named '${String(which).slice(0, 64)}' (or has that key id); \`warden trust list\` shows them`);
    await this.#write(
      (d) => ({
        ...d,
        keys: d.keys.filter((k) => k.keyId !== found.keyId),
        removed: [
          ...d.removed.filter((k) => k.keyId !== found.keyId),
          { name: found.name, keyId: found.keyId, publicKey: found.publicKey, removedBy: actor, removedAt: new Date().toISOString() },
        ].slice(-MAX_KEYS),
      }),
      { actor, action: "trust.remove", target: found.name, data: { keyId: found.keyId } },
    );
    return found;
  }

  async block(sha256: string, reason: string, actor: string, modules: string[]): Promise<BlockedPack> {
    if (!SHA256.test(sha256)) throw new HostError("input_invalid", "give the pack's sha256: 64 lowercase hex digits (`warden module list` and `module inspect` show it)");
    if (typeof reason !== "string" || reason.trim() === "" || reason.length > MAX_REASON) throw new HostError("input_invalid", `--reason is needed: 1-${MAX_REASON} characters saying why`);
    const entry: BlockedPack = { sha256, reason: reason.trim(), by: actor, at: new Date().toISOString() };
    await this.#write(
      (d) => {
        if (d.blocked.length >= MAX_BLOCKED) throw new HostError("payload_too_large", `the block list holds at most ${MAX_BLOCKED} packs`);
        return { ...d, blocked: [...d.blocked.filter((b) => b.sha256 !== sha256), entry] };
      },
      { actor, action: "module.block", target: sha256, data: { reason: entry.reason, modules } },
    );
    return entry;
  }

  async unblock(sha256: string, actor: string): Promise<BlockedPack> {
    const found = this.blocked(sha256);
    if (!found) throw new HostError("not_found", `the pack ${String(sha256).slice(0, 64)} is not blocked; \`warden module blocked\` lists the blocked packs`);
    await this.#write((d) => ({ ...d, blocked: d.blocked.filter((b) => b.sha256 !== sha256) }), { actor, action: "module.unblock", target: sha256, data: { reason: found.reason } });
    return found;
  }
}
