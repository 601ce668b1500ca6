// The composition root: opens system.brain, builds the kernel services, loads modules and wires the
// runtimes. Surfaces (CLI, REST) talk to a Host through `dispatch`.
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import type { Caller } from "../sdk/context.js";
import { AuditSigner } from "./audit/anchor.js";
import { AuditLog } from "./audit/index.js";
import { CommandBus, type Call } from "./commands/bus.js";
import { ConfigService } from "./config/config-service.js";
import { EventBus } from "./events.js";
import { registerHostCommands, HOST_NAMESPACES } from "./host-commands.js";
import { InProcessRuntime } from "./inprocess-runtime.js";
import { SandboxRuntime } from "./sandbox/sandbox-runtime.js";
import { Installer } from "./lifecycle/installer.js";
import { Ledger } from "./ledger.js";
import { Budgets } from "./budgets.js";
import type { Kernel, LogSink } from "./kernel.js";
import { ModuleLoader, unavailable } from "./loader/module-loader.js";
import { OperatorActions } from "./loader/operator-actions.js";
import { accessLogFor, createLogger, securityLogger } from "./log/index.js";
import { HostError, internalError } from "./base/errors.js";
import { ProviderIndex } from "./providers.js";
import { SecretStore } from "./secrets/secret-store.js";
import { resolveHome } from "./base/paths.js";
import { assertOwnHome, homeLayout } from "./base/home.js";
import type { NetTransport } from "./hostapi/net-fetch.js";
import type { ModuleRuntime } from "./runtime.js";
import { ServiceRegistry } from "./services.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import { openPostgresStore } from "./store/postgres-store.js";
import { scrubString } from "./log/redact.js";
import type { Store } from "./store/store.js";
import { chooseBackends, checkRedisUrl } from "./fleet/backends.js";
import { redisBackend } from "./fleet/redis-backend.js";
import { hostBackends, type BackendStatus } from "./fleet/probe.js";
import { FleetSync } from "./fleet/sync.js";
import { FleetModules } from "./lifecycle/fleet-modules.js";
import { Sealer } from "./supply/seal.js";
import { Operators } from "./principals/operators.js";
import { ApprovalRequests } from "./approvals/requests.js";
import { secondOperatorGate } from "./approvals/gate.js";
import { TrustPolicy } from "./supply/trust-policy.js";

export interface HostOptions {
  home?: string;
  /** Extra folders of user modules (`--modules`), on top of <home>/modules and host.modulePaths. */
  modulePaths?: string[];
  /** Settings for this process only, never persisted (`--enable-api` sets api.enabled). */
  overrides?: Record<string, unknown>;
  /** Where logs go; defaults to <home>/logs/host.log. */
  logger?: LogSink;
  /** Runtime for user modules; defaults to the sandbox supervisor. */
  userRuntime?: ModuleRuntime | "inprocess";
  /** Test hook: another folder of system modules. */
  systemDir?: string;
  /** A fleet's PostgreSQL URL (`--store`); see ./fleet/backends.ts for the other sources. */
  store?: string;
  /** A fleet's Redis URL (`--redis`). */
  redis?: string;
  /** The clock per-second and per-minute budgets run on (a test host moves it); Date.now by default. */
  clock?: () => number;
  /** Carries net.fetch after its checks instead of the network (a test host's fake). */
  netTransport?: NetTransport;
}

export class Host {
  readonly home: string;
  readonly kernel: Kernel;
  readonly loader: ModuleLoader;
  readonly #runtimes: ModuleRuntime[];
  readonly #sync: FleetSync | undefined;
  #closed = false;
  readonly #surfaces: string[] = [];

