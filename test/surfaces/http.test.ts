// HTTP as real clients expect it: 405 with Allow, WWW-Authenticate, RateLimit headers on limited
// answers, CORS exposing them, nothing enumerable without a token, request ids in and out, an
// access-log line per request, health and an index; and metrics that promtool accepts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LogSink } from "../../core/kernel.js";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";
import { tempDir } from "../helpers/modules.js";
import { ensureTool } from "../helpers/tools.js";

let s: ServingHost | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** A logger that keeps every line's object. */
function capture(): LogSink & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const put = (o: object, msg?: string) => void lines.push({ ...(o as Record<string, unknown>), msg });
  return { lines, debug: put, info: put, warn: put, error: put };
}

const json = { "content-type": "application/json" };

describe("HTTP behaviour", () => {
  it("answers a wrong method with 405 and Allow, and a bad token with 401 and WWW-Authenticate", async () => {
    s = await serveHost();
    const { token } = await s.grant("t", ["*"]);
    const put = await raw(s.base, { method: "PUT", path: "/api/v1/hello/greet", headers: { ...json, authorization: `Bearer ${token}` }, body: "{}" });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, POST");
    const getState = await raw(s.base, { path: "/api/v1/notes/add", headers: { authorization: `Bearer ${token}` } });
    expect(getState.status).toBe(405);
    expect(getState.headers.allow).toBe("POST");
    const none = await raw(s.base, { method: "POST", path: "/api/v1/hello/greet", headers: json, body: "{}" });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer realm="warden"/);
  });

  it("says nothing about what is installed without a token: a known and an unknown command both answer 401", async () => {
    s = await serveHost();
    const known = await raw(s.base, { method: "POST", path: "/api/v1/hello/greet", headers: json, body: "{}" });
    const unknown = await raw(s.base, { method: "POST", path: "/api/v1/nothere/atall", headers: json, body: "{}" });
    expect([known.status, unknown.status]).toEqual([401, 401]);
    expect(known.json.error.code).toBe(unknown.json.error.code);
  });

  it("sends RateLimit headers on 429, and CORS exposes them (and the request id) to an allowed origin", async () => {
    s = await serveHost({ "security.rate_limit": 2, "api.cors_origins": ["https://console.example"] });
    const { token } = await s.grant("t", ["hello.*"]);
    const call = () => raw(s!.base, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, authorization: `Bearer ${token}`, origin: "https://console.example" }, body: '{"name":"x"}' });
    const ok = await call();
    expect(ok.status).toBe(200);
    expect(ok.headers["access-control-expose-headers"]).toMatch(/RateLimit.*Retry-After.*X-Request-Id/);
    expect(ok.headers.ratelimit).toMatch(/^limit=2, remaining=1, reset=\d+$/);
    await call();
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toMatch(/^\d+$/);
    expect(limited.headers.ratelimit).toMatch(/^limit=2, remaining=0, reset=\d+$/);
    expect(limited.headers["ratelimit-policy"]).toBe("2;w=60");
  });

  it("keeps a client's X-Request-Id (or makes one), and logs one access line per request with it", async () => {
    const log = capture();
    s = await serveHost({}, tempDir(), log);
    const { token } = await s.grant("t", ["hello.*"]);
    const mine = await raw(s.base, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, authorization: `Bearer ${token}`, "x-request-id": "trace-42" }, body: '{"name":"x"}' });
    expect(mine.headers["x-request-id"]).toBe("trace-42");
    const made = await raw(s.base, { path: "/api/v1/health/live" });
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await raw(s.base, { path: "/api/v1/health/live", headers: { "x-request-id": "has spaces and \u00e9" } });
    expect(bad.headers["x-request-id"]).not.toContain(" ");
    // Answers the router gives before any route (a bad escape, no such path) are logged too.
    await raw(s.base, { path: "/api/v1/hello/%E0%A4%A", headers: { "x-request-id": "trace-bad-escape" } });
    await raw(s.base, { path: "/nowhere", headers: { "x-request-id": "trace-404" } });
    const access = log.lines.filter((l) => (l.data as { access?: boolean } | undefined)?.access).map((l) => l.data as Record<string, unknown>);
    expect(access.find((a) => a.request_id === "trace-42")).toMatchObject({ method: "POST", route: "/api/v1/:module/:command", status: 200 });
    expect(access.find((a) => a.request_id === "trace-bad-escape")).toMatchObject({ status: 400 });
    expect(access.find((a) => a.request_id === "trace-404")).toMatchObject({ status: 404 });
    expect(access.length).toBeGreaterThanOrEqual(5);
  });

  it("serves an index, liveness and readiness without a token", async () => {
    s = await serveHost();
    expect((await raw(s.base, { path: "/api/v1/" })).json).toMatchObject({ openapi: "/api/v1/openapi.json", health: { live: "/api/v1/health/live" } });
    expect((await raw(s.base, { path: "/api/v1/health/live" })).json).toEqual({ status: "ok" });
    expect((await raw(s.base, { path: "/api/v1/health/ready" })).json).toEqual({ status: "ready" });
  });

  it("serves metrics that promtool check metrics accepts with no findings", async () => {
    s = await serveHost();
    const { token } = await s.grant("m", ["metrics.read", "hello.*"]);
    await raw(s.base, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, authorization: `Bearer ${token}` }, body: '{"name":"x"}' });
    await raw(s.base, { method: "POST", path: "/api/v1/hello/greet", headers: { ...json, authorization: `Bearer ${token}` }, body: '{"name":5}' });
    const m = await raw(s.base, { path: "/api/v1/metrics", headers: { authorization: `Bearer ${token}` } });
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/^http_request_duration_seconds_bucket\{method="POST",route="\/api\/v1\/:module\/:command",status="200",le="0.001"\} \d+$/m);
    expect(m.text).toMatch(/^warden_module_call_duration_seconds_count\{module="hello"\} 2$/m);
    expect(m.text).not.toMatch(/_ms\b|quantile/);
    const promtool = ensureTool("promtool", "prometheus");
    if (!promtool) return;
    const file = join(mkdtempSync(join(tmpdir(), "warden-metrics-")), "metrics.txt");
    writeFileSync(file, m.text);
    const r = spawnSync("sh", ["-c", `"${promtool}" check metrics < "${file}"`], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
});
