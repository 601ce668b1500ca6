// Operators and roles on one host, over REST as each kind of caller would: roles bound what a token
// or console session may do (whatever its scopes say), a token is never minted with more than its
// asker or its operator holds, audit events name operator:<name>, and removing an operator ends
// their tokens and sessions on the next request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost({ "api.console": true, "roles.custom": { minter: ["auth.manage", "module.list", "console.login"] } });
}, 60_000);
afterAll(async () => s?.close());

const call = (token: string, command: string, body: unknown = {}) =>
  raw(s.base, {
    method: "POST",
    path: `/api/v1/${command.replace(".", "/")}`,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const asSession = (cookie: string, command: string, body: unknown = {}) =>
  raw(s.base, {
    method: "POST",
    path: `/api/v1/${command.replace(".", "/")}`,
    headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
async function consoleLogin(token: string): Promise<string> {
  const r = await raw(s.base, {
    method: "POST",
    path: "/console/login",
    headers: { "content-type": "application/json", origin: s.base.origin, "sec-fetch-site": "same-origin" },
    body: JSON.stringify({ token }),
  });
  expect(r.status, r.text).toBe(200);
  return /warden_session=([^;]+)/.exec([r.headers["set-cookie"] ?? ""].flat().join(";"))![1]!;
}
const local = (command: string, input: unknown = {}) => s.host.run(command, input);
const grantFor = async (operator: string, name: string, scopes: string[]) => (await local("auth.grant", { name, scopes, operator })) as { id: string; token: string; operator: string };
const refusal = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { code: string; message: string }) => e,
  );

describe("operators and roles", () => {
  it("role list shows the built-in roles and the custom ones; operator add, list and change are audited as the one who did them", async () => {
    const roles = (await local("role.list")) as Array<{ name: string; builtin: boolean; permissions: string[] }>;
    expect(roles.map((r) => r.name)).toEqual(["viewer", "operator", "approver", "admin", "minter"]);
    expect(roles.find((r) => r.name === "viewer")!.permissions).toContain("audit.read");
    expect(roles.find((r) => r.name === "viewer")!.permissions).not.toContain("module.approve");
    expect(await local("operator.add", { name: "ann", role: ["viewer"] })).toMatchObject({ name: "ann", roles: ["viewer"] });
    expect(await local("operator.add", { name: "ann", role: ["viewer", "approver"] })).toMatchObject({ roles: ["approver", "viewer"], replaced_roles: ["viewer"] });
    expect(((await local("operator.list")) as { operators: Array<{ name: string }> }).operators.map((o) => o.name)).toContain("ann");
    const events = (await local("audit.tail", { n: 5 })) as Array<{ action: string; actor: string; target: string }>;
    expect(events.filter((e) => e.target === "ann").map((e) => [e.action, e.actor])).toEqual([
      ["operator.add", "operator:local"],
      ["operator.change", "operator:local"],
    ]);
    for (const bad of [
      { name: "local", role: ["admin"] },
      { name: "Bad Name", role: ["admin"] },
      { name: "x", role: ["no-such-role"] },
    ]) {
      expect((await refusal(local("operator.add", bad)))?.code, JSON.stringify(bad)).toBe("input_invalid");
    }
  });

  it("a token cannot be granted scopes beyond its operator's roles", async () => {
    await local("operator.add", { name: "vera", role: ["viewer"] });
    const e = await refusal(grantFor("vera", "vera-wide", ["*"]));
    expect(e?.code).toBe("forbidden");
    expect(e?.message).toContain("operator 'vera''s roles");
    expect((await refusal(grantFor("vera", "vera-approve", ["module.list", "module.approve"])))?.code).toBe("forbidden");
    expect((await refusal(grantFor("nobody", "x", ["module.list"])))?.code).toBe("not_found");
    const ok = await grantFor("vera", "vera-read", ["module.list", "module.inspect", "audit.read"]);
    expect(ok.operator).toBe("vera");
  });

  it("a viewer's token cannot approve, and a token narrows to its operator's roles when they change", async () => {
    await local("operator.add", { name: "olga", role: ["admin"] });
    const { token } = await grantFor("olga", "olga-all", ["*"]);
    expect((await call(token, "module.list")).status).toBe(200);
    await local("operator.add", { name: "olga", role: ["viewer"] });
    const approve = await call(token, "module.approve", { id: "hello" });
    expect(approve.status, approve.text).toBe(403);
    expect(approve.json.error.code).toBe("forbidden");
    expect(approve.json.error.message).toContain("operator 'olga''s roles do not allow 'module.approve'");
    expect((await call(token, "module.disable", { id: "hello" })).status).toBe(403);
    expect((await call(token, "module.list")).status).toBe(200);
  });

  it("audit events name operator:<name> for what an operator's token does", async () => {
    await local("operator.add", { name: "otto", role: ["operator"] });
    const { token } = await grantFor("otto", "otto-ops", ["module.disable", "module.enable", "audit.read"]);
    const r = await call(token, "module.disable", { id: "hello" });
    expect(r.status, r.text).toBe(200);
    await local("module.enable", { id: "hello" });
    const events = (await local("audit.tail", { n: 5 })) as Array<{ action: string; actor: string }>;
    expect(events.find((e) => e.action === "module.disable")?.actor).toBe("operator:otto");
  });

  it("nobody hands out more than they hold: a token mints only within its own scopes and its operator's roles, and only for its own operator", async () => {
    const service = (await local("auth.grant", { name: "svc-minter", scopes: ["auth.manage"] })) as { token: string };
    const wide = await call(service.token, "auth.grant", { name: "svc-wide", scopes: ["*"] });
    expect(wide.status, wide.text).toBe(403);
    expect(wide.json.error.message).toContain("own scopes");
    expect((await call(service.token, "auth.grant", { name: "svc-narrow", scopes: ["auth.manage"] })).status).toBe(200);
    expect((await call(service.token, "auth.grant", { name: "svc-for-op", scopes: ["auth.manage"], operator: "vera" })).status).toBe(403);

    await local("operator.add", { name: "mia", role: ["minter"] });
    const { token } = await grantFor("mia", "mia-mint", ["auth.manage", "module.list"]);
    const mine = await call(token, "auth.grant", { name: "mia-read", scopes: ["module.list"] });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.json.operator).toBe("mia");
    expect((await call(token, "auth.grant", { name: "mia-approve", scopes: ["module.approve"] })).status).toBe(403);
    expect((await call(token, "auth.grant", { name: "mia-for-vera", scopes: ["module.list"], operator: "vera" })).status).toBe(403);
    // operators.manage alone cannot make an admin (it does not hold "*").
    const opsOnly = (await local("auth.grant", { name: "svc-ops", scopes: ["operators.manage"] })) as { token: string };
    const admin = await call(opsOnly.token, "operator.add", { name: "eve", role: ["admin"] });
    expect(admin.status, admin.text).toBe(403);
    expect((await call(opsOnly.token, "operator.add", { name: "eve", role: ["viewer"] })).status).toBe(403);
  });

  it("removing an operator ends their tokens and console sessions on the next request", async () => {
    await local("operator.add", { name: "rita", role: ["minter"] });
    const { token, id } = await grantFor("rita", "rita-cli", ["module.list", "console.login"]);
    const cookie = await consoleLogin(token);
    expect((await asSession(cookie, "module.list")).status).toBe(200);
    const removed = (await local("operator.remove", { name: "rita" })) as { ended: number };
    expect(removed.ended).toBe(2);
    const viaToken = await call(token, "module.list");
    expect(viaToken.status).toBe(401);
    expect(viaToken.json.error.code).toBe("token_revoked");
    const viaSession = await asSession(cookie, "module.list");
    expect(viaSession.status).toBe(401);
    const events = (await local("audit.tail", { n: 10 })) as Array<{ action: string; actor: string; target: string; data: Record<string, unknown> }>;
    expect(events.find((e) => e.action === "operator.remove")).toMatchObject({ actor: "operator:local", target: "rita" });
    expect(events.find((e) => e.action === "token.revoke" && e.target === id)?.data).toMatchObject({ reason: "operator_removed", by: "operator:local" });
    expect(events.find((e) => e.action === "console.end")?.data).toMatchObject({ reason: "operator" });
    // The same name again is a new operator: what the old one held stays ended.
    await local("operator.add", { name: "rita", role: ["minter"] });
    expect((await call(token, "module.list")).status).toBe(401);
  });

  it("an operator cannot remove themselves through their own token", async () => {
    await local("operator.add", { name: "ada", role: ["admin"] });
    const { token } = await grantFor("ada", "ada-all", ["*"]);
    const r = await call(token, "operator.remove", { name: "ada" });
    expect(r.status, r.text).toBe(403);
    expect((await call(token, "operator.remove", { name: "vera" })).status).toBe(200);
  });
});
