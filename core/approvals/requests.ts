// Two-person requests: a protected change filed by one operator, waiting for a second, different
// operator who holds its permission to approve it within approvals.ttl_minutes. One sealed document
// with one writer (this class); each step is written with its audit event in one transaction:
// approval.request, approval.approve, approval.deny, approval.expire, and approval.done (what
// running it answered). Nothing in the document runs anything: approving is a command of its own,
// checked at the policy point like any other, and runs the filed call as its requester.
import { randomBytes } from "node:crypto";
import type { OutsideCaller } from "../../sdk/context.js";
import { HostError } from "../base/errors.js";
import type { AuditSink, LogSink } from "../kernel.js";
import type { Store } from "../store/store.js";
import { SealedDocument } from "../supply/sealed-document.js";
import type { Sealer } from "../supply/seal.js";

export const APPROVALS_FORMAT = "warden-approvals/1";
/** Requests waiting at once, and per requester: nobody fills the store with requests. */
export const MAX_PENDING = 64;
export const MAX_PENDING_PER_REQUESTER = 8;
/** Decided requests kept for `approval list` (the audit chain keeps them all). */
const KEEP_DECIDED = 200;

export type RequestStatus = "pending" | "approved" | "denied" | "expired";

export interface ApprovalRequest {
  id: string;
  command: string;
  input: unknown;
  /** Who filed it, as they called: the approved call runs as them (their roles as they are then). */
  caller: OutsideCaller;
  requester: string;
  /** The permissions an approver must hold too: the command's, and a setting's owner's. */
  permissions: string[];
  what: string;
  created_at: string;
  expires_at: string;
  status: RequestStatus;
  decided_by?: string;
  decided_at?: string;
  /** What running it answered: "ok", or the refusal's code and message. */
  outcome?: string;
}

interface ApprovalsDoc {
  format: typeof APPROVALS_FORMAT;
  revision: number;
  requests: ApprovalRequest[];
}

/** Whose a request is, to tell the requester from an approver: the operator, else the token or session. */
export function principalOf(c: OutsideCaller): string {
  if (c.operator !== undefined) return `operator:${c.operator}`;
  return c.kind === "token" ? `token:${c.tokenId}` : `console:${c.sessionId}`;
}

export class ApprovalRequests {
  readonly #doc: SealedDocument<ApprovalsDoc>;
  readonly #ttlMinutes: () => number;
  readonly #now: () => number;

  constructor(o: { store: Store; audit: AuditSink; log: LogSink; sealer?: Sealer | undefined; ttlMinutes: () => number; now?: () => number }) {
    this.#ttlMinutes = o.ttlMinutes;
    this.#now = o.now ?? Date.now;
    this.#doc = new SealedDocument<ApprovalsDoc>({
      name: "approvals",
      what: "two-person requests",
      empty: { format: APPROVALS_FORMAT, revision: 0, requests: [] },
      valid: (d) => Array.isArray(d.requests),
      store: o.store,
      audit: o.audit,
      log: o.log,
      sealer: o.sealer,
    });
  }

  load(): Promise<boolean> {
    return this.#doc.load();
  }

  /** Every request kept, newest first; one past its time shows as expired. */
  list(): ApprovalRequest[] {
    const now = this.#now();
    return [...this.#doc.doc.requests].reverse().map((r) => (r.status === "pending" && Date.parse(r.expires_at) <= now ? { ...r, status: "expired" as const } : r));
  }

  get(id: string): ApprovalRequest | undefined {
    return this.list().find((r) => r.id === id);
  }

  async file(o: { command: string; input: unknown; caller: OutsideCaller; permissions: string[]; what: string; actor: string }): Promise<ApprovalRequest> {
    const now = this.#now();
    const request: ApprovalRequest = {
      id: randomBytes(6).toString("hex"),
      command: o.command,
      input: o.input,
      caller: o.caller,
      requester: o.actor,
      permissions: o.permissions,
      what: o.what,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + this.#ttlMinutes() * 60_000).toISOString(),
      status: "pending",
    };
    const who = principalOf(o.caller);
    await this.#doc.write(
      (d) => {
        const pending = d.requests.filter((r) => r.status === "pending" && Date.parse(r.expires_at) > now);
        if (pending.length >= MAX_PENDING) throw new HostError("rate_limited", `${MAX_PENDING} requests wait for a second operator; decide some first (\`warden approval list\`)`);
        if (pending.filter((r) => principalOf(r.caller) === who).length >= MAX_PENDING_PER_REQUESTER)
          throw new HostError("rate_limited", `you have ${MAX_PENDING_PER_REQUESTER} requests waiting; withdraw some (\`warden approval deny ID\`) or have them decided`);
        return { ...d, requests: trim([...d.requests, request]) };
      },
      { actor: o.actor, action: "approval.request", target: request.id, data: { command: o.command, what: o.what, expires_at: request.expires_at } },
    );
    return request;
  }

  /** Marks a pending request decided (audited), refusing one that is not pending or is past its time. */
  async decide(id: string, verdict: "approved" | "denied", actor: string): Promise<ApprovalRequest> {
    const found = this.get(id);
    if (!found) throw new HostError("not_found", `no two-person request ${String(id).slice(0, 32)}; \`warden approval list\` shows them`);
    if (found.status === "expired") {
      if (this.#doc.doc.requests.find((r) => r.id === id)?.status === "pending") await this.#set(id, { status: "expired" }, { actor: "host", action: "approval.expire", data: {} });
      throw new HostError("approval_expired", `request ${id} (${found.what}) expired at ${found.expires_at} before a second operator approved it; file it again`);
    }
    if (found.status !== "pending") throw new HostError("request_decided", `request ${id} was already ${found.status} by ${found.decided_by ?? "?"}`);
    return this.#set(
      id,
      { status: verdict, decided_by: actor, decided_at: new Date(this.#now()).toISOString() },
      { actor, action: verdict === "approved" ? "approval.approve" : "approval.deny", data: { command: found.command, what: found.what, requester: found.requester } },
    );
  }

  /** What running an approved request answered (audited as approval.done). */
  async done(id: string, outcome: string): Promise<void> {
    await this.#set(id, { outcome }, { actor: "host", action: "approval.done", data: { outcome } });
  }

  async #set(id: string, change: Partial<ApprovalRequest>, event: { actor: string; action: string; data: Record<string, unknown> }): Promise<ApprovalRequest> {
    let updated: ApprovalRequest | undefined;
    await this.#doc.write(
      (d) => {
        const requests = d.requests.map((r) => (r.id === id ? (updated = { ...r, ...change }) : r));
        if (!updated) throw new HostError("not_found", `no two-person request ${id}`);
        if (change.status !== undefined && d.requests.find((r) => r.id === id)?.status !== "pending") throw new HostError("request_decided", `request ${id} was decided meanwhile`);
        return { ...d, requests };
      },
      { ...event, target: id },
    );
    return updated!;
  }
}

/** Pending requests all, and the newest decided ones up to KEEP_DECIDED. */
function trim(requests: ApprovalRequest[]): ApprovalRequest[] {
  const decided = requests.filter((r) => r.status !== "pending");
  const drop = new Set(decided.slice(0, Math.max(0, decided.length - KEEP_DECIDED)).map((r) => r.id));
  return requests.filter((r) => !drop.has(r.id));
}
