// Contained: prototype and odd method names straight at the host port (what a compromised
// prelude could send over the bridge), and odd command names at register. Every one is refused
// with a stable HostError code; none reaches a host object or crashes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { HostError } from "../../core/base/errors.js";
import { GrantSet, toGrants } from "../../core/hostapi/grants.js";
import { createHostPort } from "../../core/hostapi/port.js";
import { attackHost } from "./_host.js";

let host: Host;
beforeAll(async () => {
  ({ host } = await attackHost([]));
}, 60_000);
afterAll(async () => host?.close());

function port(grants: string[]) {
  return createHostPort({
    kernel: host.kernel,
    moduleId: "ghost",
    kind: "user",
    grants: () => new GrantSet(toGrants(grants as never), { moduleId: "ghost", userDependencies: [] }),
    exactContext: false,
    declaredCommands: new Set(["run"]),
    dependencies: ["auth"],
    track: () => {},
  });
}

describe("odd method names through the port", () => {
  it("are refused with HostError codes", async () => {
    const p = port(["commands.register", "commands.invoke", "storage.read", "events.subscribe", "auth.manage", "security.manage", "cache.manage", "log.write"]);
    const names = [
      "toString",
      "constructor",
      "__proto__",
      "valueOf",
      "hasOwnProperty",
      "constructor.name",
      "__proto__.x",
      "commands.constructor",
      "storage.__proto__",
      "storage.toString",
      "auth.__proto__",
      "auth.constructor",
      "auth.toString",
      "security.hasOwnProperty",
      "cacheAdmin.constructor",
      "log.__proto__",
      "log.constructor",
      "events.__proto__",
      ".x",
      "auth.",
      "auth..list",
      "auth.list.x",
      "module.approve",
      "config.set",
    ];
    const results: Record<string, string> = {};
    for (const n of names) {
      results[n] = await p.call(n, [{}]).then(
        () => "OK",
        (e) => (e instanceof HostError ? e.code : `NOT-HOSTERROR ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`),
      );
    }
    const bad = Object.entries(results).filter(([, v]) => v === "OK" || v.startsWith("NOT-HOSTERROR"));
    expect(bad).toEqual([]);
    // The policy point asks the loader for the caller's grants: a port of a module that is not
    // active (a stale or forged one) reaches nothing, even with auth.manage in its own GrantSet.
    expect(
      await p.call("auth.list", [{}]).then(
        () => "OK",
        (e) => e.code,
      ),
    ).toBe("capability_denied");
  });

  it("register refuses names the manifest does not declare, prototype names included", () => {
    const p = port(["commands.register"]);
    for (const n of ["constructor", "__proto__", "toString", "hasOwnProperty", "run.x"]) {
      expect(() => p.register(n)).toThrow(expect.objectContaining({ code: "command_not_declared" }));
    }
  });

  it("a non-string or huge events.on pattern is refused", async () => {
    const p = port(["events.subscribe"]);
    for (const pat of [{ toString: () => "ghost.*" }, ["ghost.*"], "x".repeat(500), "", "*", "ghost", "auth.*"]) {
      const code = await p.call("events.on", [pat]).then(
        () => "OK",
        (e) => e.code,
      );
      expect(code, JSON.stringify(pat)).not.toBe("OK");
    }
  });
});
