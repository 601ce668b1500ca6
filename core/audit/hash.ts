import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";

/** prev_hash of the first event. */
export const GENESIS = "0".repeat(64);

export interface HashedFields {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  data: unknown;
}

/** sha256(prev_hash || canonical JSON of {seq, time, actor, action, target, data}), hex. */
export function eventHash(prevHash: string, e: HashedFields): string {
  return createHash("sha256")
    .update(prevHash)
    .update(canonicalJson({ seq: e.seq, time: e.time, actor: e.actor, action: e.action, target: e.target, data: e.data }))
    .digest("hex");
}
