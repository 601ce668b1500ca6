// Walks the chain in seq order, in batches, and names the first seq that cannot be vouched for.
// It yields to the event loop between batches: a long chain never holds up requests for more
// than one batch's work.
import type { AuditRow, Store } from "../store/store.js";
import type { AuditSigner, Checkpoint } from "./anchor.js";
import { eventHash, GENESIS } from "./hash.js";
import { headProblem, readHead, readPrepared, vouchedPrepared } from "./head.js";

export interface VerifyResult {
  ok: boolean;
  /** Rows confirmed intact from seq 1: all of them when ok, first_bad_seq - 1 otherwise. */
  count: number;
  first_bad_seq?: number;
  reason?: string;
  /** The checkpoint the chain was also checked against. */
  checkpoint?: { seq: number; time: string };
}

/** Written by the host itself when, at append time, audit.head and the chain disagreed. */
export const MISMATCH_ACTION = "audit.head_mismatch";
export const MISMATCH_ACTOR = "host";
/** Written by the host when audit.head was one event behind (a stop between commit and head replacement). */
export const REPAIRED_ACTION = "audit.head_repaired";

const BATCH = 1000;

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export interface VerifyOptions {
  /** Checks audit.head's signature. */
  signer?: AuditSigner;
  /** A checkpoint kept elsewhere (already checked for shape and signature). */
  checkpoint?: Checkpoint;
}

/**
 * `headFile` undefined: a chain shared by a fleet (PostgreSQL) has no one host's head file; a cut
 * tail is caught there by signed checkpoints (`audit checkpoint`, `audit verify --checkpoint`).
 */
export async function verifyChain(store: Store, headFile: string | undefined, o: VerifyOptions = {}): Promise<VerifyResult> {
  // Appenders hold the write lock from reading the last row until after the head is replaced, so
  // taking the lock for a moment gives a head and a last row that belong together.
  const snap = await store.transaction(async (tx) => {
    await tx.audit.lockChain();
    return { head: headFile === undefined ? undefined : readHead(headFile), prepared: headFile === undefined ? undefined : readPrepared(headFile), last: await tx.audit.last() };
  });
  const lastSeq = snap.last?.seq ?? 0;
  let prev = GENESIS;
  let expected = 1;
  // Rows past the snapshot were appended while we walked; the next verify covers them.
  while (expected <= lastSeq) {
    if (expected > 1) await yieldToEventLoop();
    const rows = await store.audit.range(expected, Math.min(BATCH, lastSeq - expected + 1));
    if (rows.length === 0) return bad(expected, `seq ${expected} is missing (row deleted)`);
    for (const row of rows) {
      const problem = checkRow(row, expected, prev);
      if (problem) return bad(problem.seq, problem.reason);
      prev = row.hash;
      expected++;
    }
  }
  const cp = o.checkpoint;
  if (cp) {
    if (lastSeq < cp.seq) {
      return bad(
        lastSeq + 1,
        `the chain ends at seq ${lastSeq}, but the checkpoint of ${cp.time} vouches for seq ${cp.seq} (${lastSeq === 0 ? "the chain was deleted" : "its tail was cut"}, whatever audit.head says)`,
      );
    }
    const at = (await store.audit.range(cp.seq, 1))[0];
    if (cp.seq > 0 && at?.hash !== cp.hash) {
      return bad(1, `seq ${cp.seq} no longer has the hash the checkpoint of ${cp.time} recorded: the history up to seq ${cp.seq} was rewritten`);
    }
  }
  if (!snap.head) return { ok: true, count: lastSeq, ...(cp ? { checkpoint: { seq: cp.seq, time: cp.time } } : {}) };
  const headSeq = snap.head.state === "ok" ? snap.head.seq : 0;
  const atHead = headSeq > 0 && headSeq < lastSeq ? (await store.audit.range(headSeq, 1))[0]?.hash : undefined;
  // A head one behind with the next one prepared for the last row: a stop between commit and head
  // replacement (nothing acknowledged was lost); the next event puts it in place, recorded.
  const p = headProblem(
    snap.head,
    lastSeq,
    prev,
    () => atHead,
    (seq, hash) => snap.prepared !== undefined && vouchedPrepared(snap.prepared, seq, hash, o.signer),
  );
  if (p) return bad(p.seq, p.reason);
  if (o.signer && snap.head.state === "ok") {
    const why = o.signer.headSignatureProblem(snap.head.seq, snap.head.hash, snap.head.signature);
    if (why) return bad(Math.max(1, snap.head.seq), why);
  }
  return { ok: true, count: lastSeq, ...(cp ? { checkpoint: { seq: cp.seq, time: cp.time } } : {}) };
}

function checkRow(row: AuditRow, expected: number, prev: string): { seq: number; reason: string } | undefined {
  if (row.seq !== expected) return { seq: expected, reason: `seq ${expected} is missing (row deleted)` };
  if (row.prevHash !== prev) {
    return { seq: row.seq, reason: `prev_hash mismatch at seq ${row.seq}: it does not follow seq ${row.seq - 1} (rows deleted, inserted or reordered)` };
  }
  let data: unknown;
  try {
    data = JSON.parse(row.data);
  } catch {
    return { seq: row.seq, reason: `unreadable data at seq ${row.seq} (row modified)` };
  }
  let hash: string;
  try {
    hash = eventHash(prev, { ...row, data });
  } catch {
    return { seq: row.seq, reason: `unhashable event at seq ${row.seq} (row modified)` };
  }
  if (hash !== row.hash) return { seq: row.seq, reason: `hash mismatch at seq ${row.seq} (row modified)` };
  if (row.action === MISMATCH_ACTION && row.actor === MISMATCH_ACTOR) {
    // The evidence of a head/chain disagreement is itself part of the chain: it stays reported.
    const d = data as { first_bad_seq?: unknown; reason?: unknown };
    const seq = Number.isSafeInteger(d.first_bad_seq) && (d.first_bad_seq as number) >= 1 && (d.first_bad_seq as number) <= row.seq ? (d.first_bad_seq as number) : row.seq;
    return { seq, reason: `${typeof d.reason === "string" ? d.reason : "audit.head did not match the chain"}; recorded at seq ${row.seq}` };
  }
  return undefined;
}

function bad(seq: number, reason: string): VerifyResult {
  return { ok: false, count: Math.max(0, seq - 1), first_bad_seq: seq, reason };
}
