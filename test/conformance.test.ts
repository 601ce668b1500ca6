// The context conformance suite: one module, run in-process and in the sandbox, must see the same
// context: the same namespaces and methods, the same errors with the same codes and messages, the
// same sync/async behaviour (plain methods return promises that reject; commands.register throws;
// log calls never throw). createTestHost({ inProcess: true }) therefore tests production semantics.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

const FIXTURE = join(__dirname, "fixtures/conformance");
const hosts: Host[] = [];
afterAll(async () => {
  for (const h of hosts) await h.close();
});

async function transcript(runtime: "inprocess" | "sandbox"): Promise<Record<string, any>> {
  const h = await testHost({ home: tempDir(), modulePaths: [FIXTURE], logger: silentLogger(), ...(runtime === "inprocess" ? { userRuntime: "inprocess" as const } : {}) });
  hosts.push(h);
  return (await h.run("conform.run")) as Record<string, any>;
}

describe("context conformance", () => {
  it("behaves identically in-process and sandboxed", async () => {
    const [inProcess, sandboxed] = await Promise.all([transcript("inprocess"), transcript("sandbox")]);
    expect(sandboxed).toEqual(inProcess);
  }, 60_000);

  it("offers exactly the host-API table's methods (plus the bound ones and services)", async () => {
    const t = await transcript("sandbox");
    const h = hosts[hosts.length - 1]!;
    const { BOUND_METHODS, contextShape } = await import("../core/hostapi/table.js");
    // The table's methods, and the providers' command namespaces (ctx.security.lockdown, ...).
    const shape = contextShape(h.kernel.providers.namespaces(), h.kernel.bus.list());
    const fromShape = Object.entries(shape).flatMap(([ns, methods]) => Object.keys(methods).map((m) => `${ns}.${m}`));
    const expected = [...fromShape, ...Object.keys(BOUND_METHODS), "services.host", "services.provide", "services.use"].sort();
    expect(t.methods).toEqual(expected);
    expect(t.methods).toEqual(expect.arrayContaining(["security.lockdown", "auth.grant", "cacheAdmin.purge", "storage.get", "secrets.get"]));
  }, 60_000);

  it("has the documented semantics", async () => {
    const t = await transcript("sandbox");
    expect(t.namespaces).toEqual(expect.arrayContaining(["audit", "cache", "commands", "config", "events", "log", "module", "modules", "net", "secrets", "services", "storage"]));
    expect(t.storageMethods).toEqual(["delete", "get", "list", "set"]);
    expect(t.commandsMethods).toEqual(["catalogue", "dispatch", "invoke", "register"]);
    expect(t.frozen).toBe(true);
    for (const k of ["ungrantedWrite", "ungrantedSecret", "ungrantedInvoke", "ungrantedSubscribe", "otherConfig", "otherEvent"]) {
      expect(t[k], k).toMatchObject({ sync: "promise", settled: "rejected", code: "capability_denied", name: "CapabilityError", isError: true });
    }
    expect(t.ungrantedWrite.message).toContain("may not use capability 'storage.write'");
    expect(t.ungrantedLog).toEqual({ sync: "value", value: "undefined" });
    for (const k of ["badKey", "tooManyArgs", "badEvent", "unserialisable"]) expect(t[k], k).toMatchObject({ sync: "promise", settled: "rejected", code: "input_invalid" });
    expect(t.missingKey).toEqual({ sync: "promise", settled: "resolved", value: "undefined" });
    expect(t.ownConfig).toEqual({ sync: "promise", settled: "resolved", value: "hi" });
    expect(t.ownEvent).toEqual({ sync: "promise", settled: "resolved", value: "undefined" });
    expect(t.registerUndeclared).toMatchObject({ sync: "throw", code: "command_not_declared" });
    expect(t.registerNonFunction).toMatchObject({ sync: "throw", code: "input_invalid" });
    expect(t.servicesUse).toMatchObject({ sync: "throw", code: "capability_denied" });
  }, 60_000);
});
