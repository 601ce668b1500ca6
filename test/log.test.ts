import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, securityLogger, silentLogger } from "../core/log/index.js";
import { tempDir } from "./helpers/modules.js";
import { eventually } from "./helpers/eventually.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      cb();
    },
  });
  return { lines, stream, json: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

const TOKEN = "wdn_" + "Zx9".repeat(17);

describe("logger", () => {
  it("writes JSON lines and redacts secrets by field at any depth, whatever the case", () => {
    const { json, stream } = capture();
    const log = createLogger({ destination: stream });
    log.info(
      {
        headers: { Authorization: "Bearer abc", "x-api-key": "k1", cookie: "c=1" },
        user: { password: "pw", profile: { deeper: { secret: "s", name: "ok" } } },
        token: "t",
      },
      "request",
    );
    const [entry] = json();
    expect(entry!.msg).toBe("request");
    expect(entry!.level).toBe(30);
    expect(typeof entry!.time).toBe("string");
    expect(entry!.headers).toEqual({ Authorization: "[redacted]", "x-api-key": "[redacted]", cookie: "[redacted]" });
    expect(entry!.user).toEqual({ password: "[redacted]", profile: { deeper: { secret: "[redacted]", name: "ok" } } });
    expect(entry!.token).toBe("[redacted]");
  });

  it("scrubs anything shaped like a Warden token from messages, format arguments and string fields", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    log.warn({ note: `got ${TOKEN} from client`, list: [TOKEN] }, `verify failed for ${TOKEN}`);
    log.info("format %s", TOKEN);
    expect(lines.join("\n")).not.toContain(TOKEN);
    expect(lines.join("\n")).toContain("wdn_[redacted]");
  });

  it("keeps Errors readable and scrubs tokens out of their message and stack", () => {
    const { json, lines, stream } = capture();
    const log = createLogger({ destination: stream });
    const err = Object.assign(new Error(`bad token ${TOKEN}`), { code: "E_BAD", password: "pw" });
    log.error(err);
    log.error({ err, nested: { cause: new TypeError("inner") } }, "failed");
    expect(lines.join("\n")).not.toContain(TOKEN);
    const [first, second] = json();
    expect(first!.err).toMatchObject({ type: "Error", message: "bad token wdn_[redacted]", code: "E_BAD", password: "[redacted]" });
    expect(first!.err.stack).toContain("bad token wdn_[redacted]");
    expect(second!.nested.cause).toMatchObject({ type: "TypeError", message: "inner" });
  });

  it("redacts a child's bindings too", () => {
    const { lines, json, stream } = capture();
    const log = createLogger({ destination: stream });
    log
      .child({ token: "abc", module: "hello", note: TOKEN })
      .child({ req: { headers: { authorization: "Bearer z" } } })
      .info("child");
    expect(lines.join("\n")).not.toContain(TOKEN);
    expect(json()[0]).toMatchObject({ token: "[redacted]", module: "hello", note: "wdn_[redacted]", req: { headers: { authorization: "[redacted]" } } });
  });

  it("writes what JSON.stringify would for dates and survives throwing getters", () => {
    const { json, stream } = capture();
    const log = createLogger({ destination: stream });
    const hostile = {
      get boom(): string {
        throw new Error("no");
      },
    };
    log.info({ when: new Date(0), hostile }, "types");
    expect(json()[0]).toMatchObject({ when: "1970-01-01T00:00:00.000Z", hostile: { boom: "[unreadable]" } });
  });

  it("sends security-tagged events to <home>/logs/security.log as well, owner-only", () => {
    const home = tempDir();
    const { lines, stream } = capture();
    const log = createLogger({ home, destination: stream });
    log.info({ security: true, client: "1.2.3.4", authorization: "Bearer q" }, `client blocked ${TOKEN}`);
    securityLogger(log).warn({ capability: "net.fetch" }, "capability denied");
    log.info({ plain: true }, "module active");
    const file = join(home, "logs", "security.log");
    const sec = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(sec.map((l) => l.msg)).toEqual(["client blocked wdn_[redacted]", "capability denied"]);
    expect(sec[0]).toMatchObject({ security: true, client: "1.2.3.4", authorization: "[redacted]" });
    expect(sec[1]).toMatchObject({ security: true, capability: "net.fetch" });
    expect(lines).toHaveLength(3);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "logs")).mode & 0o777).toBe(0o700);
  });

  it("keeps security events in the security log when the console is quieter", () => {
    const home = tempDir();
    const { lines, stream } = capture();
    const log = createLogger({ home, destination: stream, level: "error" });
    log.info({ security: true }, "client blocked");
    log.warn("not for the console");
    expect(lines).toEqual([]);
    expect(readFileSync(join(home, "logs", "security.log"), "utf8")).toContain("client blocked");
  });

  it("writes to a file path with owner-only permissions", () => {
    const home = tempDir();
    const file = join(home, "logs", "host.log");
    const log = createLogger({ destination: file });
    log.info({ password: "pw" }, "to a file");
    const entry = JSON.parse(readFileSync(file, "utf8").trim());
    expect(entry).toMatchObject({ msg: "to a file", password: "[redacted]" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("renders pretty lines only when asked or on a terminal", () => {
    const plain = capture();
    createLogger({ destination: plain.stream }).warn({ a: 1 }, "hello");
    expect(() => JSON.parse(plain.lines[0]!)).not.toThrow();
    const pretty = capture();
    createLogger({ destination: pretty.stream, pretty: true }).warn({ a: 1, token: TOKEN }, `hello ${TOKEN}`);
    expect(pretty.lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN +hello wdn_\[redacted\] \{"a":1,"token":"\[redacted\]"\}$/);
    const tty = capture();
    Object.assign(tty.stream, { isTTY: true });
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      createLogger({ destination: tty.stream }).info("on a terminal");
      process.env.NO_COLOR = "1";
      createLogger({ destination: tty.stream }).info("no colour wanted");
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d .*INFO.* on a terminal$/);
    expect(() => JSON.parse(tty.lines[1]!)).not.toThrow();
  });

  it("has a silent logger for tests", () => {
    const log = silentLogger();
    expect(() => log.error({ token: TOKEN }, "nothing")).not.toThrow();
    expect(log.level).toBe("silent");
  });
});

describe("log files", () => {
  it("rotate by size and keep the newest lines: nothing is lost but what passed `keep`", async () => {
    const { RotatingFile } = await import("../core/log/rotating.js");
    const dir = tempDir();
    const file = join(dir, "x.log");
    const f = new RotatingFile(file, { maxBytes: 1000, keep: 3 });
    for (let i = 0; i < 100; i++) f.write(`line ${String(i).padStart(3, "0")} ${"y".repeat(80)}\n`);
    expect(f.dropped).toBe(0);
    const read = (name: string) =>
      readFileSync(join(dir, name), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(l.slice(5, 8)));
    const kept = [...read("x.log.3"), ...read("x.log.2"), ...read("x.log.1"), ...read("x.log")];
    // The newest lines, in order and contiguous, up to the last one written.
    expect(kept.at(-1)).toBe(99);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i));
    expect(kept.length).toBeGreaterThan(30);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("write access lines in batches, in order with the lines around them, and all of them at exit", async () => {
    const { RotatingFile } = await import("../core/log/rotating.js");
    const dir = tempDir();
    const file = join(dir, "x.log");
    const f = new RotatingFile(file, undefined, { defer: (l) => l.includes('"access":true') });
    f.write('{"access":true,"n":1}\n');
    f.write('{"access":true,"n":2}\n');
    expect(readFileSync(file, "utf8")).toBe(""); // waiting for the batch
    f.write('{"msg":"error","n":3}\n'); // any other line writes the waiting ones first
    expect(
      readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).n),
    ).toEqual([1, 2, 3]);
    f.write('{"access":true,"n":4}\n');
    await eventually(() => readFileSync(file, "utf8").includes('"n":4'), "the line reached the file");
  });
});

