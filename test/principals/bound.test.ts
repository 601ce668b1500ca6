// Tokens and console sessions bound to CIDRs (`auth grant --bind`): used from elsewhere they are
// refused with address_not_allowed and audited (once a minute per credential and address), the
// console sessions they open are bound the same, and what a bound token mints is bound at least as narrowly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindAllows, bindWithin, parseBind } from "../../sdk/system/bound-addresses.js";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

describe("bind lists", () => {
  it("parse IPv4 and IPv6 CIDRs and bare addresses, and refuse anything else", () => {
    expect(parseBind(["10.0.0.0/8", "192.168.1.7", "FD00::/8", "::1"])).toEqual(["10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128"]);
    for (const bad of ["10.0.0.0/33", "fd00::/129", "example.com", "10.0.0/8", "", "10.0.0.1/-1", "10.0.0.1/8x"]) {
      expect(() => parseBind([bad]), bad).toThrow(/not an IPv4 or IPv6 CIDR/);
    }
    expect(() => parseBind([])).toThrow(/names no address/);
  });

  it("match addresses of both families, an IPv4-mapped IPv6 client as its IPv4 address", () => {
    const bind = parseBind(["10.0.0.0/8", "fd00:1::/32"]);
    expect(bindAllows(bind, "10.200.3.4")).toBe(true);
    expect(bindAllows(bind, "::ffff:10.200.3.4")).toBe(true);
    expect(bindAllows(bind, "11.0.0.1")).toBe(false);
    expect(bindAllows(bind, "fd00:1:ffff::9")).toBe(true);
    expect(bindAllows(bind, "fd00:2::9")).toBe(false);
    expect(bindAllows(bind, "unknown")).toBe(false);
    expect(bindWithin(bind, parseBind(["10.1.0.0/16", "fd00:1:2::/48"]))).toBe(true);
    expect(bindWithin(bind, parseBind(["0.0.0.0/0"]))).toBe(false);
    expect(bindWithin(parseBind(["10.0.0.0/8"]), parseBind(["::ffff:0:0/96"]))).toBe(false);
  });
});

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost({ "api.console": true });
}, 60_000);
afterAll(async () => s?.close());

const call = (token: string, command: string, from: string, body: unknown = {}) =>
  raw(s.base, { method: "POST", path: `/api/v1/${command.replace(".", "/")}`, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body), from });
const events = async (action: string) => ((await s.host.run("audit.tail", { n: 50 })) as Array<{ action: string; target: string; data: Record<string, unknown> }>).filter((e) => e.action === action);

describe("bound credentials over REST", () => {
  it("a bound token works from inside its CIDRs and is refused, audited once, from elsewhere", async () => {
    const { token, id } = (await s.host.run("auth.grant", { name: "bound", scopes: ["module.list", "auth.manage", "console.login"], bind: ["127.0.0.2/32"] })) as { token: string; id: string };
    expect((await call(token, "module.list", "127.0.0.2")).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const r = await call(token, "module.list", "127.0.0.3");
      expect(r.status, r.text).toBe(403);
      expect(r.json.error.code).toBe("address_not_allowed");
      expect(r.json.error.message).toContain("127.0.0.2/32");
    }
    const refused = (await events("token.address_refused")).filter((e) => e.target === id);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.data).toMatchObject({ client: "127.0.0.3", bind: ["127.0.0.2/32"] });
    const listed = ((await s.host.run("auth.list")) as Array<{ id: string; bind: string[] | null }>).find((t) => t.id === id);
    expect(listed?.bind).toEqual(["127.0.0.2/32"]);

    // What it mints is bound as narrowly: inherited without --bind, refused wider.
    const inherited = await call(token, "auth.grant", "127.0.0.2", { name: "bound-child", scopes: ["module.list"] });
    expect(inherited.status, inherited.text).toBe(200);
    expect(inherited.json.bind).toEqual(["127.0.0.2/32"]);
    expect((await call(inherited.json.token, "module.list", "127.0.0.3")).status).toBe(403);
    const wider = await call(token, "auth.grant", "127.0.0.2", { name: "bound-wide", scopes: ["module.list"], bind: ["127.0.0.0/8"] });
    expect(wider.status, wider.text).toBe(403);
  });

  it("a console session opened with a bound token is bound the same", async () => {
    const { token } = (await s.host.run("auth.grant", { name: "bound-console", scopes: ["module.list", "console.login"], bind: ["127.0.0.4"] })) as { token: string };
    const login = await raw(s.base, {
      method: "POST",
      path: "/console/login",
      headers: { "content-type": "application/json", origin: s.base.origin, "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ token }),
      from: "127.0.0.4",
    });
    expect(login.status, login.text).toBe(200);
    const cookie = /warden_session=([^;]+)/.exec([login.headers["set-cookie"] ?? ""].flat().join(";"))![1]!;
    const asSession = (from: string) =>
      raw(s.base, { method: "POST", path: "/api/v1/module/list", headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", "content-type": "application/json" }, body: "{}", from });
    expect((await asSession("127.0.0.4")).status).toBe(200);
    const away = await asSession("127.0.0.5");
    expect(away.status, away.text).toBe(403);
    expect(away.json.error.code).toBe("address_not_allowed");
    expect((await events("console.address_refused")).at(-1)?.data).toMatchObject({ client: "127.0.0.5" });
    expect((await asSession("127.0.0.4")).status).toBe(200);
  });
});
