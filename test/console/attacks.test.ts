// Attacks on the console against a live `warden serve`, without a browser, from a review by someone
// who had not written it (F1-F9 are its findings). Each asserts the secure behaviour.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw } from "../helpers/api.js";
import { warden, type Serving } from "../helpers/cli.js";
import { EXAMPLES, serveConsoleHost } from "../helpers/console-host.js";

let serving: Serving;
let home: string;
let base: string;

const cli = (...args: string[]) => warden(["--home", home, "--modules", EXAMPLES, "--json", ...args]);
const grant = (name: string, scopes: string) => {
  const r = cli("auth", "grant", "--name", name, "--scopes", scopes);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.json.token as string;
};
/** POST /console/login with a token, as the console's login form does: the session cookie. */
// Each request on a connection of its own (raw): a pooled keep-alive socket the server is closing
// (api.keep_alive_timeout_ms) answers "other side closed" to whichever request it is handed next.
const cookieOf = (h: string | string[] | undefined) => /warden_session=([^;]+)/.exec([h ?? ""].flat().join(";"))?.[1];
async function tokenLogin(token: string): Promise<string> {
  const res = await raw(new URL(base), {
    method: "POST",
    path: "/console/login",
    headers: { "content-type": "application/json", origin: base, "sec-fetch-site": "same-origin" },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const cookie = cookieOf(res.headers["set-cookie"]);
  if (!cookie) throw new Error(`no session cookie: ${res.text}`);
  return cookie;
}
async function codeLogin(url: string, headers: Record<string, string> = {}): Promise<{ status: number; cookie?: string; location: string | null }> {
  const u = new URL(url);
  const res = await raw(u, { path: u.pathname + u.search, headers });
  const location = res.headers.location;
  return { status: res.status, cookie: cookieOf(res.headers["set-cookie"]), location: typeof location === "string" ? location : null };
}
/** A command called as the console does: the session cookie and X-Warden-Console. */
async function asSession(cookie: string, command: string, input: unknown = {}): Promise<{ status: number; body: any }> {
  const [m, c] = command.split(".");
  const res = await raw(new URL(base), {
    method: "POST",
    path: `/api/v1/${m}/${c}`,
    headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", "content-type": "application/json" },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: res.json };
}

beforeAll(async () => {
  ({ home, serving, base } = await serveConsoleHost("warden-attack-", { "security.rate_limit": "100000" }));
}, 120_000);

afterAll(async () => {
  cli("security", "unlock");
  await serving?.stop();
});

describe("F1: lockdown bypass by any console session", () => {
  it("a session from a low-privilege token (hello.*, console.login) is still refused during a lockdown", async () => {
    const cookie = await tokenLogin(grant("low-lockdown", "hello.*,console.login"));
    expect(cli("security", "lockdown", "120").code).toBe(0);
    try {
      const r = await asSession(cookie, "hello.greet", { name: "during lockdown" });
      // This session cannot lift the lockdown (no security.manage): it has no business passing it.
      expect(r.status, JSON.stringify(r.body)).toBe(503);
    } finally {
      cli("security", "unlock");
    }
  });

  it("any session cookie does not carry an unrelated Bearer token through a lockdown", async () => {
    // Session from a token that may do nothing but log in; the request runs as another token.
    const cookie = await tokenLogin(grant("door", "console.login"));
    const other = grant("rider", "hello.*");
    expect(cli("security", "lockdown", "120").code).toBe(0);
    try {
      const res = await raw(new URL(base), {
        method: "POST",
        path: "/api/v1/hello/greet",
        headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", authorization: `Bearer ${other}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "bearer through lockdown" }),
      });
      expect(res.status, res.text).toBe(503);
    } finally {
      cli("security", "unlock");
    }
  });

  it("a blocked client holding a session stays blocked during a lockdown (the code comment promises blocks still apply)", async () => {
    const cookie = await tokenLogin(grant("low-block", "hello.*,console.login"));
    expect(cli("security", "block", "127.0.0.1", "--seconds", "120").code).toBe(0);
    expect(cli("security", "lockdown", "120").code).toBe(0);
    try {
      const r = await asSession(cookie, "hello.greet", { name: "blocked but through" });
      expect(r.status, JSON.stringify(r.body)).not.toBe(200);
    } finally {
      cli("security", "unlock");
      cli("security", "unblock", "127.0.0.1");
    }
  });

  it("forged session cookies sent during a lockdown count as failed authentications", async () => {
    expect(cli("config", "set", "security.failed_limit", "3").code).toBe(0);
    const forge = (i: number) =>
      raw(new URL(base), {
        method: "POST",
        path: "/api/v1/hello/greet",
        headers: { cookie: `warden_session=${i.toString(16).padStart(16, "0")}.${"A".repeat(43)}`, "x-warden-console": "1", "content-type": "application/json" },
        body: "{}",
      });
    // Control: outside a lockdown, forged cookies are counted.
    await forge(1);
    await forge(2);
    const counted = (cli("security", "status").json.windows?.failed_auth ?? []) as Array<{ client: string; count: number }>;
    expect(counted.some((f) => f.count === 2)).toBe(true);
    cli("security", "purge", "--yes");
    expect(cli("security", "lockdown", "120").code).toBe(0);
    try {
      // Each one is a storage read (session:<id>) that nothing counts or limits.
      for (let i = 0; i < 20; i++) await forge(i);
      const status = cli("security", "status").json;
      const failed = (status.windows?.failed_auth ?? []) as Array<{ client: string; count: number }>;
      const blocked = (status.blocked ?? []).map((b: { client: string }) => b.client);
      expect(failed.some((f) => f.count >= 3) || blocked.includes("127.0.0.1")).toBe(true);
    } finally {
      cli("security", "unlock");
      cli("security", "purge", "--yes");
      cli("config", "set", "security.failed_limit", "10");
    }
  });
});

describe("F2: sessions outlive the token that opened them", () => {
  it("revoking the token ends the sessions it opened", async () => {
    const token = grant("revoked-later", "hello.*,console.login");
    const cookie = await tokenLogin(token);
    expect((await asSession(cookie, "hello.greet", { name: "before" })).status).toBe(200);
    expect(cli("auth", "revoke", "--yes", "revoked-later").code).toBe(0);
    const r = await asSession(cookie, "hello.greet", { name: "after revoke" });
    expect(r.status, JSON.stringify(r.body)).toBe(401);
  });

  it("`auth reset` (revoke every token) ends token-opened sessions", async () => {
    const cookie = await tokenLogin(grant("reset-later", "hello.*,console.login"));
    const reset = cli("auth", "reset", "--yes");
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    const r = await asSession(cookie, "hello.greet", { name: "after reset" });
    expect(r.status, JSON.stringify(r.body)).toBe(401);
  });

  it("a login URL minted by a token stops working once that token is revoked", async () => {
    const minter = grant("minter-revoked", "console.manage");
    const made = await raw(new URL(base), { method: "POST", path: "/api/v1/console/open", headers: { authorization: `Bearer ${minter}`, "content-type": "application/json" }, body: "{}" });
    const url = (made.json as { url: string }).url;
    expect(cli("auth", "revoke", "--yes", "minter-revoked").code).toBe(0);
    const r = await codeLogin(url);
    expect(r.cookie).toBeUndefined();
  });
});

describe("F3: login CSRF through GET /console/login", () => {
  it("a cross-site (or same-site other-port) navigation cannot spend a login code and plant a session", async () => {
    // The attacker holds console.manage (or any code); the victim's browser is sent to the URL by a
    // page elsewhere. Sec-Fetch-Site tells the host it was not typed or pasted by the operator.
    const minter = grant("csrf-minter", "console.manage");
    for (const site of ["cross-site", "same-site"]) {
      const made = await raw(new URL(base), { method: "POST", path: "/api/v1/console/open", headers: { authorization: `Bearer ${minter}`, "content-type": "application/json" }, body: "{}" });
      const url = (made.json as { url: string }).url;
      const r = await codeLogin(url, { "sec-fetch-site": site, "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" });
      expect(r.cookie, `${site} navigation got a session cookie`).toBeUndefined();
    }
  });
});

describe("F4: a console.login token evicts the operator's session", () => {
  beforeAll(() => {
    for (const s of cli("console", "sessions").json as Array<{ id: string }>) expect(cli("console", "revoke", s.id).code).toBe(0);
    expect(cli("config", "set", "console.max_sessions", "4").code).toBe(0);
  });
  afterAll(() => void cli("config", "set", "console.max_sessions", "64"));

  it("logging in max_sessions times with a low-privilege token does not end the operator's session", async () => {
    const op = await codeLogin(cli("console").json.url as string);
    expect((await asSession(op.cookie!, "console.whoami")).status).toBe(200);
    const low = grant("evictor", "console.login");
    for (let i = 0; i < 4; i++) await tokenLogin(low); // max_sessions is 4
    const r = await asSession(op.cookie!, "console.whoami");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });

  it("a principal makes room from its own sessions (audited); another principal has slots of its own and ends none", async () => {
    for (const s of cli("console", "sessions").json as Array<{ id: string }>) expect(cli("console", "revoke", s.id).code).toBe(0);
    const low = grant("evictor2", "console.login");
    for (let i = 0; i < 6; i++) await tokenLogin(low); // 4 fit; then its own least recently used go
    const tail = cli("audit", "tail", "-n", "500").json as Array<{ action: string; data: { reason?: string } }>;
    expect(tail.some((e) => e.action === "console.end" && e.data.reason === "evicted")).toBe(true);
    // Slots are per principal: a newcomer logs in, and nobody else's session ends.
    const sessions = (cli("console", "sessions").json as Array<{ id: string }>).map((s) => s.id);
    expect(sessions).toHaveLength(4);
    await tokenLogin(grant("latecomer", "console.login"));
    const after = (cli("console", "sessions").json as Array<{ id: string }>).map((s) => s.id);
    expect(after).toHaveLength(5);
    expect(after).toEqual(expect.arrayContaining(sessions));
  });

  it("session slots are per principal: a console.login token that filled its own does not refuse the operator's fresh login URL", async () => {
    const greedy = grant("greedy", "console.login");
    for (let i = 0; i < 8; i++) await tokenLogin(greedy);
    const op = await codeLogin(cli("console").json.url as string);
    expect(op.cookie, `login answered ${op.status} -> ${op.location}`).toBeDefined();
    expect((await asSession(op.cookie!, "console.whoami")).status).toBe(200);
  });
});

describe("F9: console logins are authentication events, but not in the security log", () => {
  it("a console login (and the session it opened) shows in <home>/logs/security.log", async () => {
    const cookie = await tokenLogin(grant("seclog", "console.login"));
    const id = cookie.split(".")[0]!;
    const log = () => readFileSync(join(home, "logs", "security.log"), "utf8");
    await expect.poll(log, { timeout: 20_000, interval: 100 }).toContain(`console:${id}`);
    expect(log()).toContain("token.grant"); // the security log is written
  });
});
