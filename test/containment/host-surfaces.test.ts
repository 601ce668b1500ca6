// Containment of what an anonymous local process, a careless operator or a hostile manifest can do
// to the host's own surfaces: the control socket, config, start-up failures, regular expressions.
import { createServer, connect, type Server } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ServingHost } from "../helpers/api.js";
import { serveInBackground, warden, type Serving } from "../helpers/cli.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

let serving: Serving | undefined;
let s: ServingHost | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await serving?.stop();
  serving = undefined;
  await s?.close();
  s = undefined;
  for (const srv of servers.splice(0)) srv.close();
});

/** Sends raw bytes to a control socket and resolves to what comes back (or "" when it closes). */
function controlRaw(home: string, bytes: string | Buffer, end = true): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(join(home, "control.sock"));
    let out = "";
    c.on("data", (d) => (out += d.toString()));
    c.on("close", () => resolve(out));
    c.on("error", () => resolve(out));
    c.write(bytes);
    if (end) c.end();
  });
}

describe("the control socket", () => {
  it("answers malformed frames (null, arrays, wrong types) with malformed_request and keeps serving", async () => {
    const home = tempDir("warden-ctl-");
    serving = await serveInBackground(["--home", home]);
    for (const frame of ["null\n", "[]\n", '"x"\n', '{"op":"call"}\n', '{"token":5,"op":"status"}\n', '{"token":"x","op":"call","command":7}\n', "{not json\n"]) {
      const r = JSON.parse(await controlRaw(home, frame));
      expect(r.ok, frame).toBe(false);
      expect(r.error.code, frame).toBe("malformed_request");
    }
    const bad = JSON.parse(await controlRaw(home, '{"token":"wrong","op":"status"}\n'));
    expect(bad.error.code).toBe("unauthorized");
    expect(warden(["--home", home, "status", "--json"]).json.mode).toBe("serving");
  }, 60_000);

  it("refuses an oversized frame before authentication, without buffering it whole, and keeps serving", async () => {
    const home = tempDir("warden-ctl-");
    serving = await serveInBackground(["--home", home]);
    // Five half-written 16 MB frames at once (the attack that used to stall the host for seconds).
    const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
    const answers = await Promise.all(Array.from({ length: 5 }, () => controlRaw(home, big, false)));
    for (const a of answers) expect(JSON.parse(a).error.code).toBe("payload_too_large");
    expect(warden(["--home", home, "status", "--json"]).json.mode).toBe("serving");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serving.proc.pid}/status`, "utf8"))?.[1]) / 1024;
    expect(rss).toBeLessThan(400); // MB: five 16 MB frames were never held whole
  }, 60_000);
});

describe("the control socket under idle connections and user mistakes", () => {
  it("answers status with 64 idle and half-written connections open (the oldest waiting make room)", async () => {
    const home = tempDir("warden-ctl-");
    serving = await serveInBackground(["--home", home]);
    const idle = Array.from({ length: 64 }, (_, i) => {
      const c = connect(join(home, "control.sock"));
      c.on("error", () => {});
      if (i % 2) c.write('{"token":"half-writ'); // never ends its line
      return c;
    });
    try {
      const r = warden(["--home", home, "status", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json.mode).toBe("serving");
    } finally {
      for (const c of idle) c.destroy();
    }
  }, 60_000);

  it("logs a user's mistake through it with its code at info, never as a level-50 internal error", async () => {
    const home = tempDir("warden-ctl-");
    serving = await serveInBackground(["--home", home]);
    expect(warden(["--home", home, "modul", "list"]).code).not.toBe(0);
    expect(warden(["--home", home, "config", "set", "sandbox.poolSize", "nope"]).code).not.toBe(0);
    const lines = () =>
      readFileSync(join(home, "logs", "host.log"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string });
    await expect.poll(() => lines().some((l) => l.code === "config_invalid"), { timeout: 20_000, interval: 100 }).toBe(true);
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
    expect(lines().find((l) => l.code === "config_invalid")!.level).toBe(30);
  }, 60_000);
});

describe("configuration and start-up", () => {
  it("refuses a config value that would stop serve, saying why", () => {
    const home = tempDir("warden-cfg-");
    const r = warden(["--home", home, "config", "set", "api.request_timeout_ms", "5000", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("config_invalid");
    expect(r.json.error.message).toMatch(/request_timeout_ms must be >= 10000/);
    expect(warden(["--home", home, "config", "set", "api.request_timeout_ms", "15000"]).code).toBe(0);
  });

  it("says address_in_use (exit 4) when the API port is taken, and logs it", async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    const home = tempDir("warden-port-");
    expect(warden(["--home", home, "config", "set", "api.port", String(port)]).code).toBe(0);
    const r = warden(["--home", home, "serve", "--enable-api", "--json"]);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "address_in_use", message: expect.stringContaining(`127.0.0.1:${port}`) });
    expect(readFileSync(join(home, "logs", "host.log"), "utf8")).toContain("address_in_use");
  }, 60_000);

  it("answers an unexpected failure as internal with an error id that host.log has, with the cause", async () => {
    const home = tempDir("warden-internal-");
    const { Host } = await import("../../core/host.js");
    const h = await testHost({ realLog: true, home, systemDir: tempDir(), userRuntime: "inprocess" });
    try {
      // A host command whose handler fails with something that is not a HostError (a bug).
      h.kernel.bus.declare("config", "boom", { description: "b", input: { type: "object" } }, { checkOutput: false, kind: "host" });
      h.kernel.bus.bind("config", "boom", async () => {
        throw new TypeError("cannot read properties of undefined (reading 'x')");
      });
      const err = (await h.run("config.boom").catch((e: unknown) => e)) as { code: string; message: string; details: { error_id: string } };
      expect(err.code).toBe("internal");
      expect(err.message).toContain("cannot read properties of undefined");
      expect(err.details.error_id).toMatch(/^[0-9a-f]{10}$/);
      const line = readFileSync(join(home, "logs", "host.log"), "utf8")
        .split("\n")
        .find((l) => l.includes(err.details.error_id));
      expect(line).toContain("TypeError");
      expect(line).toContain("stack");
    } finally {
      await h.close();
    }
  });
});

describe("regular expressions from manifests", () => {
  it("a catastrophic pattern in an input schema costs one request microseconds, not seconds", async () => {
    const root = tempDir();
    writeModule(root, {
      id: "redos",
      commands: { check: { description: "c", input: { type: "object", properties: { v: { type: "string", pattern: "^(a+)+$" } }, additionalProperties: false } } },
      code: `export function activate(ctx) { ctx.commands.register("check", async () => "ok"); }`,
    });
    const host = await testHost({ kernelOnly: true, inProcess: true, modulePaths: [root] });
    try {
      const started = performance.now();
      const err = await host.run("redos.check", { v: "a".repeat(27) + "!" }).catch((e: { code: string }) => e);
      const ms = performance.now() - started;
      expect((err as { code: string }).code).toBe("input_invalid");
      // Backtracking took 8-10 s on this input; linear matching takes microseconds. The bound is far
      // from both, so a busy machine cannot make it flaky.
      expect(ms).toBeLessThan(2000);
      await expect(host.run("redos.check", { v: "aaaa" })).resolves.toBe("ok");
    } finally {
      await host.close();
    }
  });

  it("a pattern RE2 cannot run (lookahead) is refused at check time", () => {
    const root = tempDir();
    writeModule(root, { id: "lookahead", commands: { c: { description: "c", input: { type: "object", properties: { v: { type: "string", pattern: "(?=a)a" } } } } } });
    const r = warden(["module", "check", join(root, "lookahead"), "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.stringify(r.json)).toMatch(/not a valid JSON Schema.*Perl syntax/);
  });
});
