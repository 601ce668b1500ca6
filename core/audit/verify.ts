// Walks the chain in seq order, in batches, and names the first seq that cannot be vouched for.
import type { AuditRow, Store } from "../store/store.js";
import { eventHash, GENESIS } from "./hash.js";
import { headProblem, readHead } from "./head.js";

export interface VerifyResult {
  ok: boolean;
  /** Rows confirmed intact from seq 1: all of them when ok, first_bad_seq - 1 otherwise. */
  count: number;
  first_bad_seq?: number;
  reason?: string;
}

/** Written by the host itself when, at append time, audit.head and the chain disagreed. */
export const MISMATCH_ACTION = "audit.head_mismatch";
export const MISMATCH_ACTOR = "host";

const BATCH = 1000;

export function verifyChain(store: Store, headFile: string): VerifyResult {
  // Appenders hold the write lock from reading the last row until after the head is replaced, so
  // taking the lock for a moment gives a head and a last row that belong together.
  const snap = store.transaction(() => ({ head: readHead(headFile), last: store.audit.last() }));
  const lastSeq = snap.last?.seq ?? 0;
  let prev = GENESIS;
  let expected = 1;
  // Rows past the snapshot were appended while we walked; the next verify covers them.
  while (expected <= lastSeq) {
    const rows = store.audit.range(expected, Math.min(BATCH, lastSeq - expected + 1));
    if (rows.length === 0) return bad(expected, `seq ${expected} is missing (row deleted)`);
    for (const row of rows) {
      const problem = checkRow(row, expected, prev);
      if (problem) return bad(problem.seq, problem.reason);
      prev = row.hash;
      expected++;
    }
  }
  const p = headProblem(snap.head, lastSeq, prev, (seq) => store.audit.range(seq, 1)[0]?.hash);
  if (p) return bad(p.seq, p.reason);
  return { ok: true, count: lastSeq };
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
