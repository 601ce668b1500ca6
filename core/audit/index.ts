// The tamper-evident audit chain. Each event's hash covers the previous hash and the canonical JSON
// of the event; the head (seq and hash of the last event) is also written to <home>/audit.head so a
// cut-off tail is noticed. Appending fails closed: if the event cannot be written, the caller gets
// audit_failed and its action must not happen.
import { HostError } from "../base/errors.js";
import { redact } from "../log/redact.js";
import type { LogSink } from "../kernel.js";
import type { AuditRow, Repos, Store } from "../store/store.js";
import type { AuditSigner, Checkpoint } from "./anchor.js";
import { canonicalJson } from "./canonical.js";
import { eventHash, GENESIS } from "./hash.js";
import { rmSync } from "node:fs";
import { headLine, headProblem, installHead, isOneBehind, prepareHead, readHeadFile, readPrepared, vouchedPrepared } from "./head.js";
import { MISMATCH_ACTION, MISMATCH_ACTOR, REPAIRED_ACTION, verifyChain, type VerifyResult } from "./verify.js";

export { canonicalJson } from "./canonical.js";
export { eventHash, GENESIS } from "./hash.js";
export { MISMATCH_ACTION, type VerifyResult } from "./verify.js";

export interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export interface AuditInput {
  actor: string;
  action: string;
  target?: string;
  data?: Record<string, unknown>;
}

const VERIFY_AT_ONCE = 2;

/** Actions the security log carries: the only writer of that log is the host, from here. */
const SECURITY_ACTIONS = /^(security\.|token\.|console\.|secret\.|capability\.denied|module\.(approve|revoke|breaker)|audit\.)/;

export class AuditLog {
  readonly #store: Store;
  /** undefined when the chain is shared by a fleet (see verifyChain). */
  readonly #headFile: string | undefined;

  readonly #securityLog: LogSink | undefined;
  readonly #signer: AuditSigner | undefined;
  /** Verifications running or waiting; more than VERIFY_AT_ONCE are refused. */
  #verifying = 0;

  /**
   * With a signer, audit.head is signed (and checked by verify); with a security log, every
   * security-relevant event appended is also written there, by the host.
   */
  constructor(store: Store, headFile: string | undefined, o: { securityLog?: LogSink; signer?: AuditSigner } = {}) {
    this.#store = store;
    this.#headFile = headFile;
    this.#securityLog = o.securityLog;
    this.#signer = o.signer;
  }

