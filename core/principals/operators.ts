// The operators: the people who run this host (or fleet), each with roles. One sealed document with
// one writer (this class); every change is written with its audit event in one transaction. Tokens
// and console sessions that belong to an operator hold at most the operator's permissions, and end
// when the operator is removed: the removal tells the modules that keep them (auth, console), which
// end them at once and, in a fleet, move the revocation epoch so every host checks on its next request.
import { HostError } from "../base/errors.js";
import type { AuditSink, LogSink } from "../kernel.js";
import type { Store } from "../store/store.js";
import { SealedDocument } from "../supply/sealed-document.js";
import type { Sealer } from "../supply/seal.js";
import { checkRoles, permissionsOf, type CustomRoles } from "./roles.js";

export const OPERATORS_FORMAT = "warden-operators/1";

export interface OperatorEntry {
  name: string;
  roles: string[];
  /** Matched against the identity provider's claim at console sign-in (`console.oidc.claim`). */
  email?: string;
  subject?: string;
  addedBy: string;
  addedAt: string;
}

interface OperatorsDoc {
  format: typeof OPERATORS_FORMAT;
  revision: number;
  operators: OperatorEntry[];
}

/** An operator's name: what audit events show as `operator:<name>`. `local` is the home's holder. */
export const OPERATOR_NAME = /^[a-z][a-z0-9._-]{0,63}$/;
const MAX_OPERATORS = 1000;
const EMAIL = /^[^\s@]{1,128}@[^\s@]{1,128}$/;

/** Ends what belongs to a removed operator (tokens, sessions); `actor` is who removed them. */
export type RemovalListener = (name: string, actor: string) => Promise<number>;

export class Operators {
  readonly #doc: SealedDocument<OperatorsDoc>;
  readonly #customRoles: () => CustomRoles;
  readonly #log: LogSink;
  readonly #onRemoved = new Set<RemovalListener>();

  constructor(o: { store: Store; audit: AuditSink; log: LogSink; sealer?: Sealer | undefined; customRoles: () => CustomRoles }) {
    this.#customRoles = o.customRoles;
    this.#log = o.log;
    this.#doc = new SealedDocument<OperatorsDoc>({
      name: "operators",
      what: "operators",
      empty: { format: OPERATORS_FORMAT, revision: 0, operators: [] },
      valid: (d) => Array.isArray(d.operators) && d.operators.every((op) => typeof op?.name === "string" && Array.isArray(op.roles)),
      store: o.store,
      audit: o.audit,
      log: o.log,
      sealer: o.sealer,
    });
  }

  /** Reads the operators again (at start, and when another host changed them). */
  load(): Promise<boolean> {
    return this.#doc.load();
  }

  get problem(): string | undefined {
    return this.#doc.problem;
  }

  get revision(): number {
    return this.#doc.doc.revision;
  }

  list(): OperatorEntry[] {
    return this.#doc.doc.operators;
  }

  get(name: string): OperatorEntry | undefined {
    return this.#doc.doc.operators.find((op) => op.name === name);
  }

  /** The operator's permissions as of now; undefined when there is no such operator. */
  permissionsOf(name: string): string[] | undefined {
    const op = this.get(name);
    return op ? permissionsOf(op.roles, this.#customRoles()) : undefined;
  }

  /** The operator whose `claim` (email or sub) is `value`, for console sign-in. */
  byClaim(claim: "email" | "sub", value: string): OperatorEntry | undefined {
    return this.#doc.doc.operators.find((op) => (claim === "email" ? op.email !== undefined && op.email.toLowerCase() === value.toLowerCase() : op.subject === value));
  }

  onRemoved(fn: RemovalListener): () => void {
    this.#onRemoved.add(fn);
    return () => this.#onRemoved.delete(fn);
  }

  /** Adds an operator, or (the same name again) replaces their roles; `replaced` says what they had. */
  async add(name: string, roles: string[], who: { email?: string; subject?: string }, actor: string): Promise<OperatorEntry & { replaced?: string[] }> {
    if (typeof name !== "string" || !OPERATOR_NAME.test(name) || name === "local")
      throw new HostError("input_invalid", `operator name '${String(name).slice(0, 64)}' must be 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter, and not 'local'`);
    const unique = [...new Set(roles)].sort();
    checkRoles(unique, this.#customRoles());
    if (who.email !== undefined && !EMAIL.test(who.email)) throw new HostError("input_invalid", `--email '${who.email.slice(0, 64)}' is not an email address`);
    const previous = this.get(name);
    const entry: OperatorEntry = {
      name,
      roles: unique,
      ...(who.email !== undefined ? { email: who.email } : previous?.email !== undefined ? { email: previous.email } : {}),
      ...(who.subject !== undefined ? { subject: who.subject } : previous?.subject !== undefined ? { subject: previous.subject } : {}),
      addedBy: previous?.addedBy ?? actor,
      addedAt: previous?.addedAt ?? new Date().toISOString(),
    };
    await this.#doc.write(
      (d) => {
        const others = d.operators.filter((op) => op.name !== name);
        if (others.length >= MAX_OPERATORS) throw new HostError("payload_too_large", `a host holds at most ${MAX_OPERATORS} operators; remove one first`);
        const clash = others.find((op) => (entry.email !== undefined && op.email?.toLowerCase() === entry.email.toLowerCase()) || (entry.subject !== undefined && op.subject === entry.subject));
        if (clash) throw new HostError("input_invalid", `operator '${clash.name}' already signs in as ${entry.email ?? entry.subject}; one identity is one operator`);
        return { ...d, operators: [...others, entry].sort((a, b) => a.name.localeCompare(b.name)) };
      },
      { actor, action: previous ? "operator.change" : "operator.add", target: name, data: { roles: unique, ...(previous ? { previous_roles: previous.roles } : {}) } },
    );
    return { ...entry, ...(previous ? { replaced: previous.roles } : {}) };
  }

  /** Removes an operator, then ends every token and session of theirs (each module that keeps them is told). */
  async remove(name: string, actor: string): Promise<{ name: string; ended: number }> {
    const found = this.get(name);
    if (!found) throw new HostError("not_found", `no operator is named '${String(name).slice(0, 64)}'; \`warden operator list\` shows them`);
    await this.#doc.write((d) => ({ ...d, operators: d.operators.filter((op) => op.name !== name) }), { actor, action: "operator.remove", target: name, data: { roles: found.roles } });
    let ended = 0;
    for (const fn of this.#onRemoved) {
      // Each keeper also refuses what belongs to an operator that no longer exists, so a keeper that
      // fails here (its store unreachable) still lets nothing through; the log says what it left.
      ended += await fn(name, actor).catch((e: unknown) => {
        this.#log.error({ operator: name, err: String(e) }, "operator removed, but ending their tokens or sessions failed here; they are refused on use");
        return 0;
      });
    }
    return { name, ended };
  }
}
