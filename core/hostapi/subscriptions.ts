// What a module hears of: events it subscribed to (checked against events.subscribe and its scope,
// and again at every delivery, so a runtime revoke stops delivery at once), and changes to its own
// settings (config.watch, under config.read). A user module gets its own copy of each payload.
import { CapabilityError, HostError } from "../base/errors.js";
import type { PortOptions } from "./port.js";
import { coversSubscription } from "./scopes.js";
import { BOUND_METHODS } from "./table.js";
import type { GrantSet } from "./grants.js";

type Deliver = (payload: unknown, event: string) => void;

/**
 * What a user module may make the host hold in listeners (events.on and config.watch together, per
 * activation). A sandboxed module's unsubscribe forgets the handler in its isolate only; the host's
 * listener stays until the module is deactivated, so this bounds that too.
 */
export const MAX_SUBSCRIPTIONS_PER_MODULE = 256;

export function moduleSubscriptions(
  o: PortOptions,
  hold: (capability: string, method: string, grants?: GrantSet) => void,
  denied: (err: CapabilityError, method: string) => CapabilityError,
): { subscribe(pattern: unknown, deliver: Deliver): Promise<() => void>; watchConfig(deliver: Deliver): Promise<() => void> } {
  const { kernel, moduleId } = o;
  let held = 0;
  /** Counts a listener against the budget (user modules); the returned function releases it once. */
  const budgeted = (method: string, listen: () => () => void): (() => void) => {
    if (o.kind === "user" && held >= MAX_SUBSCRIPTIONS_PER_MODULE) {
      kernel.ledger.limit(moduleId, "events.subscriptions");
      throw new HostError(
        "quota_exceeded",
        `${method}: module '${moduleId}' already holds ${MAX_SUBSCRIPTIONS_PER_MODULE} event subscriptions and settings watches; subscribe with broader patterns (a sandboxed module's unsubscribe frees its slot only when the module is next activated)`,
        { details: { budget: "events.subscriptions", allowed: MAX_SUBSCRIPTIONS_PER_MODULE } },
      );
    }
    const stop = listen();
    held++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held--;
      stop();
    };
    o.track(release);
    return release;
  };
  const subscribe = async (pattern: unknown, deliver: (payload: unknown, event: string) => void): Promise<() => void> => {
    const grants = o.grants();
    hold(BOUND_METHODS["events.on"], "events.on", grants);
    if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > 200) {
      throw new HostError("input_invalid", "events.on: pattern must be a string of 1-200 characters");
    }
    if (!grants.unrestricted && !coversSubscription(grants.scope("events.subscribe")!, grants.facts, pattern)) {
      throw denied(
        new CapabilityError(
          moduleId,
          "events.subscribe",
          `pattern '${pattern}' reaches beyond its own events and its dependencies'; list it under events.subscribe's "events" (that needs an operator's approval)`,
        ),
        "events.on",
      );
    }
    // Checked again at every delivery: a runtime revoke of events.subscribe stops delivery at once.
    // A user module gets its own copy of each payload (subscribers never share one object).
    return budgeted("events.on", () =>
      kernel.events.subscribe(pattern, (payload, event) => {
        if (!o.grants().has("events.subscribe")) return;
        deliver(o.kind === "user" ? structuredClone(payload) : payload, event);
      }),
    );
  };

  /** This module's own settings changed (any path, any host of a fleet): its config.watch runs again. */
  const watchConfig = async (deliver: (payload: unknown, event: string) => void): Promise<() => void> => {
    hold(BOUND_METHODS["config.watch"], "config.watch");
    const prefix = `${moduleId}.`;
    return budgeted("config.watch", () =>
      kernel.config.onChange((key) => {
        if (key.startsWith(prefix) && o.grants().has("config.read")) deliver({ key }, "config.changed");
      }),
    );
  };
  return { subscribe, watchConfig };
}
