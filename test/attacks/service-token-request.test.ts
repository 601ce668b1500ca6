// A two-person request runs as its requester once approved. Filed by a service account's token
// (a CI job's, leaked), it would run as that credential even after it was revoked: so only named
// operators file requests (found by an attack review).
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost({});
}, 60_000);
afterAll(async () => s?.close());

const call = (token: string, command: string, body: unknown = {}) =>
  raw(s.base, { method: "POST", path: `/api/v1/${command.replace(".", "/")}`, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const pub = () => generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;

describe("requests are filed by named operators", () => {
  it("a service account's token files no two-person request, so none runs after it is revoked", async () => {
    const added = (await s.host.run("operator.add", { name: "bob", role: ["approver"] })) as { permissions: string[] };
    const bob = ((await s.host.run("auth.grant", { name: "bob", scopes: added.permissions, operator: "bob" })) as { token: string }).token;
    // A service token (a CI job's) that may trust publishers; it leaks.
    const ci = (await s.host.run("auth.grant", { name: "ci", scopes: ["modules.trust", "trust.add"] })) as { token: string; id: string };
    await s.host.run("config.set", { key: "approvals.required", value: 2 });
    // Requests are a person's: a service account's token files none (its credential could be revoked before approval).
    const filed = await call(ci.token, "trust.add", { key: pub(), name: "evil" });
    expect(filed.status, filed.text).toBe(403);
    expect(filed.json.error.code).toBe("second_operator_required");
    expect(((await call(bob, "approval.list")).json as unknown[]).length).toBe(0);
    const keys = ((await s.host.run("trust.list")) as { keys: Array<{ name: string }> }).keys.map((k) => k.name);
    expect(keys).not.toContain("evil");
  }, 60_000);
});
