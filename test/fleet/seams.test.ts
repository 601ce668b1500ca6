// Authority at the fleet's seams, on three hosts with real PostgreSQL and Redis: a cached decision is
// valid only under an epoch that survives a Redis that forgot; a console session revoked or logged
// out through one host is refused by the others on their next request.
import { join } from "node:path";
import { Redis as RedisClient } from "ioredis";
import { describe, expect, it } from "vitest";
import { eventually, expectOk, startFleet, type FleetHost } from "../helpers/fleet.js";
import { tempDir, writeModule } from "../helpers/modules.js";

const fleet = await startFleet(3, {
  before: (cli) => {
    expectOk(cli(["config", "set", "security.backend_timeout_ms", "10000"]));
    expectOk(cli(["config", "set", "api.console", "true"]));
    expectOk(cli(["config", "set", "security.rate_limit", "100000"]));
  },
});
const d = fleet ? describe : describe.skip;
const PATH = "/api/v1/config/get?key=api.enabled";

/** A console session opened through `h` with a one-time login URL: its cookie value. */
async function consoleLogin(h: FleetHost): Promise<string> {
  const url = expectOk(h.cli(["console", "--json"])).json.url as string;
  const res = await fetch(url, { redirect: "manual" });
  const m = /warden_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "");
  if (!m) throw new Error(`no session cookie: ${res.status} ${res.headers.get("location")}`);
  return m[1]!;
}
const asSession = (h: FleetHost, cookie: string) => h.call("/api/v1/console/whoami", { method: "POST", body: {}, headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1" } });

d("authority across a fleet", { timeout: 180_000 }, () => {
  const [a, b, c] = fleet?.hosts ?? [];

  it("a cached decision is valid only under an epoch that survives Redis loss: cached on B before the fleet's first revoke, revoked through A, Redis restarted empty, refused by B", async () => {
    const token = expectOk(a!.cli(["auth", "grant", "--name", "early", "--scopes", "*", "--json"])).json.token as string;
    // Verified and cached on every host while no revoke ever happened in this fleet.
    for (const h of [a, b, c]) expect((await h!.call(PATH, { token, from: "127.0.0.4" })).status).toBe(200);
    expectOk(a!.cli(["auth", "revoke", "--yes", "early"]));
    const r = new RedisClient(fleet!.redis.url);
    try {
      await r.flushall(); // what a Redis restart without persistence does
    } finally {
      r.disconnect();
    }
    for (const h of [b, c, a]) {
      const res = await eventually(async () => {
        const x = await h!.call(PATH, { token, from: "127.0.0.4" });
        return x.status === 503 ? undefined : x; // re-seeding: refused, never let through
      }, `an answer from ${h!.home} after the re-seed`);
      expect(res.status, res.text).toBe(401);
      expect(res.json.error.code).toBe("token_revoked");
    }
    // Still serving: a live token works everywhere.
    const live = expectOk(a!.cli(["auth", "grant", "--name", "later", "--scopes", "*", "--json"])).json.token as string;
    for (const h of [a, b, c]) expect((await h!.call(PATH, { token: live, from: "127.0.0.5" })).status).toBe(200);
  });

  it("a console session revoked through A is refused by B and C on their very next request", async () => {
    const cookie = await consoleLogin(a!);
    for (const h of [a, b, c]) expect((await asSession(h!, cookie)).status).toBe(200);
    const id = cookie.split(".")[0]!;
    expectOk(a!.cli(["console", "revoke", id]));
    for (const h of [b, c]) {
      const res = await asSession(h!, cookie);
      expect(res.status, res.text).toBe(401);
    }
  });

  it("a console session logged out through A is refused by B on its very next request", async () => {
    const cookie = await consoleLogin(a!);
    expect((await asSession(b!, cookie)).status).toBe(200);
    const out = await a!.call("/console/logout", {
      method: "POST",
      body: {},
      headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", origin: a!.base.origin, "sec-fetch-site": "same-origin" },
    });
    expect(out.status, out.text).toBeLessThan(400);
    expect((await asSession(b!, cookie)).status).toBe(401);
    expect((await asSession(c!, cookie)).status).toBe(401);
  });

  it("expiry is judged by one clock for the fleet: a host whose clock is an hour behind refuses an expired token", async () => {
    const behind = await fleet!.start({ NODE_OPTIONS: `--import=${join(__dirname, "../fixtures/clock/an-hour-behind.mjs")}` });
    const token = expectOk(a!.cli(["auth", "grant", "--name", "brief", "--scopes", "*", "--expires", "3s", "--json"])).json.token as string;
    expect((await behind.call(PATH, { token, from: "127.0.0.7" })).status).toBe(200); // verified (and cached) while valid
    await eventually(async () => (await a!.call(PATH, { token, from: "127.0.0.7" })).json?.error?.code === "token_expired", "the token expired on A");
    const res = await behind.call(PATH, { token, from: "127.0.0.7" });
    expect(res.status, res.text).toBe(401);
    expect(res.json.error.code).toBe("token_expired");
  });

  it("a module a host is adding answers module_unavailable until its grants are decided, and never stays failed", async () => {
    const src = tempDir();
    writeModule(src, {
      id: "arrival",
      capabilities: ["commands.register", "storage.read", "storage.write"],
      commands: { put: { description: "p", input: { type: "object" } } },
      code: `export function activate(ctx) { ctx.commands.register("put", async () => { await ctx.storage.set("k", 1); return "ok"; }); }`,
    });
    const token = expectOk(a!.cli(["auth", "grant", "--name", "arrival", "--scopes", "arrival.*", "--json"])).json.token as string;
    // B and C are called from the moment A is told to install it until each answers.
    const seen = new Set<string>();
    const watch = async (h: FleetHost) => {
      for (let i = 0; i < 2000; i++) {
        const r = await h.call("/api/v1/arrival/put", { token, body: {}, from: "127.0.0.8" });
        if (r.status === 200) return;
        seen.add(String(r.json?.error?.code));
      }
      throw new Error(`arrival never answered on ${h.home}: ${[...seen].join(", ")}`);
    };
    const watching = Promise.all([watch(b!), watch(c!)]);
    expectOk(a!.cli(["module", "install", `${src}/arrival`]));
    await watching;
    for (const code of seen) expect(["command_not_found", "module_unavailable", "module_not_found"], code).toContain(code);
    for (const h of [a, b, c]) {
      const m = (expectOk(h!.cli(["module", "list", "--json"])).json as Array<{ id: string; state: string }>).find((x) => x.id === "arrival");
      expect(m?.state, h!.home).not.toBe("failed");
    }
  });
});
