import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { raw, serveHost, EXAMPLES, type ServingHost } from "./helpers/api.js";
import { BIN, warden } from "./helpers/cli.js";
import { tempDir } from "./helpers/modules.js";
import { eventually } from "./helpers/eventually.js";

const json = { "Content-Type": "application/json" };
let s: ServingHost | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const greet = (token: string, from?: string, extra: Record<string, string> = {}) =>
  raw(s!.base, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, Authorization: `Bearer ${token}`, ...extra }, body: '{"name":"x"}', ...(from ? { from } : {}) });

describe("REST rate limiting end to end", () => {
  it("answers 429 with Retry-After after rate_limit, and ignores X-Forwarded-For from an untrusted peer", async () => {
    s = await serveHost({ "security.rate_limit": 5, "security.block_duration": 120 });
    const { token } = await s.grant("t", ["hello.*"]);
    for (let i = 0; i < 5; i++) expect((await greet(token, "127.0.0.2")).status).toBe(200);
    const limited = await greet(token, "127.0.0.2");
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(limited.headers["retry-after"]).toBe("120");
    const spoofed = await greet(token, "127.0.0.2", { "X-Forwarded-For": "203.0.113.9" });
    expect(spoofed.status).toBe(429);
    expect(spoofed.json.error.code).toBe("blocked");
    expect((await greet(token, "127.0.0.3")).status).toBe(200); // another client is unaffected
  });

  it("believes X-Forwarded-For from a trusted proxy", async () => {
    s = await serveHost({ "security.rate_limit": 2, "security.trusted_proxies": ["127.0.0.4"] });
    const { token } = await s.grant("t", ["hello.*"]);
    for (let i = 0; i < 2; i++) expect((await greet(token, "127.0.0.4", { "X-Forwarded-For": "198.51.100.1" })).status).toBe(200);
    expect((await greet(token, "127.0.0.4", { "X-Forwarded-For": "198.51.100.1" })).status).toBe(429);
    expect((await greet(token, "127.0.0.4", { "X-Forwarded-For": "198.51.100.2" })).status).toBe(200);
  });

  it("locks everyone down with 503 when the global limit is crossed, and lifts it on time", async () => {
    s = await serveHost({ "security.rate_limit": 1000, "security.global_limit": 6, "security.ddos_lockdown": 1 });
    const { token } = await s.grant("t", ["hello.*"]);
    for (let i = 0; i < 6; i++) expect((await greet(token, `127.0.0.${10 + i}`)).status).toBe(200);
    const locked = await greet(token, "127.0.0.30");
    expect(locked.status).toBe(503);
    expect(locked.json.error.code).toBe("locked_down");
    expect(locked.headers["retry-after"]).toBe("1");
    expect((await greet(token, "127.0.0.31")).status).toBe(503);
    // The lockdown (ddos_lockdown: 1 s) ends on its own: each probe from a client of its own.
    let probe = 40;
    await eventually(async () => (await greet(token, `127.0.0.${probe++}`)).status === 200, "the lockdown ended");
  });

  it("blocks a client after failed_limit bad tokens, even when it then sends a valid one", async () => {
    s = await serveHost({ "security.failed_limit": 3, "security.failed_block": 60 });
    const { token } = await s.grant("t", ["hello.*"]);
    const auth = s.host.kernel.services.get("auth") as { argonRuns(): number };
    for (let i = 0; i < 2; i++) expect((await greet("wdn_" + "x".repeat(50), "127.0.0.40")).status).toBe(401);
    const third = await greet("wdn_" + "x".repeat(50), "127.0.0.40");
    expect(third.status).toBe(429);
    expect(third.json.error.code).toBe("blocked");
    const runs = auth.argonRuns();
    const withGood = await greet(token, "127.0.0.40");
    expect(withGood.status).toBe(429);
    expect(auth.argonRuns()).toBe(runs);
  });
});

