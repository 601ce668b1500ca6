// Each hostile fixture (test/fixtures/hostile/<id>) attacks from inside the sandbox; each test
// proves containment and that a well-behaved module still answers afterwards.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

const FIXTURES = join(__dirname, "fixtures/hostile");
let host: Host;

beforeAll(async () => {
  host = await testHost({ home: tempDir("warden-hostile-"), modulePaths: [FIXTURES], logger: silentLogger() });
  await host.run("config.set", { key: "storage.maxBytesPerModule", value: 20_000 });
  await host.run("config.set", { key: "sandbox.breakerFailures", value: 1000 });
}, 60_000);
afterAll(async () => host?.close());

async function outcome(command: string, input: Record<string, unknown> = {}): Promise<{ ok: true; value: any } | { ok: false; code: string; message: string; details?: any }> {
  try {
    return { ok: true, value: await host.run(command, input) };
  } catch (e: any) {
    return { ok: false, code: e.code, message: e.message, details: e.details };
  }
}

async function stillServing() {
  await expect(host.run("good.ping")).resolves.toBe("pong");
}

const fails = (codes: string | string[]) => (r: Awaited<ReturnType<typeof outcome>>) => {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  expect([codes].flat()).toContain((r as { code: string }).code);
};

const cases: Array<[string, (r: Awaited<ReturnType<typeof outcome>>) => void, Record<string, unknown>?]> = [
  ["loop-in-handler", fails("timeout")],
  ["loop-after-await", fails("timeout")],
  ["microtask-flood", fails(["timeout", "memory_limit"])],
  ["never-settles", fails("timeout")],
  ["memory-growth", fails(["memory_limit", "module_crashed"])],
  ["fatal-array", fails(["module_crashed", "memory_limit"])],
  ["deep-recursion", fails("module_error")],
  ["catastrophic-regex", fails("timeout")],
  ["atomics-wait", fails(["timeout", "module_error"])],
  [
    "reach-process",
    (r) => expect(r).toEqual({ ok: true, value: { process: "undefined", require: "undefined", module: "undefined", Buffer: "undefined", fetch: "undefined", setTimeout: "undefined" } }),
  ],
  ["reach-require", fails("module_error")],
  ["dynamic-import", fails("module_error")],
  [
    "global-secrets",
    (r) => {
      expect(r.ok).toBe(true);
      const names = (r as { value: string[] }).value;
      for (const bad of ["__wardenNotify", "__wardenSetup", "__wardenRuntime", "__wardenBridge", "ivm", "process", "require", "_ivm"]) expect(names).not.toContain(bad);
    },
  ],
  [
    "constructor-escape",
    (r) => {
      expect(r.ok).toBe(true);
      expect((r as any).value).toMatchObject({ viaThis: "undefined", process: "undefined", ivm: "undefined" });
      // __wardenModule is the module's own exports object; nothing of the host is there.
      expect((r as any).value.keys.filter((k: string) => /warden|ivm/i.test(k) && k !== "__wardenModule")).toEqual([]);
    },
  ],
  [
    "walk-ctx",
    (r) => {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const { found, results } = (r as any).value;
      expect(found.filter((p: string) => /bridge|notify|reference|ivm|__warden|port|kernel/i.test(p))).toEqual([]);
      expect(results).toEqual(["capability_denied", "capability_denied", "capability_denied", "capability_denied"]);
    },
  ],
  ["ungranted-capability", fails("capability_denied")],
  ["forged-capability", fails("capability_denied")],
  ["return-function", fails("module_error")],
  ["return-symbol", fails("module_error")],
  ["thenable-trap", (r) => (fails("module_error")(r), expect((r as { message: string }).message).toContain("trap"))],
  ["return-bigint", fails("module_error")],
  ["return-cyclic", fails("module_error")],
  ["return-huge-string", fails(["memory_limit", "module_error", "module_crashed"])],
  [
    "throw-non-error",
    (r) => {
      fails("module_error")(r);
      expect((r as any).details?.code).toBe("internal"); // its own code stays under details
    },
    { what: "host-code" },
  ],
  ["throw-getter-loop", fails(["timeout", "module_error"])],
  [
    "proto-pollution",
    (r) => {
      expect(r.ok).toBe(true);
      expect(({} as any).polluted).toBeUndefined();
      expect(({} as any).polluted2).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call((r as any).value, "__proto__")).toBe(true); // an own key, inert
    },
  ],
  ["log-flood", (r) => expect(r).toEqual({ ok: true, value: "flooded" })],
  [
    "quota-exhaustion",
    (r) => {
      fails("quota_exceeded")(r);
      expect((r as any).message).toMatch(/\d+ bytes requested, 20000 allowed/);
    },
  ],
  ["timer-escape", (r) => expect((r as any).value).toMatchObject({ setTimeout: "undefined", setInterval: "undefined" })],
];

describe("hostile modules are contained", () => {
  for (const [id, check, input] of cases) {
    it(id, async () => {
      check(await outcome(`${id}.run`, input ?? {}));
      await stillServing();
    });
  }

  it("loop-in-activate: the module fails with timeout, others keep serving", async () => {
    const r = await outcome("loop-in-activate.run");
    fails("timeout")(r);
    const listed = host.loader.list().find((m) => m.id === "loop-in-activate")!;
    expect(listed.state).toBe("failed");
    expect(listed.error!.code).toBe("timeout");
    await stillServing();
  });

  it("self-trust: a module cannot trust a key, untrust one, block a pack or turn signatures off, even with commands.invoke on them", async () => {
    // Even approved to invoke those commands, it lacks what their effects need (modules.trust, which no manifest can ask for).
    const pending = ((await host.run("module.inspect", { id: "self-trust" })) as { pending_approval: { hash: string } }).pending_approval;
    await host.run("module.approve", { id: "self-trust", hash: pending.hash });
    const r = await outcome("self-trust.run");
    expect(r).toEqual({ ok: true, value: { "trust.add": "capability_denied", "trust.remove": "capability_denied", "module.block": "capability_denied", "config.set": "capability_denied" } });
    expect(((await host.run("trust.export")) as { keys: unknown[]; blocked: unknown[] }).keys).toEqual([]);
    await stillServing();
  });

  it("undeclared-command and steal-command: refused at activation", async () => {
    for (const id of ["undeclared-command", "steal-command"]) {
      fails("command_not_declared")(await outcome(`${id}.run`));
      expect(host.loader.list().find((m) => m.id === id)!.error!.code).toBe("command_not_declared");
    }
    await expect(host.run("good.ping")).resolves.toBe("pong");
  });

  it("static-import: a runtime import of a package or a file outside the folder is a bundle error", async () => {
    fails("bundle_failed")(await outcome("static-import.run"));
    const err = host.loader.list().find((m) => m.id === "static-import")!.error!;
    expect(err.code).toBe("bundle_failed");
    expect(err.message).toContain("node:fs");
    await stillServing();
  });

  it("storage-snoop: crafted keys never reach another module's storage", async () => {
    await host.run("victim.run");
    const r = await outcome("storage-snoop.run");
    expect(r.ok).toBe(true);
    const v = (r as any).value;
    for (const [k, val] of Object.entries(v)) if (k !== "list") expect(val, k).toBeNull();
    expect(v.list).toEqual([]);
    await stillServing();
  });

  it("every call settled: none left hanging", async () => {
    const all = await Promise.allSettled(["loop-in-handler", "never-settles", "good"].map((id) => host.run(id === "good" ? "good.ping" : `${id}.run`)));
    expect(all.map((s) => s.status)).toEqual(["rejected", "rejected", "fulfilled"]);
  });
});
