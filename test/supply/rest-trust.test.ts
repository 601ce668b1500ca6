// The trust policy over REST, as a narrow token and as one that holds modules.trust: the same
// effects and the same refusals as on the CLI, since both reach the one policy point.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
beforeAll(async () => {
  s = await serveHost();
}, 60_000);
afterAll(async () => s?.close());

const post = (token: string, path: string, body: unknown) =>
  raw(s.base, { method: "POST", path, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const pub = () => generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;

describe("the trust policy over REST", () => {
  it("a token without modules.trust is refused 403 forbidden on every trust effect, and the policy does not move", async () => {
    const { token } = await s.grant("narrow", ["module.*", "config.*", "trust.list", "trust.export"]);
    for (const [path, body] of [
      ["/api/v1/trust/add", { key: pub(), name: "mallory" }],
      ["/api/v1/trust/remove", { which: "anyone" }],
      ["/api/v1/module/block", { sha256: "0".repeat(64), reason: "x" }],
      ["/api/v1/module/unblock", { sha256: "0".repeat(64) }],
      ["/api/v1/config/set", { key: "modules.require_signature", value: true }],
    ] as const) {
      const r = await post(token, path, body);
      expect(r.status, `${path}: ${r.text}`).toBe(403);
      expect(r.json.error.code).toBe("forbidden");
      expect(r.json.error.message).toContain("modules.trust");
    }
    const list = await raw(s.base, { path: "/api/v1/trust/list", headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ keys: [], revision: 0, require_signature: false });
  });

  it("a token with modules.trust trusts a key and requires signatures; the changes are audited under the token", async () => {
    // config set is the command (config.set) and the setting its owner guards (modules.trust): both are needed.
    const { token, id } = await s.grant("trust-admin", ["modules.trust", "config.set"]);
    const added = await post(token, "/api/v1/trust/add", { key: pub(), name: "acme", ids: "acme-*" });
    expect(added.status, added.text).toBe(200);
    expect(added.json).toMatchObject({ name: "acme", ids: ["acme-*"] });
    expect((await post(token, "/api/v1/config/set", { key: "modules.require_signature", value: true })).status).toBe(200);
    const events = (await s.host.run("audit.tail", { n: 5 })) as Array<{ action: string; actor: string }>;
    expect(events.filter((e) => e.action === "trust.add" || e.action === "config.set").map((e) => e.actor)).toEqual([`token:${id}`, `token:${id}`]);
  });
});
