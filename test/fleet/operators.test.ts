// Operators across a fleet of three hosts on a real PostgreSQL and Redis: one set of operators for
// every host, removing one through A ends their tokens and console sessions on B and C on the very
// next request (no poll awaited), and operators written into the store outside Warden are not followed.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { eventually, expectOk, sqlOn, startFleet, type FleetHost } from "../helpers/fleet.js";
import { raw } from "../helpers/api.js";

const fleet = await startFleet(3, { before: (cli) => expectOk(cli(["config", "set", "api.console", "true"])) });
const d = fleet ? describe : describe.skip;
const [a, b, c] = fleet?.hosts ?? [];
const json = (h: FleetHost, args: string[]) => expectOk(h.cli([...args, "--json"])).json;
const sql = <T>(fn: (q: pg.Client) => Promise<T>) => sqlOn(fleet!.storeUrl, fn);
const operatorsOn = (h: FleetHost) => json(h, ["operator", "list"]) as { problem?: string; operators: Array<{ name: string; roles: string[] }> };

async function consoleLogin(h: FleetHost, token: string): Promise<string> {
  const r = await raw(h.base, {
    method: "POST",
    path: "/console/login",
    headers: { "content-type": "application/json", origin: h.base.origin, "sec-fetch-site": "same-origin" },
    body: JSON.stringify({ token }),
  });
  expect(r.status, r.text).toBe(200);
  return /warden_session=([^;]+)/.exec([r.headers["set-cookie"] ?? ""].flat().join(";"))![1]!;
}
const asSession = (h: FleetHost, cookie: string) => h.call("/api/v1/module/list", { headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1" } });

d("operators across a fleet", () => {
  it("an operator added through A is known on B and C, with the roles that bound their tokens there", async () => {
    expect(json(a!, ["operator", "add", "alice", "--role", "viewer", "--role", "operator"])).toMatchObject({ roles: ["operator", "viewer"] });
    for (const h of [b!, c!]) await eventually(() => operatorsOn(h).operators.some((o) => o.name === "alice") || undefined, "alice reached the host");
    const { token } = json(b!, ["auth", "grant", "--name", "alice-b", "--scopes", "module.list,module.disable,console.login", "--operator", "alice"]) as { token: string };
    const approve = await c!.call("/api/v1/module/approve", { token, body: { id: "hello" } });
    expect(approve.status).toBe(403);
  });

  it("removing an operator through A ends their tokens and sessions on B and C on the next request", async () => {
    expectOk(a!.cli(["operator", "add", "bob", "--role", "operator"]));
    for (const h of [b!, c!]) await eventually(() => operatorsOn(h).operators.some((o) => o.name === "bob") || undefined, "bob reached the host");
    const { token } = json(a!, ["auth", "grant", "--name", "bob-cli", "--scopes", "module.list,console.login", "--operator", "bob"]) as { token: string };
    // Used on every host first, so each holds a cached verification and a live session.
    const cookieB = await consoleLogin(b!, token);
    const cookieC = await consoleLogin(c!, token);
    for (const h of [a!, b!, c!]) expect((await h.call("/api/v1/module/list", { token })).status).toBe(200);
    expect((await asSession(b!, cookieB)).status).toBe(200);
    expect((await asSession(c!, cookieC)).status).toBe(200);

    expect(json(a!, ["operator", "remove", "bob", "--yes"])).toMatchObject({ name: "bob", ended: 3 });
    for (const h of [b!, c!]) {
      const r = await h.call("/api/v1/module/list", { token });
      expect(r.status, `${h.base}: ${r.text}`).toBe(401);
    }
    expect((await asSession(b!, cookieB)).status).toBe(401);
    expect((await asSession(c!, cookieC)).status).toBe(401);
  });

  it("a CLI session signed in through A refreshes through B; its spent refresh token replayed through C revokes it on every host", async () => {
    expectOk(a!.cli(["operator", "add", "carol", "--role", "operator"]));
    for (const h of [a!, b!, c!]) await eventually(() => operatorsOn(h).operators.some((o) => o.name === "carol") || undefined, "carol reached the host");
    const { token } = json(a!, ["auth", "grant", "--name", "carol-console", "--scopes", "module.list,auth.pair", "--operator", "carol"]) as { token: string };
    const post = async (h: FleetHost, path: string, body: unknown, bearer?: string) => h.call(path, { body, ...(bearer ? { token: bearer } : {}) });
    const started = (await post(a!, "/api/v1/login/device", {})).json as { device_code: string; user_code: string };
    expect((await post(a!, "/api/v1/login/token", { device_code: started.device_code })).json.error.code).toBe("authorization_pending");
    expect((await post(b!, "/api/v1/auth/pair", { code: started.user_code }, token)).status).toBe(200);
    const first = (await post(c!, "/api/v1/login/token", { device_code: started.device_code })).json as { access_token: string; refresh_token: string; operator: string };
    expect(first.operator).toBe("carol");
    expect((await a!.call("/api/v1/module/list", { token: first.access_token })).status).toBe(200);

    const second = await post(b!, "/api/v1/login/refresh", { refresh_token: first.refresh_token });
    expect(second.status, second.text).toBe(200);
    expect(second.json.refresh_token).not.toBe(first.refresh_token);
    expect((await c!.call("/api/v1/module/list", { token: second.json.access_token })).status).toBe(200);

    const replay = await post(c!, "/api/v1/login/refresh", { refresh_token: first.refresh_token });
    expect(replay.json.error.code).toBe("refresh_reused");
    for (const h of [a!, b!, c!]) expect((await h.call("/api/v1/module/list", { token: second.json.access_token })).status).toBe(401);
    expect((await post(a!, "/api/v1/login/refresh", { refresh_token: second.json.refresh_token })).json.error.code).toBe("token_revoked");
  });

  it("operators written into the store outside Warden are not followed by any host", async () => {
    await sql(async (q) => {
      const row = (await q.query<{ doc: string }>("SELECT doc FROM documents WHERE name = 'operators'")).rows[0]!;
      const doc = JSON.parse(row.doc) as { revision: number; operators: Array<Record<string, unknown>> };
      doc.revision += 1;
      doc.operators.push({ name: "mallory", roles: ["admin"], addedBy: "operator:local", addedAt: new Date().toISOString() });
      await q.query("UPDATE documents SET doc = $1 WHERE name = 'operators'", [JSON.stringify(doc)]);
      await q.query("UPDATE fleet_state SET counter = counter + 1 WHERE id = 1");
    });
    const late = await fleet!.start();
    for (const h of [b!, late]) {
      await eventually(() => operatorsOn(h).problem, "the host reports the operators it does not follow");
      expect(operatorsOn(h).operators.map((o) => o.name)).not.toContain("mallory");
    }
    const r = late.cli(["auth", "grant", "--name", "m", "--scopes", "*", "--operator", "mallory", "--json"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("not_found");
  });
});
