// Attack (from a review): a narrow token (auth.manage only, bound) rotates an admin operator's
// token and so holds its new secret: "*" as operator:alice, from anywhere. Rotate and revoke now
// act only on tokens within the asker's reach (its operator's, its scopes, its bind).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost({});
}, 60_000);
afterAll(async () => s?.close());

const call = (token: string, command: string, body: unknown = {}, from = "127.0.0.2") =>
  raw(s.base, { method: "POST", path: `/api/v1/${command.replace(".", "/")}`, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body), from });

describe("auth.rotate escapes the asker's limits", () => {
  it("a bound auth.manage-only token cannot grant '*', but rotating an admin's token yields an unbound '*' token", async () => {
    await s.host.run("operator.add", { name: "alice", role: ["admin"] });
    await s.host.run("auth.grant", { name: "alice-laptop", scopes: ["*"], operator: "alice" });
    const narrow = (await s.host.run("auth.grant", { name: "narrow", scopes: ["auth.manage"], bind: ["127.0.0.2/32"] })) as { token: string };
    // grant is bounded: refused.
    const g = await call(narrow.token, "auth.grant", { name: "wide", scopes: ["*"] });
    expect(g.status).toBe(403);
    // rotate is not: alice's token's new secret comes back to the narrow token.
    const r = await call(narrow.token, "auth.rotate", { ref: "alice-laptop" });
    expect(r.status, r.text).toBe(403);
    const stolen = r.json.token as string;
    // From another address (the narrow one is bound to 127.0.0.2), as operator:alice with '*'.
    const add = await call(stolen, "operator.add", { name: "mallory", role: ["admin"] }, "127.0.0.9");
    expect(add.status, add.text).not.toBe(200);
  }, 60_000);
});