  private constructor(home: string, kernel: Kernel, loader: ModuleLoader, runtimes: ModuleRuntime[], sync: FleetSync | undefined) {
    this.home = home;
    this.kernel = kernel;
    this.loader = loader;
    this.#runtimes = runtimes;
    this.#sync = sync;
    // A surface this host serves comes back when its provider is activated again (module reload,
    // disable and enable): the old one stopped with its provider, the new one starts here.
    kernel.services.onProvide((name) => {
      if (this.#closed || !this.#surfaces.includes(name)) return;
      setImmediate(() => void this.#restartSurface(name));
    });
  }

  async #restartSurface(name: string): Promise<void> {
    if (this.#closed || !this.#surfaces.includes(name)) return;
    const surface = this.kernel.services.surface(name);
    if (!surface || surface.address?.() !== undefined) return;
    try {
      await surface.start();
      this.kernel.log.info({ surface: name }, "surface started again after its module was activated again");
    } catch (e) {
      this.kernel.log.error({ surface: name, err: String(e) }, "surface could not start again after its module was activated again; `warden module reload` it or restart serve");
    }
  }

  static async open(options: HostOptions = {}): Promise<Host> {
    const home = resolveHome(options.home);
    assertOwnHome(home);
    const backends = await chooseBackends(home, { ...(options.store !== undefined ? { store: options.store } : {}), ...(options.redis !== undefined ? { redis: options.redis } : {}) });
    const layout = homeLayout(home);
    const firstRun = backends.store ? !existsSync(home) : !existsSync(layout.store);
    mkdirSync(layout.logs, { recursive: true, mode: 0o700 });
    if (firstRun) chmodSync(home, 0o700);
    // The log is configured from the store's settings, so store errors before it exists go here.
    let storeLog: LogSink | undefined;
    const store: Store = backends.store
      ? await openPostgresStore(backends.store, { onIdleError: (e) => storeLog?.warn({ err: scrubString(e.message) }, "a pooled store connection broke; it is replaced on the next use") })
      : openSqliteStore(layout.store);
    let sync: FleetSync | undefined;
    try {
      const config = await ConfigService.open(store.config);
      for (const [k, v] of Object.entries(options.overrides ?? {})) config.override(k, v);
      const log: LogSink = options.logger ?? hostLogger(home, layout.hostLog, config);
      storeLog = log;
      // A chain shared by a fleet has no one host's head file: signed checkpoints guard its tail.
      const audit = new AuditLog(store, store.changes ? undefined : layout.auditHead, { securityLog: securityLogger(log), signer: new AuditSigner(home) });
      config.useAudit(store, audit);
      const events = new EventBus((err, event) => log.warn({ event, err: String(err) }, "event subscriber failed"));
      const services = new ServiceRegistry();
      provideHostServices(services, { config, redis: backends.redis, store, log });
      const secrets = new SecretStore(store.secrets, home, process.env.WARDEN_SECRET_KEY, { shared: store.changes !== undefined });
      // A fleet's hosts verify what they read from the shared store with a key the store never sees.
      const { supply, principals, approvals } = await openPolicies({ store, audit, log, config, services, sealer: store.changes ? new Sealer(secrets.fleetKey()) : undefined, now: options.clock });
      config.onChange((key) => events.emit("config.changed", { key }));
      const ledger = new Ledger();

      // The loader, installer and operator actions are made below from this kernel; these reach them once they exist.
      const later = { loader: late<ModuleLoader>("the module loader"), installer: late<Installer>("the installer"), actions: late<OperatorActions>("the operator actions") };
      const theLoader = later.loader.get;
      const providers = new ProviderIndex(services, (id) => theLoader().ensureActive(id));
      const bus = createBus({
        principals,
        approvals,
        config,
        events,
        providers,
        log,
        loader: theLoader,
        onCallEnd: (id, command, ms, error) => {
          ledger.call(id, ms, error);
          if (kernel.callObservers.size === 0) return;
          for (const obs of kernel.callObservers) obs({ module: id, command, ms, ...(error ? { error: { code: error.code, message: error.message } } : {}) });
        },
      });
      const theInstaller = later.installer.get;
      const theActions = later.actions.get;
      const kernel: Kernel = {
        home,
        store,
        config,
        bus,
        events,
        services,
        providers,
        secrets,
        supply,
        principals,
        approvals,
        audit,
        log,
        ledger,
        budgets: new Budgets(options.clock),
        capabilityObservers: new Set(),
        callObservers: new Set(),
        logObservers: new Set(),
        ...(options.netTransport ? { netTransport: options.netTransport } : {}),
        modules: {
          list: () => theLoader().list(),
          inspect: (id) => theActions().inspect(id),
          approve: (id, target, auth) => theInstaller().approve(id, target, auth),
          enable: (id, auth) => theActions().enable(id, auth),
          disable: (id, auth) => theActions().disable(id, auth),
        },
      };

      const system = new InProcessRuntime();
      const user = userRuntime(options, system, config, log);
      const sandbox = user instanceof SandboxRuntime ? user : undefined;
      if (sandbox) {
        ledger.resources = (id) => sandbox.resources(id);
        ledger.refresh = () => sandbox.refreshStats();
      }
      const modulePaths = [...config.get("host.modulePaths"), ...(options.modulePaths ?? [])];
      const loader = later.loader.set(new ModuleLoader({ kernel, home, modulePaths, runtimes: { system, user }, ...(options.systemDir ? { systemDir: options.systemDir } : {}) }));
      if (sandbox) {
        const l = loader;
        sandbox.onModuleFailed = (id, e) => {
          l.markFailed(id, e);
          // the module is stopped whether or not the event could be written
          audit.append({ actor: "host", action: "module.breaker", target: id, data: { code: e.code } }).catch(() => {});
        };
      }
      const actions = later.actions.set(new OperatorActions(loader));
      const installer = later.installer.set(new Installer(kernel, loader, actions, home));
      registerHostCommands({ home, bus, loader, actions, installer, config, audit, store, ledger, secrets });
      log.info({ pid: process.pid, home }, "home opened");
      const fleetModules = store.changes ? new FleetModules(kernel, loader, layout.modules) : undefined;
      await fleetModules?.materializeAll();
      await loader.load();
      await loader.activateStartup();
      loader.startIdleSweep(config.get("sandbox.idle_ttl"));
      if (store.changes && fleetModules) {
        // Another host's change (config, trust policy, module records) reaches this one through the store's feed.
        sync = new FleetSync(store.changes, { pollMs: config.get("fleet.poll_ms"), refresh: () => fleetModules.refresh(), log });
        await sync.start();
      }
      return new Host(home, kernel, loader, user === system ? [system] : [system, user], sync);
    } catch (e) {
      await sync?.stop();
      await store.close();
      throw e;
    }
  }

  /** Which backend holds each part of the state, and whether each answers now (`warden status`). */
  backends(): Promise<BackendStatus> {
    return hostBackends(this.kernel.store, this.kernel.services.hostService("backend:redis"));
  }

  dispatch(call: Call): Promise<unknown> {
    return this.kernel.bus.dispatch(call);
  }

  /** Convenience for the local CLI: the operator may run anything. */
  run(command: string, input: unknown = {}, caller: Caller = { kind: "operator" }): Promise<unknown> {
    return this.dispatch({ command, input, caller });
  }

  async activateAll(kinds?: ReadonlyArray<"system" | "user">): Promise<void> {
    await this.loader.activateAll(kinds);
  }

  /**
   * Starts every `surface:*` service (the REST API is one): network listeners exist only in a
   * serving host. Returns each surface's lines for the operator.
   */
  async startSurfaces(): Promise<string[]> {
    const lines: string[] = [];
    for (const name of this.kernel.services.names("surface:")) {
      const surface = this.kernel.services.surface(name);
      if (!surface) continue;
      const info = await surface.start();
      this.#surfaces.push(name);
      lines.push(...(info.lines ?? []));
    }
    return lines;
  }

  /** Stops surfaces, draining in-flight requests. */
  async stopSurfaces(): Promise<void> {
    for (const name of this.#surfaces.splice(0).reverse()) {
      const surface = this.kernel.services.surface(name);
      await surface?.stop().catch((e) => this.kernel.log.error({ surface: name, err: String(e) }, "surface did not stop cleanly"));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stopSurfaces();
    await this.#sync?.stop();
    await this.loader.deactivateAll();
    for (const r of this.#runtimes) await r.close();
    await this.kernel.store.close();
  }
}

/** What the host offers its system modules when it is configured: a fleet's Redis and lock, the access log. */
function provideHostServices(services: ServiceRegistry, o: { config: ConfigService; redis: string | undefined; store: Store; log: LogSink }): void {
  const fromConfig = o.config.get("fleet.redis");
  const redisUrl = o.redis ?? (fromConfig ? checkRedisUrl(fromConfig, "fleet.redis") : undefined);
  // The security and cache modules find a fleet's Redis here; without one they keep their state
  // in this host's memory.
  if (redisUrl) services.provideHost("backend:redis", redisBackend(redisUrl, o.log));
  // Check-then-act steps that must happen once per fleet (the first bootstrap token) take this.
  if (o.store.exclusive) services.provideHost("backend:lock", { exclusive: o.store.exclusive.bind(o.store) });
  // The REST surface's access lines, written without the generic logging path (see log/access.ts).
  const access = accessLogFor(o.log);
  if (access) services.provideHost("log:access", access);
}

/** The host's log, rotated as its settings say. */
function hostLogger(home: string, destination: string, config: ConfigService): LogSink {
  return createLogger({
    home,
    destination,
    rotation: { maxBytes: config.get("log.max_file_bytes"), keep: config.get("log.keep"), securityKeep: config.get("log.security_keep") },
  });
}

/** The trust policy and the operators: sealed documents every host of a fleet verifies. */
async function openPolicies(o: { store: Store; audit: AuditLog; log: LogSink; config: ConfigService; services: ServiceRegistry; sealer: Sealer | undefined; now?: (() => number) | undefined }) {
  const supply = await TrustPolicy.open(o.store, o.audit, o.log, o.sealer);
  const principals = new Operators({ ...o, customRoles: () => o.config.get("roles.custom") });
  await principals.load();
  providePrincipals(o.services, principals);
  const approvals = new ApprovalRequests({ ...o, ttlMinutes: () => o.config.get("approvals.ttl_minutes"), ...(o.now ? { now: o.now } : {}) });
  await approvals.load();
  return { supply, principals, approvals };
}

/** What the auth and console modules ask of the operators: permissions now, and word of a removal. */
function providePrincipals(services: ServiceRegistry, principals: Operators): void {
  services.provideHost("principals", {
    permissionsOf: (name) => principals.permissionsOf(name),
    byClaim: (claim, value) => principals.byClaim(claim, value)?.name,
    onRemoved: (fn) => principals.onRemoved(fn),
  });
}

/** The bus, with the loader it activates modules through (made after it) reached lazily. */
function createBus(o: {
  principals: Operators;
  approvals: ApprovalRequests;
  config: ConfigService;
  events: EventBus;
  providers: ProviderIndex;
  log: LogSink;
  loader: () => ModuleLoader;
  onCallEnd: (id: string, command: string, ms: number, error: HostError | undefined) => void;
}): CommandBus {
  return new CommandBus(
    {
      grantsOf: (id) => o.loader().activeGrants(id),
      exposes: (id, capability) => o.providers.exposes(id, capability),
      permissionsOfOperator: (name) => o.principals.permissionsOf(name),
    },
    {
      ensureActive: (id) => (HOST_NAMESPACES.has(id) || o.loader().isActive(id) ? undefined : o.loader().ensureActive(id)),
      internal: (cause, command) => internalError(cause, o.log, command),
      maxDepth: () => o.config.get("sandbox.maxCallDepth"),
      changed: () => o.events.emit("commands.changed", {}),
      explainMissing: (id) => {
        const e = o.loader().entry(id);
        return e && !e.loaded && e.error ? unavailable(e) : undefined;
      },
      onCallEnd: o.onCallEnd,
      secondOperator: secondOperatorGate(o.config, o.approvals),
    },
  );
}

/** Where user modules run: the sandbox (the default), in-process (tests), or a runtime given. */
function userRuntime(options: HostOptions, system: ModuleRuntime, config: ConfigService, log: LogSink): ModuleRuntime {
  if (options.userRuntime === "inprocess") return system;
  return (
    options.userRuntime ??
    new SandboxRuntime({
      poolSize: config.get("sandbox.poolSize"),
      breaker: { failures: config.get("sandbox.breakerFailures"), windowMs: config.get("sandbox.breakerWindowS") * 1000 },
      log: (level, msg, data) => log[level]({ ...data, sandbox: true }, msg),
    })
  );
}

/** A part made after the parts that reach it (they hold `get`, called only once it is `set`). */
function late<T>(what: string): { get: () => T; set: (value: T) => T } {
  let value: T | undefined;
  return {
    get: () => {
      if (value === undefined) throw new HostError("internal", `${what} is not ready yet`);
      return value;
    },
    set: (v) => (value = v),
  };
}