describe("the CLI reaches a serving host through its control socket", () => {
  let server: ChildProcess | undefined;
  afterEach(() => {
    server?.kill("SIGKILL");
    server = undefined;
  });

  it("a lockdown issued from the CLI is seen by the next HTTP request, and SIGTERM stops the host cleanly", async () => {
    const home = tempDir("warden-serve-");
    const common = ["--home", home, "--modules", EXAMPLES];
    expect(warden([...common, "config", "set", "api.enabled", "true"]).code).toBe(0);
    expect(warden([...common, "config", "set", "api.port", "0"]).code).toBe(0);
    const token = warden([...common, "auth", "grant", "--name", "t", "--scopes", "hello.*", "--json"]).json.token;
    expect(warden([...common, "status", "--json"]).json.mode).toBe("in-process");

    server = spawn(process.execPath, [BIN, ...common, "serve"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const url = await new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
      server!.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /REST API on (http:\/\/[0-9.:]+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(new URL(m[1]!));
        }
      });
    });
    s = undefined;
    const call = () => raw(url, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, Authorization: `Bearer ${token}` }, body: '{"name":"x"}' });
    expect((await call()).status).toBe(200);
    expect(warden([...common, "status", "--json"]).json).toMatchObject({ mode: "serving", pid: server.pid });
    // Without --modules the CLI still knows the serving host's commands.
    expect(warden(["--home", home, "hello", "greet", "via-socket", "--json"]).json).toEqual({ message: "hello via-socket" });
    const lock = warden([...common, "security", "lockdown", "60", "--json"]);
    expect(lock.code, lock.stderr).toBe(0);
    const refused = await call();
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe("locked_down");
    expect(warden([...common, "security", "unlock"]).code).toBe(0);
    expect((await call()).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => server!.on("exit", (code) => resolve(code)));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(warden([...common, "status", "--json"]).json.mode).toBe("in-process");
  }, 60_000);
});

describe("REST connection hardening", () => {
  it("closes a slowloris connection that trickles its headers, and keeps serving", async () => {
    s = await serveHost({ "api.header_timeout_ms": 300 });
    const { token } = await s.grant("t", ["hello.*"]);
    const { connect } = await import("node:net");
    const socket = connect(Number(s.base.port), s.base.hostname);
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started)));
    socket.on("error", () => {});
    socket.write("POST /api/v1/hello/greet HTTP/1.1\r\nHost: x\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 100);
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    clearInterval(trickle);
    socket.destroy();
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThan(5000);
    expect((await greet(token)).status).toBe(200);
  });
});

describe("REST over TLS", () => {
  it("serves HTTPS with HSTS when api.tls_cert and api.tls_key are set", async () => {
    const tls = join(__dirname, "fixtures/tls");
    s = await serveHost({ "api.tls_cert": join(tls, "cert.pem"), "api.tls_key": join(tls, "key.pem") });
    const address = (s.host.kernel.services.get("surface:api") as { address(): string }).address()!;
    const { request } = await import("node:https");
    const { readFileSync } = await import("node:fs");
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(`https://127.0.0.1:${new URL(address).port}/api/v1/health`, { ca: readFileSync(join(tls, "cert.pem")) }, (r) => {
        let body = "";
        r.on("data", (c) => (body += c));
        r.on("end", () => resolve({ status: r.statusCode!, headers: r.headers, body }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(res.status).toBe(200);
    expect(res.headers["strict-transport-security"]).toMatch(/max-age=\d+/);
    expect(JSON.parse(res.body)).toEqual({ status: "ok" });
  });

  it("over TLS, the console's session cookie is a Secure __Host- cookie", async () => {
    const tls = join(__dirname, "fixtures/tls");
    s = await serveHost({ "api.tls_cert": join(tls, "cert.pem"), "api.tls_key": join(tls, "key.pem"), "api.console": true });
    const { url } = (await s.host.run("console.open")) as { url: string };
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/console\/login\?code=/);
    const { request } = await import("node:https");
    const { readFileSync } = await import("node:fs");
    const ca = readFileSync(join(tls, "cert.pem"));
    const send = (path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = request(new URL(path, url), { ca, method: o.method ?? "GET", headers: o.headers ?? {} }, (r) => {
          r.resume();
          r.on("end", () => resolve({ status: r.statusCode!, headers: r.headers }));
        });
        req.on("error", reject);
        req.end(o.body);
      });
    const login = await send(url);
    expect(login.status).toBe(303);
    const cookie = String((login.headers["set-cookie"] as string[])[0]);
    expect(cookie).toMatch(/^__Host-warden_session=[a-f0-9]{16}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const value = cookie.split(";")[0]!;
    const who = await send("/api/v1/console/whoami", { method: "POST", headers: { cookie: value, "x-warden-console": "1", "content-type": "application/json" }, body: "{}" });
    expect(who.status).toBe(200);
    // The plain name, as a page on another port could plant over HTTP, is not read over TLS.
    const plain = await send("/api/v1/console/whoami", { method: "POST", headers: { cookie: value.replace("__Host-", ""), "x-warden-console": "1", "content-type": "application/json" }, body: "{}" });
    expect(plain.status).toBe(401);
  });

  it("sends no HSTS over plain HTTP", async () => {
    s = await serveHost();
    const r = await raw(s.base, { path: "/api/v1/health" });
    expect(r.headers["strict-transport-security"]).toBeUndefined();
  });
});
