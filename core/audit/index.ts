// The tamper-evident audit chain. Each event's hash covers the previous hash and the canonical
// JSON of the event; the head (seq and hash of the last event) is also written to <home>/audit.head
// so a cut-off tail is detected. Appending fails closed: if the event cannot be written, the
// caller's action fails with audit_failed.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { HostError } from "../errors.js";
import { redact } from "../log/redact.js";
import type { AuditRow, Store } from "../store/store.js";
import { canonicalJson } from "./canonical.js";

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

export interface VerifyResult {
  ok: boolean;
  count: number;
  first_bad_seq?: number;
  reason?: string;
}

const GENESIS = "0".repeat(64);

export function eventHash(prevHash: string, e: { seq: number; time: string; actor: string; action: string; target: string | null; data: unknown }): string {
  return createHash("sha256")
    .update(prevHash)
    .update(canonicalJson({ seq: e.seq, time: e.time, actor: e.actor, action: e.action, target: e.target, data: e.data }))
    .digest("hex");
}

export class AuditLog {
  readonly #store: Store;
  readonly #headFile: string;

  constructor(store: Store, headFile: string) {
    this.#store = store;
    this.#headFile = headFile;
  }

  append(e: { actor: string; action: string; target?: string; data?: Record<string, unknown> }): AuditEvent {
    try {
      return this.#store.transaction(() => {
        const last = this.#store.audit.last();
        const data = redact(e.data ?? {}) as Record<string, unknown>;
        const base = { seq: (last?.seq ?? 0) + 1, time: new Date().toISOString(), actor: e.actor, action: e.action, target: e.target ?? null, data };
        const prev = last?.hash ?? GENESIS;
        const hash = eventHash(prev, base);
        this.#store.audit.append({ ...base, data: canonicalJson(data), prevHash: prev, hash });
        // Written inside the transaction: if the head cannot be written, the row is rolled back.
        this.#writeHead(base.seq, hash);
        return { ...base, prev_hash: prev, hash };
      });
    } catch (err) {
      throw new HostError("audit_failed", `the audit event '${e.action}' could not be written, so the action was not performed: ${(err as Error).message}`, { cause: err });
    }
  }

  tail(n = 20): AuditEvent[] {
    return this.#store.audit.tail(n).map(toEvent);
  }

  verify(): VerifyResult {
    let prev = GENESIS;
    let expectedSeq = 1;
    let count = 0;
    for (;;) {
      const rows = this.#store.audit.range(expectedSeq, 1000);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.seq !== expectedSeq) return bad(count, expectedSeq, `seq ${expectedSeq} is missing (row deleted)`);
        if (row.prevHash !== prev) return bad(count, row.seq, `seq ${row.seq} does not follow seq ${row.seq - 1} (rows deleted or reordered)`);
        let data: unknown;
        try {
          data = JSON.parse(row.data);
        } catch {
          return bad(count, row.seq, `seq ${row.seq} holds unreadable data (row modified)`);
        }
        if (eventHash(prev, { ...row, data }) !== row.hash) return bad(count, row.seq, `hash mismatch at seq ${row.seq} (row modified)`);
        prev = row.hash;
        expectedSeq++;
        count++;
      }
    }
    const head = this.#readHead();
    if (head && (head.seq !== count || head.hash !== (count ? prev : GENESIS))) {
      if (head.seq > count) return bad(count, count + 1, `the chain ends at seq ${count} but audit.head records seq ${head.seq} (tail cut)`);
      return bad(count, head.seq, `audit.head (seq ${head.seq}) does not match the chain`);
    }
    if (!head && count > 0) return bad(count, count, "audit.head is missing; the chain's end cannot be confirmed");
    return { ok: true, count };
  }

  #writeHead(seq: number, hash: string): void {
    const tmp = `${this.#headFile}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${seq} ${hash}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#headFile);
  }

  #readHead(): { seq: number; hash: string } | undefined {
    if (!existsSync(this.#headFile)) return undefined;
    const [seq, hash] = readFileSync(this.#headFile, "utf8").trim().split(" ");
    return { seq: Number(seq), hash: hash ?? "" };
  }
}

function bad(count: number, seq: number, reason: string): VerifyResult {
  return { ok: false, count, first_bad_seq: seq, reason };
}

function toEvent(r: AuditRow): AuditEvent {
  return { seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, data: JSON.parse(r.data), prev_hash: r.prevHash, hash: r.hash };
}
