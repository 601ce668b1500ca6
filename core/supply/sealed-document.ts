// One document in the store with one writer: read at start and when another host changed it,
// written with its audit event in one transaction and a revision one higher. In a fleet it is
// sealed (./seal.ts): a row someone wrote into PostgreSQL directly is not followed, and an older
// sealed revision replayed over a newer one is refused by every host that saw the newer.
// The operators (core/principals/operators.ts) are one; the reasons a stored document is not
// followed are logged and kept as `problem` for the commands that list it.
import type { AuditSink, LogSink } from "../kernel.js";
import type { Repos, Store } from "../store/store.js";
import type { Sealer } from "./seal.js";

export interface Versioned {
  format: string;
  revision: number;
}

export interface SealedDocumentOptions<D extends Versioned> {
  /** The seal's kind and the document's name in the store. */
  name: string;
  /** What it is, in messages: "the operators". */
  what: string;
  empty: D;
  /** Whether a parsed document has this format's shape. */
  valid(doc: D): boolean;
  store: Store;
  audit: AuditSink;
  log: LogSink;
  sealer?: Sealer | undefined;
}

export class SealedDocument<D extends Versioned> {
  readonly #o: SealedDocumentOptions<D>;
  #doc: D;
  /** Why the stored document is not followed, when it is not. */
  problem: string | undefined;

  constructor(o: SealedDocumentOptions<D>) {
    this.#o = o;
    this.#doc = o.empty;
  }

  get doc(): D {
    return this.#doc;
  }

  /** Reads the document (at start, and when another host changed it); true when it changed. */
  async load(): Promise<boolean> {
    const read = this.#verified(await this.#o.store.documents.get(this.#o.name));
    if (!read.ok) {
      this.problem = read.why;
      this.#o.log.error({ code: "integrity_failed", err: read.why }, `${this.#o.what}: the stored document is not followed`);
      return false;
    }
    this.problem = undefined;
    if (read.doc.revision === this.#doc.revision) return false;
    this.#doc = read.doc;
    return true;
  }

  #verified(row: { doc: string; seal: string | null } | undefined): { ok: true; doc: D } | { ok: false; why: string } {
    const { what, sealer, name } = this.#o;
    if (!row) return { ok: true, doc: this.#doc };
    let doc: D;
    try {
      doc = JSON.parse(row.doc) as D;
    } catch {
      return { ok: false, why: `the stored ${what} are not JSON; someone wrote to the store outside Warden. The last version this host verified stays in force.` };
    }
    if (sealer && !sealer.verify(name, doc, row.seal)) {
      return { ok: false, why: `the stored ${what}' seal does not verify (written outside Warden, or with another WARDEN_SECRET_KEY); the last version this host verified stays in force` };
    }
    if (typeof doc !== "object" || doc === null || doc.format !== this.#o.empty.format || typeof doc.revision !== "number" || !this.#o.valid(doc)) {
      return { ok: false, why: `the stored ${what} are not of the format this host knows` };
    }
    if (doc.revision < this.#doc.revision) {
      return { ok: false, why: `the stored ${what} are revision ${doc.revision}, older than revision ${this.#doc.revision} this host already follows (an old version replayed); not followed` };
    }
    return { ok: true, doc };
  }

  /** One change: read, changed, revision bumped, sealed, written with its audit event. */
  async write(change: (doc: D) => D, event: { actor: string; action: string; target: string; data: Record<string, unknown> }): Promise<D> {
    const { store, audit, sealer, name } = this.#o;
    const next = await store.transaction(async (tx: Repos) => {
      // Another host may have changed it since this one read it: start from the store's, when it verifies.
      const stored = this.#verified(await tx.documents.get(name));
      const base = stored.ok ? stored.doc : this.#doc;
      const doc: D = { ...change(structuredClone(base)), format: this.#o.empty.format, revision: Math.max(base.revision, this.#doc.revision) + 1 };
      await tx.documents.put(name, JSON.stringify(doc), sealer ? sealer.seal(name, doc) : null);
      await audit.append({ actor: event.actor, action: event.action, target: event.target, data: { ...event.data, revision: doc.revision } }, tx);
      return doc;
    });
    this.problem = undefined;
    this.#doc = next;
    return next;
  }
}
