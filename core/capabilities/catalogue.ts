// The one catalogue of capabilities: name, meaning, whether an operator must approve it, the schema
// of its parameters (for the object form in module.json) and the context methods it unlocks.
// The host-side implementations live in ./implementations.ts, keyed by the same names.

export interface CapabilityDef {
  name: string;
  meaning: string;
  /** Elevated capabilities leave a user module `pending_approval` until an operator approves. */
  elevated: boolean;
  /** JSON Schema of the parameters accepted in `{ "name": ..., ...params }` form. */
  params: Record<string, unknown>;
  /** Context methods (`namespace.method`) this capability unlocks. */
  methods: readonly string[];
}

const noParams = { type: "object", properties: {}, additionalProperties: false } as const;
const patternList = (what: string) => ({
  type: "array",
  minItems: 1,
  maxItems: 256,
  description: what,
  items: { type: "string", minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.*:-]+$" },
});

const defs: CapabilityDef[] = [
  {
    name: "commands.register",
    meaning: "bind handlers to the commands its manifest declares",
    elevated: false,
    params: noParams,
    methods: ["commands.register"],
  },
  {
    name: "commands.invoke",
    meaning: "call other modules' commands, limited to the listed command patterns",
    elevated: false,
    params: {
      type: "object",
      properties: { commands: patternList("command patterns, e.g. notes.* or hello.greet") },
      required: ["commands"],
      additionalProperties: false,
    },
    methods: ["commands.invoke"],
  },
  {
    name: "commands.dispatch",
    meaning: "dispatch commands on behalf of external callers (used by the REST surface)",
    elevated: true,
    params: noParams,
    methods: ["commands.dispatch", "commands.catalogue"],
  },
  {
    name: "storage.read",
    meaning: "read its own key-value storage",
    elevated: false,
    params: noParams,
    methods: ["storage.get", "storage.list"],
  },
  {
    name: "storage.write",
    meaning: "write its own key-value storage (within storage.maxBytesPerModule)",
    elevated: false,
    params: noParams,
    methods: ["storage.set", "storage.delete"],
  },
  {
    name: "cache.use",
    meaning: "use a private namespace of the shared cache",
    elevated: false,
    params: noParams,
    methods: ["cache.get", "cache.set", "cache.delete", "cache.invalidateTag"],
  },
  {
    name: "cache.manage",
    meaning: "inspect, clear, purge, enable and disable the whole cache",
    elevated: true,
    params: noParams,
    methods: ["cacheAdmin.status", "cacheAdmin.clear", "cacheAdmin.purgeTag", "cacheAdmin.enable", "cacheAdmin.disable"],
  },
  {
    name: "security.manage",
    meaning: "change rate limits, blocks and lockdown",
    elevated: true,
    params: noParams,
    methods: ["security.*"],
  },
  {
    name: "auth.manage",
    meaning: "grant, list, rotate and revoke API tokens",
    elevated: true,
    params: noParams,
    methods: ["auth.*"],
  },
  {
    name: "config.read",
    meaning: "read its own settings, or the listed keys",
    elevated: false,
    params: {
      type: "object",
      properties: { keys: patternList("config key patterns beyond its own, e.g. api.port or security.*") },
      additionalProperties: false,
    },
    methods: ["config.get"],
  },
  {
    name: "config.manage",
    meaning: "change any module's settings",
    elevated: true,
    params: noParams,
    methods: ["config.set"],
  },
  {
    name: "events.subscribe",
    meaning: "receive host and module events (optionally only the listed patterns)",
    elevated: false,
    params: {
      type: "object",
      properties: { events: patternList("event patterns") },
      additionalProperties: false,
    },
    methods: ["events.on"],
  },
  {
    name: "events.emit",
    meaning: "emit events under its own id (or the listed patterns)",
    elevated: false,
    params: {
      type: "object",
      properties: { events: patternList("event patterns") },
      additionalProperties: false,
    },
    methods: ["events.emit"],
  },
  {
    name: "net.fetch",
    meaning: "make HTTP requests to the listed hosts only",
    elevated: false,
    params: {
      type: "object",
      properties: {
        hosts: {
          type: "array",
          minItems: 1,
          maxItems: 64,
          items: { type: "string", pattern: "^(\\*\\.)?([a-z0-9.-]+|\\[[0-9a-f:]+\\])(:[0-9]{1,5})?$" },
        },
      },
      required: ["hosts"],
      additionalProperties: false,
    },
    methods: ["net.fetch"],
  },
  {
    name: "audit.read",
    meaning: "read and verify the audit chain",
    elevated: true,
    params: noParams,
    methods: ["audit.tail", "audit.verify"],
  },
  {
    name: "audit.write",
    meaning: "append events to the audit chain",
    elevated: true,
    params: noParams,
    methods: ["audit.record"],
  },
  {
    name: "modules.manage",
    meaning: "list, approve, enable and disable modules",
    elevated: true,
    params: noParams,
    methods: ["modules.list", "modules.inspect", "modules.approve", "modules.enable", "modules.disable"],
  },
  {
    name: "home.write",
    meaning: "write a private file (mode 0600) into the host's home, e.g. a bootstrap token",
    elevated: true,
    params: noParams,
    methods: ["home.writeSecretFile"],
  },
  {
    name: "log.write",
    meaning: "write to the host log (redacted, rate-capped)",
    elevated: false,
    params: noParams,
    methods: ["log.debug", "log.info", "log.warn", "log.error"],
  },
];

