// What capability implementations and host-owned commands may use: the kernel's services, by role.
// Capability implementations receive this, never the Host itself.
import type { Authorized } from "./authority/authorize.js";
import type { CommandBus } from "./commands/bus.js";
import type { ConfigService } from "./config/config-service.js";
import type { EventBus } from "./events.js";
import type { ProviderIndex } from "./providers.js";
import type { SecretStore } from "./secrets/secret-store.js";
import type { TrustPolicy } from "./supply/trust-policy.js";
import type { Operators } from "./principals/operators.js";
import type { ApprovalRequests } from "./approvals/requests.js";
import type { ServiceRegistry } from "./services.js";
import type { Ledger } from "./ledger.js";
import type { Budgets } from "./budgets.js";
import type { NetTransport } from "./hostapi/net-fetch.js";
import type { Repos, Store } from "./store/store.js";

export interface AuditSink {
  /** With `tx`, inside that transaction (with the change it records). */
  append(e: { actor: string; action: string; target?: string; data?: Record<string, unknown> }, tx?: Repos): Promise<unknown>;
  tail(n?: number): Promise<unknown[]>;
  verify(checkpoint?: unknown): Promise<unknown>;
  checkpoint(home: string): Promise<unknown>;
}

/** The subset of pino's Logger the kernel uses. */
export interface LogSink {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the operator was shown and approves: a stale one is refused (approval_stale). */
export interface ApprovalTarget {
  hash: string;
  version?: string;
}

export interface ModuleAdmin {
  list(): unknown[];
  inspect(id: string): unknown;
  approve(id: string, target: ApprovalTarget, auth: Authorized<"capability.grant_elevated">): Promise<unknown>;
  enable(id: string, auth: Authorized<"module.enable">): Promise<unknown>;
  disable(id: string, auth: Authorized<"module.disable">): Promise<unknown>;
}

/** Told of every capability call a module makes (the ledger, `warden dev`, learn mode, sdk/testing). */
export interface CapabilityEvent {
  module: string;
  method: string;
  capability: string;
  allowed: boolean;
}

export interface Kernel {
  /** The host's home directory. */
  readonly home: string;
  readonly store: Store;
  readonly config: ConfigService;
  readonly bus: CommandBus;
  readonly events: EventBus;
  readonly services: ServiceRegistry;
  readonly providers: ProviderIndex;
  readonly secrets: SecretStore;
  /** Trusted publisher keys and blocked packs. */
  readonly supply: TrustPolicy;
  /** The named operators and their roles (one sealed document, one writer). */
  readonly principals: Operators;
  /** Two-person requests waiting for (or decided by) a second operator. */
  readonly approvals: ApprovalRequests;
  readonly audit: AuditSink;
  readonly log: LogSink;
  readonly modules: ModuleAdmin;
  readonly ledger: Ledger;
  /** Per-module windows and slots of what a module may make the host do (beside the ledger, which counts refusals). */
  readonly budgets: Budgets;
  readonly capabilityObservers: Set<(e: CapabilityEvent) => void>;
  /** Told of every finished command call (`warden dev` prints them). */
  readonly callObservers: Set<(e: CallEvent) => void>;
  /** Told of every module log line the host keeps (`warden dev` prints them; a test host records them). */
  readonly logObservers: Set<(e: { module: string; level: string; message: string }) => void>;
  /** Carries net.fetch requests after their checks; the network when unset. */
  readonly netTransport?: NetTransport;
}

export interface CallEvent {
  module: string;
  command: string;
  ms: number;
  error?: { code: string; message: string };
}
