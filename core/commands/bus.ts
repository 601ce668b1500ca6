// The one command bus. Every surface (CLI, REST, modules invoking each other) builds a call
// {command, input, caller} and dispatches it here: lookup -> permission -> input validation
// (compiled once per command) -> activation (lazy) -> handler -> output check.
import { AsyncLocalStorage } from "node:async_hooks";
import type { ValidateFunction } from "ajv";
import type { CallInfo, Caller, CommandInfo, OutsideCaller } from "../../sdk/context.js";
import { authorizeEffect, checkHolds, outsideCallers, type Authorized, type EffectRequest } from "../authority/authorize.js";
import type { EffectName } from "../authority/effects.js";
import type { CommandManifest } from "../../sdk/manifest.js";
import { HostError } from "../base/errors.js";
import { compileCommandSchema } from "../manifest/index.js";
import { actorOf } from "../authority/actor.js";
import { authorize, type PolicyFacts } from "./policy.js";
import { EFFECTS } from "../authority/effects.js";
import { effectNeedsSecond, PROTECTED_CALLS, type ProtectRule } from "../approvals/protected.js";
import { ajvProblems, problemSummary } from "../manifest/problems.js";

const NO_CALLERS: readonly OutsideCaller[] = Object.freeze([]);

/** A call a module is serving: for whom, how deep in a chain. */
interface Serving {
  module: string;
  callers: readonly OutsideCaller[];
  depth: number;
}

export type BoundHandler = (input: unknown, call: CallInfo) => Promise<unknown>;

export interface Call {
  command: string;
  input?: unknown;
  caller: Caller;
  /** How deep in a chain of modules invoking commands this call is (0 or absent: from outside). */
  depth?: number;
}

/** Whom a module's code acts for at a point, and how deep in a call chain it is. */
export interface Acting {
  callers: OutsideCaller[] | undefined;
  depth: number;
}

interface Declared {
  info: CommandInfo;
  /** Host-owned commands and system modules are trusted to return the right shape. */
  checkOutput: boolean;
  validateInput?: ValidateFunction;
  validateOutput?: ValidateFunction;
  handler?: BoundHandler;
  /** Its two-person rule, looked up once when declared (most commands have none). */
  protect: ProtectRule | undefined;
}

export interface BusHooks {
  /**
   * Make sure the owning module is active (lazy activation); rejects with module_unavailable
   * otherwise. undefined: it is active now (the hot path, without a promise to await).
   */
  ensureActive(moduleId: string): Promise<void> | undefined;
  /** The deepest a chain of modules invoking commands may nest (sandbox.maxCallDepth). */
  maxDepth?(): number;
  /** Observes every finished call (ledger, metrics). */
  onCallEnd?(moduleId: string, command: string, ms: number, error?: HostError): void;
  /** A foreign error from a handler: logged with an id and answered as `internal`. */
  internal(cause: unknown, command: string): HostError;
  /** Why a module's commands are missing (its manifest does not read), when the host knows. */
  explainMissing?(moduleId: string): HostError | undefined;
  /** The set of declared commands changed (a module installed, removed or reloaded). */
  changed?(): void;
  /** Two-person approval (../approvals/protected.ts): on when `required()` is 2. */
  secondOperator?: SecondOperatorGate;
}

export interface SecondOperatorGate {
  required(): number;
  /** A setting's value now (to tell a change that lowers the bar). */
  current(key: string): unknown;
  /** Keeps a top-level protected call as a request for a second operator (the gate adds a setting's own permission); answers what the caller is told. */
  file(call: { command: string; input: unknown; caller: OutsideCaller; permissions: string[] }, what: string): Promise<unknown>;
}

export class CommandBus {
  readonly #commands = new Map<string, Declared>();
  readonly #hooks: BusHooks;
  readonly #policy: PolicyFacts;
  /**
   * The CallInfo objects this bus handed to handlers, with the actor each stands for: an
   * in-process module that passes one back (ctx.audit.record) is attributed to that caller, and
   * nothing else it could pass is recognised.
   */
  readonly #receipts = new WeakMap<object, string>();

  /**
   * On behalf of: which outside callers (tokens, sessions) each module is handling calls for. An
   * in-process handler's own async context says it exactly; a sandboxed module's calls come back
   * over a pipe without one, so it counts as acting for every outside caller it is serving now
   * (never more authority than the narrowest of them; with none in flight it acts alone).
   */
  readonly #acting = new AsyncLocalStorage<Serving>();
  /** Set while a second operator's approved request runs: its protected effects go through. */
  readonly #approved = new AsyncLocalStorage<string>();
  readonly #serving = new Map<string, Set<Serving>>();

