// The one catalogue of capabilities: name, meaning, whether an operator must approve it, and the
// schema of its parameters (for the object form in module.json). Which context methods each one
// opens is declared in ./table.ts; how scoped parameters are read, in ./scopes.ts.
import { isScoped, scopeDefault } from "./scopes.js";

export interface CapabilityDef {
  name: string;
  meaning: string;
  /** Elevated capabilities leave a user module `pending_approval` until an operator approves. */
  elevated: boolean;
  /** JSON Schema of the parameters accepted in `{ "name": ..., ...params }` form. */
  params: Record<string, unknown>;
  /**
   * Only system modules may hold it, approved or not: it acts for the host itself (dispatching as
   * an external caller it vouches for, writing into the home), which no user module may do.
   */
  systemOnly?: boolean;
}

const noParams = { type: "object", properties: {}, additionalProperties: false } as const;
const patternList = (what: string) => ({
  type: "array",
  minItems: 1,
  maxItems: 256,
  description: what,
  items: { type: "string", minLength: 1, maxLength: 200, pattern: "^(\\*|[A-Za-z0-9_:-]+(\\.[A-Za-z0-9_:-]+)*(\\.\\*)?)$" },
});
const scoped = (param: string, what: string, required: boolean) => ({
  type: "object",
  properties: { [param]: patternList(what) },
  ...(required ? { required: [param] } : {}),
  additionalProperties: false,
});

const defs = [
  { name: "commands.register", meaning: "bind handlers to the commands its manifest declares", elevated: false, params: noParams },
  {
    name: "commands.invoke",
    meaning: 'call commands whose permission matches the listed patterns ("*": the commands of the user modules it depends on)',
    elevated: false,
    params: scoped("commands", "permission patterns, e.g. notes.* or notes.add", true),
  },
  {
    name: "commands.dispatch",
    meaning: "dispatch commands on behalf of external callers it has authenticated (the REST surface); system modules only",
    elevated: true,
    params: noParams,
    systemOnly: true,
  },
  { name: "storage.read", meaning: "read its own key-value storage", elevated: false, params: noParams },
  { name: "storage.write", meaning: "write its own key-value storage (within storage.maxBytesPerModule)", elevated: false, params: noParams },
  { name: "cache.use", meaning: "use a private namespace of the shared cache", elevated: false, params: noParams },
  { name: "cache.manage", meaning: "inspect, clear, purge, enable and disable the whole cache", elevated: true, params: noParams },
  { name: "security.manage", meaning: "change rate limits, blocks and lockdown", elevated: true, params: noParams },
  { name: "auth.manage", meaning: "grant, list, rotate and revoke API tokens", elevated: true, params: noParams },
  {
    name: "config.read",
    meaning: "read its own settings (other owners' keys only when listed, which needs approval)",
    elevated: false,
    params: scoped("keys", "config key patterns beyond its own, e.g. api.port or security.*", false),
  },
  { name: "config.manage", meaning: "change any module's settings", elevated: true, params: noParams },
  {
    name: "events.subscribe",
    meaning: "receive its own events and those of the user modules it depends on (others only when listed, which needs approval)",
    elevated: false,
    params: scoped("events", "event patterns", false),
  },
  {
    name: "events.emit",
    meaning: "emit events under its own id (others only when listed, which needs approval)",
    elevated: false,
    params: scoped("events", "event patterns", false),
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
          items: { type: "string", pattern: "^(\\*|(\\*\\.)?([a-z0-9.-]+|\\[[0-9a-f:]+\\])(:[0-9]{1,5})?)$" },
        },
      },
      required: ["hosts"],
      additionalProperties: false,
    },
  },
  { name: "secrets.read", meaning: "read its own secrets, which an operator sets with `warden secrets set`", elevated: false, params: noParams },
  { name: "audit.read", meaning: "read and verify the audit chain", elevated: true, params: noParams },
  { name: "audit.write", meaning: "append events to the audit chain (the actor is always the host's record of the caller)", elevated: true, params: noParams },
  { name: "modules.manage", meaning: "list, inspect, approve, enable and disable modules", elevated: true, params: noParams },
  { name: "home.write", meaning: "write a private file (mode 0600) into the host's home, e.g. a bootstrap token; system modules only", elevated: true, params: noParams, systemOnly: true },
  { name: "log.write", meaning: "write to the host log (redacted, rate-capped)", elevated: false, params: noParams },
] as const satisfies readonly CapabilityDef[];

export type CapabilityName = (typeof defs)[number]["name"];

export const CAPABILITIES: ReadonlyMap<string, CapabilityDef> = new Map(defs.map((d) => [d.name, d]));

export function capabilityNames(): CapabilityName[] {
  return defs.map((d) => d.name);
}

export function isCapability(name: string): name is CapabilityName {
  return CAPABILITIES.has(name);
}

export function isSystemOnly(name: string): boolean {
  return CAPABILITIES.get(name)?.systemOnly === true;
}

export function isElevated(name: string): boolean {
  return CAPABILITIES.get(name)?.elevated ?? false;
}

/** For the reference docs: a scoped capability's default when its parameter is left out. */
export function defaultScopeText(name: string): string | undefined {
  return isScoped(name) ? `${scopeDefault(name).param}: ${scopeDefault(name).text}` : undefined;
}

/** The comprehensive set every system module receives (unrestricted scopes; never net.fetch). */
export const SYSTEM_CAPABILITIES: readonly CapabilityName[] = capabilityNames().filter((n) => n !== "net.fetch");