export const CAPABILITIES: ReadonlyMap<string, CapabilityDef> = new Map(defs.map((d) => [d.name, d]));

export function capabilityNames(): string[] {
  return [...CAPABILITIES.keys()];
}

export function isElevated(name: string): boolean {
  return CAPABILITIES.get(name)?.elevated ?? false;
}

/**
 * Which capability a context method needs. `security.*`-style entries cover a whole namespace
 * whose methods come from a service.
 */
export function capabilityForMethod(method: string): string | undefined {
  const exact = EXACT_METHODS.get(method);
  if (exact !== undefined) return exact;
  const ns = method.slice(0, method.indexOf(".") + 1);
  return NAMESPACE_METHODS.get(ns);
}

/** Method -> capability, computed once: this lookup is on every capability call. */
const EXACT_METHODS = new Map<string, string>();
const NAMESPACE_METHODS = new Map<string, string>();
for (const def of defs) {
  for (const m of def.methods) {
    if (m.endsWith(".*")) NAMESPACE_METHODS.set(m.slice(0, -1), def.name);
    else EXACT_METHODS.set(m, def.name);
  }
}

/**
 * The plain `ctx.<namespace>.<method>` table, method -> capability, that both contexts (in-process
 * and the sandbox prelude) are built from. `commands`, `events` and `log` have hand-made shapes
 * (handlers, subscriptions, fire-and-forget), and `security`/`auth` are open-ended service namespaces.
 */
export function contextApiTable(): Record<string, Record<string, string>> {
  const api: Record<string, Record<string, string>> = {};
  for (const def of defs) {
    for (const m of def.methods) {
      const [ns, fn] = m.split(".") as [string, string];
      if (fn === "*" || ns === "commands" || ns === "log" || ns === "events") continue;
      (api[ns] ??= {})[fn] = def.name;
    }
  }
  return api;
}

/** Namespaces whose operations a service defines, with the capability that opens them. */
export const SERVICE_API: Readonly<Record<string, string>> = { security: "security.manage", auth: "auth.manage" };

/** The comprehensive set every system module receives. */
export const SYSTEM_CAPABILITIES: ReadonlyArray<string | { name: string; [k: string]: unknown }> = defs.map((d) => {
  if (d.name === "commands.invoke") return { name: d.name, commands: ["*"] };
  if (d.name === "net.fetch") return { name: d.name, hosts: ["*"] };
  return d.name;
}).filter((c) => (typeof c === "string" ? c : c.name) !== "net.fetch");
