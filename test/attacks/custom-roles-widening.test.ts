// Attack (from a review): a narrow token adds an operator with a harmless custom role, then widens
// that role to "*" through the setting roles.custom. A role's permissions are handed to everyone
// who holds it, so changing roles.custom needs the changer to hold them (nobody hands out more).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost({});
}, 60_000);
afterAll(async () => s?.close());

const call = (token: string, command: string, body: unknown = {}) =>
  raw(s.base, { method: "POST", path: `/api/v1/${command.replace(".", "/")}`, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

describe("roles.custom bypasses 'nobody hands out more than they hold'", () => {
  it("a token holding operators.manage + config.set cannot give 'admin', but can make any role '*'", async () => {
    await s.host.run("config.set", { key: "roles.custom", value: { people: ["operators.read", "operators.manage", "config.set"] } });
    const t = ((await s.host.run("auth.grant", { name: "hr", scopes: ["operators.read", "operators.manage", "config.set"] })) as { token: string }).token;
    expect((await call(t, "operator.add", { name: "mallory", role: ["admin"], email: "m@evil.example" })).status).toBe(403);
    const added = await call(t, "operator.add", { name: "mallory", role: ["people"], email: "m@evil.example" });
    expect(added.status, added.text).toBe(200);
    const widen = await call(t, "config.set", { key: "roles.custom", value: { people: ["*"] } });
    expect(widen.status, widen.text).toBe(403);
    const roles = (await s.host.run("role.list")) as Array<{ name: string; permissions: string[] }>;
    expect(roles.find((r) => r.name === "people")?.permissions).not.toContain("*");
  }, 60_000);
});