  /**
   * Appends an event. With `tx`, inside that transaction (it commits or rolls back with the change
   * it records); otherwise in a transaction of its own.
   */
  async append(e: AuditInput, tx?: Repos): Promise<AuditEvent> {
    const action = typeof e?.action === "string" ? e.action : String(e?.action);
    let before: string | undefined;
    /** For a store whose transactions do not report their end: the head goes in after it returned. */
    let pendingInstall: (() => void) | undefined;
    try {
      if (typeof e.actor !== "string" || e.actor === "" || typeof e.action !== "string" || e.action === "") {
        throw new TypeError("actor and action must be non-empty strings");
      }
      if (e.action === MISMATCH_ACTION || e.action === REPAIRED_ACTION) throw new TypeError(`'${e.action}' is reserved for the host`);
      // Redacted and normalised before hashing: what is hashed is exactly what is stored.
      const dataJson = canonicalJson(redact(e.data ?? {}));
      const run = async (repos: Repos): Promise<AuditEvent> => {
        await repos.audit.lockChain();
        let last = await repos.audit.last();
        const headFile = this.#headFile;
        if (headFile === undefined) return toEvent(await this.#insert(repos, last, e.actor, e.action, e.target ?? null, dataJson));
        const current = readHeadFile(headFile);
        before = current.raw;
        const headSeq = current.head.state === "ok" ? current.head.seq : 0;
        const atHead = headSeq > 0 && headSeq < (last?.seq ?? 0) ? (await repos.audit.range(headSeq, 1))[0]?.hash : undefined;
        const problem = headProblem(
          current.head,
          last?.seq ?? 0,
          last?.hash ?? GENESIS,
          () => atHead,
          (seq, hash) => vouchedPrepared(readPrepared(headFile), seq, hash, this.#signer),
        );
        if (!problem && isOneBehind(current.head, last?.seq ?? 0)) {
          // The host stopped between an event's commit and its head's replacement: nothing
          // acknowledged was lost. Brought up to date by this event, and recorded.
          last = await this.#insert(
            repos,
            last,
            MISMATCH_ACTOR,
            REPAIRED_ACTION,
            "audit.head",
            canonicalJson({
              head_seq: headSeq,
              chain_seq: last?.seq ?? 0,
              reason: "audit.head was one event behind the chain (a stop between a commit and the head's replacement)",
            }),
          );
        }
        if (problem) {
          // Overwriting the head would hide a cut tail for good; the disagreement goes into the
          // chain instead, where verify keeps reporting it.
          last = await this.#insert(
            repos,
            last,
            MISMATCH_ACTOR,
            MISMATCH_ACTION,
            "audit.head",
            canonicalJson({
              first_bad_seq: problem.seq,
              reason: problem.reason,
              chain_seq: last?.seq ?? 0,
              chain_hash: last?.hash ?? GENESIS,
              head: before === undefined ? null : before.slice(0, 200),
            }),
          );
        }
        const row = await this.#insert(repos, last, e.actor, e.action, e.target ?? null, dataJson);
        const signature = this.#signer?.signHead(row.seq, row.hash);
        // Prepared now (a head that cannot be written fails the event before it commits) and moved
        // into place only once the event has committed: a crash at any instant leaves the head at
        // the chain's end or one event behind it, never ahead of what was committed.
        const tmp = prepareHead(headFile, headLine(row.seq, row.hash, signature));
        const install = (committed: boolean) => {
          try {
            if (committed) installHead(headFile, tmp, row.seq);
            else rmSync(tmp, { force: true });
          } catch (err) {
            // The event stands (it committed); the next one brings the head up to date.
            this.#securityLog?.error({ err: String(err), audit_seq: row.seq }, "audit.head could not be replaced after a commit; the next event repairs it");
          }
        };
        if (repos.onEnd) repos.onEnd(install);
        else pendingInstall = () => install(true);
        return toEvent(row);
      };
      const event = tx ? await run(tx) : await this.#store.transaction(run);
      pendingInstall?.();
      if (this.#securityLog && SECURITY_ACTIONS.test(event.action)) {
        this.#securityLog.warn({ audit_seq: event.seq, actor: event.actor, action: event.action, target: event.target }, `${event.action} by ${event.actor}`);
      }
      return event;
    } catch (err) {
      throw new HostError("audit_failed", `the audit event '${action}' could not be written, so the action was not performed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }

  /** The last n events, oldest first. */
  async tail(n = 20): Promise<AuditEvent[]> {
    const limit = Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
    if (limit === 0) return [];
    return (await this.#store.audit.tail(limit)).map(toEvent);
  }

  /** Walks the chain (in slices; at most VERIFY_AT_ONCE at a time), optionally against a checkpoint. */
  async verify(checkpoint?: unknown): Promise<VerifyResult> {
    if (this.#verifying >= VERIFY_AT_ONCE) {
      throw new HostError("rate_limited", `${this.#verifying} audit verifications are already running or waiting; try again when they finish`, { retryAfter: 5 });
    }
    this.#verifying++;
    try {
      const cp = checkpoint === undefined ? undefined : this.#requireSigner().readCheckpoint(checkpoint);
      return await verifyChain(this.#store, this.#headFile, { ...(this.#signer ? { signer: this.#signer } : {}), ...(cp ? { checkpoint: cp } : {}) });
    } finally {
      this.#verifying--;
    }
  }

  /** A signed checkpoint of the chain as it is now; a copy goes to the security log. */
  async checkpoint(home: string): Promise<Checkpoint> {
    const signer = this.#requireSigner();
    const last = await this.#store.audit.last();
    const cp = signer.checkpoint(home, last?.seq ?? 0, last?.hash ?? GENESIS);
    this.#securityLog?.warn({ checkpoint: cp }, `audit checkpoint at seq ${cp.seq}`);
    return cp;
  }

  #requireSigner(): AuditSigner {
    if (!this.#signer) throw new HostError("audit_failed", "this host has no audit signing key configured");
    return this.#signer;
  }

  async #insert(repos: Repos, last: AuditRow | undefined, actor: string, action: string, target: string | null, dataJson: string): Promise<AuditRow> {
    const base = { seq: (last?.seq ?? 0) + 1, time: new Date().toISOString(), actor, action, target };
    const prevHash = last?.hash ?? GENESIS;
    const hash = eventHash(prevHash, { ...base, data: JSON.parse(dataJson) });
    const row: AuditRow = { ...base, data: dataJson, prevHash, hash };
    await repos.audit.append(row);
    return row;
  }

  /**
   * The head was replaced but the row was not committed: put the old head back so the next append
   * does not see a false "tail cut". Only if nobody has replaced it since, and under the write lock.
   * If the caller's own outer transaction rolls back later, this cannot help; the next append then
   * records the disagreement (see MISMATCH_ACTION).
   */
}

function toEvent(r: AuditRow): AuditEvent {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(r.data);
  } catch {
    // A tampered row must still be visible to whoever investigates it.
    data = { unreadable: r.data };
  }
  return { seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, data, prev_hash: r.prevHash, hash: r.hash };
}