describe("access lines", () => {
  it("are JSON with the token's id, never a token, and scrub credentials from the URL", async () => {
    const { accessLogFor } = await import("../core/log/index.js");
    const dir = tempDir();
    const file = join(dir, "host.log");
    const log = createLogger({ destination: file });
    const access = accessLogFor(log)!;
    access({ request_id: 'r"1', method: "GET", route: "/api/v1/:module/:command", url: `/api/v1/x/y?t=${TOKEN}&n=1`, status: 200, ms: 1.5, client: "127.0.0.1", token_id: "abc" });
    log.error("flush"); // any other line writes the waiting access lines first
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(TOKEN);
    const line = JSON.parse(text.split("\n")[0]!);
    expect(line).toMatchObject({ level: 30, access: true, request_id: 'r"1', status: 200, token_id: "abc", msg: "request" });
    expect(line.url).toContain("wdn_[redacted]");
  });

  it("hide credential-named query values of a bare request target, on both the access path and the generic one", async () => {
    const { accessLogFor } = await import("../core/log/index.js");
    const file = join(tempDir(), "host.log");
    const log = createLogger({ destination: file });
    const url = "/console/login?code=one-time-secret&x=1";
    accessLogFor(log)!({ request_id: "r", method: "GET", route: "/console/login", url, status: 303, ms: 1, client: "127.0.0.1", token_id: undefined });
    log.info({ access: true, url }, "request"); // the path a host without an access log takes
    log.error("flush"); // any other line writes the waiting access lines first
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("one-time-secret");
    const lines = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.url !== undefined).map((l) => l.url)).toEqual(["/console/login?code=***&x=1", "/console/login?code=***&x=1"]);
  });
});