  constructor(policy: PolicyFacts, hooks: BusHooks) {
    this.#policy = policy;
    this.#hooks = hooks;
  }

  /**
   * The outside callers module `moduleId` acts for at this point: exact for in-process code (its
   * async context); for code across a pipe (`exact` false), every outside caller it is serving.
   */
  actingFor(moduleId: string, exact: boolean): Acting {
    if (exact) {
      const here = this.#acting.getStore();
      return here?.module === moduleId ? { callers: here.callers.length ? [...here.callers] : undefined, depth: here.depth } : { callers: undefined, depth: 0 };
    }
    const serving = this.#serving.get(moduleId);
    if (!serving || serving.size === 0) return { callers: undefined, depth: 0 };
    const all = new Map<string, OutsideCaller>();
    let depth = 0;
    for (const s of serving) {
      depth = Math.max(depth, s.depth);
      for (const c of s.callers) all.set(c.kind === "token" ? `t:${c.tokenId}` : `s:${c.sessionId}`, c);
    }
    return { callers: all.size ? [...all.values()] : undefined, depth };
  }

  /** The one policy point for effects (../authority/effects.ts), with the same facts as for commands. */
  authorize<E extends EffectName>(caller: Caller, effect: E, req?: EffectRequest): Authorized<E> {
    const proof = authorizeEffect(caller, effect, this.#policy, req);
    this.#secondOperator(caller, effect);
    return proof;
  }

  /** A setting change: its owner's permission, by whichever path; switching enforcement off may need a second operator. */
  authorizeSetting(caller: Caller, key: string, permission: string, value: unknown): Authorized<"setting.change"> {
    const owner = key.slice(0, key.indexOf("."));
    const proof = authorizeEffect(caller, "setting.change", this.#policy, { permission, target: key, ownedByModule: caller.kind === "module" && caller.moduleId === owner });
    this.#secondOperator(caller, "setting.change", { key, value, current: this.#hooks.secondOperator?.current(key) });
    // A role's permissions are handed to everyone who holds the role: only what the changer holds.
    if (key === "roles.custom" && value !== null && typeof value === "object")
      checkHolds(
        caller,
        Object.values(value as Record<string, unknown>)
          .flat()
          .map(String),
        "this roles.custom",
        this.#policy,
      );
    return proof;
  }

  /** Nobody hands out more than they hold (roles given to an operator, permissions given to a role). */
  checkHolds(caller: Caller, permissions: readonly string[], what: string): void {
    checkHolds(caller, permissions, what, this.#policy);
  }

  /**
   * With two-person approval on, a protected effect reached by anyone but the home's own CLI (the
   * break-glass path) outside an approved request is refused: top-level commands were filed as
   * requests before their handler ran; what reaches it another way (a module) is told how.
   */
  #secondOperator(caller: Caller, effect: EffectName, setting?: { key: string; value: unknown; current: unknown }): void {
    const gate = this.#hooks.secondOperator;
    if (!gate || caller.kind === "operator" || this.#approved.getStore() !== undefined || gate.required() < 2) return;
    if (!effectNeedsSecond(effect, setting)) return;
    throw new HostError(
      "second_operator_required",
      `${EFFECTS[effect].meaning} needs a second operator (approvals.required is 2): run it as its own command, which files a request another operator approves`,
      {
        details: { effect, ...(setting ? { setting: setting.key } : {}) },
      },
    );
  }

  /** Runs an approved two-person request: its protected effects go through (each still checked as its requester). */
  runApproved<T>(requestId: string, fn: () => Promise<T>): Promise<T> {
    return this.#approved.run(requestId, fn);
  }

  /** The actor of a call this bus issued the CallInfo for, or undefined for anything else. */
  actorOf(call: unknown): string | undefined {
    return typeof call === "object" && call !== null ? this.#receipts.get(call) : undefined;
  }

  declare(moduleId: string, name: string, m: CommandManifest, options: { checkOutput: boolean; kind: CommandInfo["kind"] }): void {
    const command = `${moduleId}.${name}`;
    if (this.#commands.has(command)) throw new HostError("module_duplicate", `command ${command} is declared twice`);
    this.#commands.set(command, {
      info: {
        command,
        module: moduleId,
        kind: options.kind,
        name,
        description: m.description,
        input: m.input,
        ...(m.output ? { output: m.output } : {}),
        args: m.args ?? [],
        permission: m.permission ?? command,
        readOnly: m.readOnly ?? false,
        ...(m.cliDefault ? { cliDefault: true } : {}),
        ...(m.confirm ? { confirm: m.confirm } : {}),
      },
      checkOutput: options.checkOutput,
      protect: Object.hasOwn(PROTECTED_CALLS, command) ? PROTECTED_CALLS[command] : undefined,
    });
    this.#changed();
  }

  /** Forget a module's commands (module removed or reloaded with another manifest). */
  undeclareModule(moduleId: string): void {
    let n = 0;
    for (const [name, d] of this.#commands) if (d.info.module === moduleId && this.#commands.delete(name)) n++;
    if (n > 0) this.#changed();
  }

  /** Several declarations in a row (a load) announce one change, not one per command. */
  #pending = false;
  #changed(): void {
    if (this.#pending) return;
    this.#pending = true;
    queueMicrotask(() => {
      this.#pending = false;
      this.#hooks.changed?.();
    });
  }

  bind(moduleId: string, name: string, handler: BoundHandler): void {
    const d = this.#commands.get(`${moduleId}.${name}`);
    if (!d) throw new HostError("command_not_found", `${moduleId}.${name} is not declared`);
    d.handler = handler;
  }

  unbindModule(moduleId: string): void {
    for (const d of this.#commands.values()) if (d.info.module === moduleId) delete d.handler;
  }

  get(command: string): CommandInfo | undefined {
    return this.#commands.get(command)?.info;
  }

  list(): CommandInfo[] {
    return [...this.#commands.values()].map((d) => d.info).sort((a, b) => a.command.localeCompare(b.command));
  }

  /** The commands of these modules only, in the same order as list() (an activation needs its providers', not all 2000 of a large host, sorted). */
  commandsOf(modules: ReadonlySet<string>): CommandInfo[] {
    const out: CommandInfo[] = [];
    for (const d of this.#commands.values()) if (modules.has(d.info.module)) out.push(d.info);
    return out.sort((a, b) => a.command.localeCompare(b.command));
  }

  async dispatch(call: Call): Promise<unknown> {
    const d = typeof call.command === "string" ? this.#commands.get(call.command) : undefined;
    if (!d) throw this.#hooks.explainMissing?.(String(call.command).split(".")[0] ?? "") ?? commandNotFound(String(call.command), this.#commands);
    const { info } = d;
    authorize(call.caller, info, this.#policy);
    const depth = call.depth ?? 0;
    const maxDepth = depth > 0 ? (this.#hooks.maxDepth?.() ?? Infinity) : Infinity;
    if (depth > maxDepth) {
      throw new HostError(
        "call_depth_exceeded",
        `${info.command} would be call ${depth} deep in a chain of modules invoking commands (at most ${maxDepth}, sandbox.maxCallDepth); does a module invoke itself?`,
        {
          details: { command: info.command, depth, allowed: maxDepth },
        },
      );
    }
    const started = performance.now();
    try {
      const input = call.input === undefined || call.input === null ? {} : call.input;
      d.validateInput ??= compileCommandSchema(info.input);
      if (!d.validateInput(input)) throw inputInvalid(info.command, d.validateInput);
      // Not awaited unless filed: an await of nothing is still a turn of the microtask queue per call.
      const filing = d.protect && this.#fileIfProtected(call, d.protect, info, input, depth);
      if (filing !== undefined) {
        const filed = await filing;
        this.#hooks.onCallEnd?.(info.module, info.command, performance.now() - started);
        return filed;
      }
      const activating = this.#hooks.ensureActive(info.module);
      if (activating) await activating;
      if (!d.handler) {
        throw new HostError("module_unavailable", `module '${info.module}' is active but has no handler for ${info.command}; it must call ctx.commands.register("${info.name}", ...) in activate()`);
      }
      const callInfo: CallInfo = Object.freeze({ command: info.command, caller: copyCaller(call.caller) });
      // Only trusted in-process handlers (system and host modules) can hand this very object back;
      // a user module's copy is never recognised, so its calls need no receipt (a WeakMap entry per
      // call is most of what the garbage collector does on this path).
      if (info.kind !== "user") this.#receipts.set(callInfo, actorOf(call.caller));
      // Calls made for an outside caller, or deeper in a chain, are tracked (whom the module acts
      // for, how deep it is); a plain call from outside costs nothing more.
      const behalf = outsideCallers(call.caller) ?? NO_CALLERS;
      const output =
        behalf.length > 0 || depth > 0 ? await this.#runFor(info.module, { module: info.module, callers: [...behalf], depth }, d.handler, input, callInfo) : await d.handler(input, callInfo);
      if (d.checkOutput && info.output) {
        d.validateOutput ??= compileCommandSchema(info.output);
        if (!d.validateOutput(output)) {
          throw new HostError("module_error", `${info.command} returned output that does not match its declared output schema`, {
            details: { problems: ajvProblems(d.validateOutput.errors) },
          });
        }
      }
      this.#hooks.onCallEnd?.(info.module, info.command, performance.now() - started);
      return output;
    } catch (e) {
      const err = e instanceof HostError ? e : this.#hooks.internal(e, info.command);
      this.#hooks.onCallEnd?.(info.module, info.command, performance.now() - started, err);
      throw err;
    }
  }

  /** With two-person approval on, a protected top-level call from a token or session becomes a request. */
  #fileIfProtected(call: Call, rule: ProtectRule, info: CommandInfo, input: unknown, depth: number): Promise<unknown> | undefined {
    const gate = this.#hooks.secondOperator;
    const c = call.caller;
    if (!gate || depth > 0 || (c.kind !== "token" && c.kind !== "session") || this.#approved.getStore() !== undefined || gate.required() < 2) return undefined;
    const what = rule(input as Record<string, unknown>, gate.current);
    if (what === undefined) return undefined;
    // Requests are a person's: one a service account filed would run as a credential that may be
    // revoked by the time a second operator approves it.
    if (c.operator === undefined)
      throw new HostError(
        "second_operator_required",
        `${what}: two-person approval is on (approvals.required 2), and requests are filed by named operators, not a service account's token or session`,
        {
          details: { command: info.command },
        },
      );
    return gate.file({ command: info.command, input, caller: copyCaller(c) as OutsideCaller, permissions: [info.permission] }, what);
  }

  async #runFor(moduleId: string, entry: Serving, handler: BoundHandler, input: unknown, callInfo: CallInfo): Promise<unknown> {
    let serving = this.#serving.get(moduleId);
    if (!serving) this.#serving.set(moduleId, (serving = new Set()));
    // One entry per call, removed when it ends, whatever the handler did.
    serving.add(entry);
    try {
      return await this.#acting.run(entry, () => handler(input, callInfo));
    } finally {
      serving.delete(entry);
      if (serving.size === 0) this.#serving.delete(moduleId);
    }
  }
}

/** Handlers get their own copy of who is calling; they cannot change it for anyone else. */
function copyCaller(c: Caller): Caller {
  if (c.kind === "token" || c.kind === "session") {
    const common = {
      scopes: Object.freeze([...c.scopes]) as string[],
      ...(c.operator !== undefined ? { operator: c.operator } : {}),
      ...(c.bind !== undefined ? { bind: Object.freeze([...c.bind]) as string[] } : {}),
    };
    if (c.kind === "token") return Object.freeze({ kind: "token", tokenId: c.tokenId, ...(c.name !== undefined ? { name: c.name } : {}), ...common });
    return Object.freeze({ kind: "session", sessionId: c.sessionId, ...common });
  }
  if (c.kind === "module" && c.onBehalfOf)
    return Object.freeze({ kind: "module", moduleId: c.moduleId, onBehalfOf: Object.freeze(c.onBehalfOf.map((o) => copyCaller(o) as OutsideCaller)) as OutsideCaller[] });
  return Object.freeze({ ...c });
}

function inputInvalid(command: string, validate: ValidateFunction): HostError {
  const problems = ajvProblems(validate.errors);
  return new HostError("input_invalid", `invalid input for ${command}: ${problemSummary(problems)}`, { details: { problems } });
}

function commandNotFound(command: string, known: Map<string, Declared>): HostError {
  const moduleId = command.split(".")[0] ?? "";
  const siblings = [...known.keys()].filter((c) => c.startsWith(`${moduleId}.`));
  const hint = siblings.length ? `; ${moduleId} has: ${siblings.join(", ")}` : "; run `warden --help` to list modules";
  return new HostError("command_not_found", `unknown command '${command}'${hint}`, { details: { command } });
}
