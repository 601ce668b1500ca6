// The console's routes in-process with fake services: an unexpected failure behind a login is
// answered `internal error <id>; the host logged the cause under this id`, so it must be logged; a
// busy argon2 queue is not a failed authentication.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildServer, type ApiDeps } from "../../modules/api/server.js";
import { Traffic } from "../../modules/api/traffic.js";
import { sessionCookieName } from "../../modules/api/console-routes.js";

const refuse = async (): Promise<never> => Promise.reject(new Error("not in this test"));
const noCliSignIn = { start: refuse, token: refuse, refresh: refuse, logout: refuse };
const noOidc = { enabled: () => false, start: refuse, finish: refuse };

function server(logs: Array<{ msg: string; data?: Record<string, unknown> }>, over: Partial<ApiDeps> = {}) {
  const boom = () => Promise.reject(new Error("SQLITE_BUSY: database is locked at /home/op/.warden/store.db"));
  const deps: ApiDeps = {
    settings: () => ({
      enabled: true,
      host: "127.0.0.1",
      port: 0,
      body_limit: 1 << 20,
      cors_origins: [],
      tls_cert: "",
      tls_key: "",
      header_timeout_ms: 10_000,
      request_timeout_ms: 30_000,
      keep_alive_timeout_ms: 5000,
      max_json_depth: 64,
      console: true,
      newcomer: false,
      newcomer_modules: [],
      require_tls: false,
    }),
    security: { check: (ip) => ({ allow: true, client: ip }), recordFailure: (ip) => ({ allow: true, client: ip }), clientAddress: (peer) => peer },
    auth: { verify: async () => ({ tokenId: "t1", name: "t", scopes: ["console.login"], bootstrap: false }), noteUse: async () => {}, cli: noCliSignIn },
    dispatch: async () => null,
    catalogue: async () => [],
    version: "0",
    ready: async () => undefined,
    log: (_level, msg, data) => void logs.push({ msg, data }),
    consoleDir: join(__dirname, "../../modules/api/console"),
    console: { login: boom, loginWithToken: boom, verify: boom, logout: boom, oidc: noOidc },
    traffic: new Traffic(),
    ...over,
  };
  return buildServer(deps).app;
}

describe("console routes: unexpected failures", () => {
  it("POST /console/login: an internal error's id is in host.log, as the response promises", async () => {
    const logs: Array<{ msg: string; data?: Record<string, unknown> }> = [];
    const app = server(logs);
    const r = await app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/json" }, payload: { token: "wdn_x" } });
    const body = r.json() as { error: { code: string; details: { error_id: string } } };
    expect(body.error.code).toBe("internal");
    expect(
      logs.some((l) => JSON.stringify(l).includes(body.error.details.error_id)),
      `logged: ${JSON.stringify(logs)}`,
    ).toBe(true);
  });

  it("GET /console/login: an internal error is logged, not only turned into ?error=internal", async () => {
    const logs: Array<{ msg: string; data?: Record<string, unknown> }> = [];
    const app = server(logs);
    const r = await app.inject({ method: "GET", url: `/console/login?code=${"A".repeat(43)}` });
    expect(r.headers.location).toBe("/console/?error=internal");
    expect(
      logs.some((l) => JSON.stringify(l).includes("SQLITE_BUSY")),
      `logged: ${JSON.stringify(logs)}`,
    ).toBe(true);
  });

  it("POST /console/login: argon2 busy (rate_limited) is not counted as a failed authentication (as on /api/v1)", async () => {
    const failures: string[] = [];
    const app = server([], {
      auth: { verify: async () => Promise.reject(Object.assign(new Error("busy"), { code: "rate_limited" })), noteUse: async () => {}, cli: noCliSignIn },
      security: { check: (ip) => ({ allow: true, client: ip }), recordFailure: (ip) => (failures.push(ip), { allow: true, client: ip }), clientAddress: (peer) => peer },
    });
    const r = await app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/json" }, payload: { token: "wdn_x" } });
    expect(r.statusCode).toBe(429);
    expect(failures).toEqual([]);
  });
});

describe("the session cookie", () => {
  it("is a __Host- cookie over TLS (no other origin, no other port, may set it) and a plain one over HTTP", () => {
    expect(sessionCookieName(true)).toBe("__Host-warden_session");
    expect(sessionCookieName(false)).toBe("warden_session");
  });

  it("is read only when exactly one is sent (a second, planted one, yields none)", async () => {
    const catalogue = async () => [
      { command: "console.whoami", module: "console", kind: "system" as const, name: "whoami", description: "w", input: { type: "object" }, args: [], permission: "console.login", readOnly: true },
    ];
    const app = server([], {
      catalogue,
      dispatch: async () => ({ kind: "session" }),
      console: {
        login: async () => ({}) as never,
        loginWithToken: async () => ({}) as never,
        verify: async () => ({ id: "0123456789abcdef", scopes: ["*"] }) as never,
        logout: async () => {},
        oidc: noOidc,
      },
    });
    const who = (cookie: string) => app.inject({ method: "POST", url: "/api/v1/console/whoami", headers: { "content-type": "application/json", "x-warden-console": "1", cookie }, payload: {} });
    const one = await who(`warden_session=0123456789abcdef.${"A".repeat(43)}`);
    expect(one.statusCode).toBe(200);
    const two = await who(`warden_session=0123456789abcdef.${"A".repeat(43)}; warden_session=fedcba9876543210.${"B".repeat(43)}`);
    expect(two.statusCode).toBe(401);
  });
});
