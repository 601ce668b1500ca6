// Two-person approval (approvals.required 2, Vault's control groups) over REST and the remote CLI:
// protected changes are filed as requests; the requester cannot approve their own, a second
// operator must hold what the change needs, a request expires after approvals.ttl_minutes, every
// step is audited, the home's own CLI stays the break-glass path; at 1 nothing changes.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../core/log/index.js";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";
import { wardenAsync } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";

let s: ServingHost;
let now = Date.parse("2026-12-02T12:00:00Z");
const tokens: Record<string, string> = {};
const pub = () => generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;

beforeAll(async () => {
  s = await serveHost({}, tempDir("warden-2p-"), silentLogger(), () => now);
  for (const [name, role] of [
    ["alice", "admin"],
    ["bob", "approver"],
    ["carol", "viewer"],
    ["dave", "operator"],
  ] as const) {
    const added = (await s.host.run("operator.add", { name, role: [role] })) as { permissions: string[] };
    tokens[name] = ((await s.host.run("auth.grant", { name: `${name}-rest`, scopes: added.permissions, operator: name })) as { token: string }).token;
  }
}, 60_000);
afterAll(async () => s?.close());

const as = (who: string, command: string, body: unknown = {}) =>
  raw(s.base, { method: "POST", path: `/api/v1/${command.replace(".", "/")}`, headers: { authorization: `Bearer ${tokens[who]}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const trusted = async () => ((await s.host.run("trust.list")) as { keys: Array<{ name: string }> }).keys.map((k) => k.name);
const audit = async (n = 30) => (await s.host.run("audit.tail", { n })) as Array<{ action: string; actor: string; target: string; data: Record<string, unknown> }>;

describe("two-person approval", () => {
  it("at approvals.required 1 (the default) a protected change happens at once", async () => {
    const r = await as("alice", "trust.add", { key: pub(), name: "solo" });
    expect(r.status, r.text).toBe(200);
    expect(r.json.name).toBe("solo");
    expect(await trusted()).toContain("solo");
  });

  it("at 2 a protected change is a request; the requester cannot approve it, a viewer cannot, a second operator does, and every step is audited", async () => {
    await s.host.run("config.set", { key: "approvals.required", value: 2 });
    const filed = await as("alice", "trust.add", { key: pub(), name: "acme" });
    expect(filed.status, filed.text).toBe(200);
    expect(filed.json).toMatchObject({ approval: "requested", what: "trust the publisher key 'acme' for any module id" });
    expect(await trusted()).not.toContain("acme");
    const pending = (await as("carol", "approval.list")).json as Array<{ id: string; what: string; requester: string }>;
    expect(pending.find((p) => p.id === filed.json.id)).toMatchObject({ requester: "operator:alice" });

    const own = await as("alice", "approval.approve", { id: filed.json.id });
    expect(own.status).toBe(403);
    expect(own.json.error.message).toContain("is yours");
    expect((await as("carol", "approval.approve", { id: filed.json.id })).status).toBe(403);
    const ok = await as("bob", "approval.approve", { id: filed.json.id });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.result).toMatchObject({ name: "acme" });
    expect(await trusted()).toContain("acme");
    expect((await as("bob", "approval.approve", { id: filed.json.id })).json.error.code).toBe("request_decided");

    const steps = (await audit()).filter((e) => e.target === filed.json.id || (e.action === "trust.add" && e.target === "acme"));
    expect(steps.map((e) => [e.action, e.actor])).toEqual([
      ["approval.request", "operator:alice"],
      ["approval.approve", "operator:bob"],
      ["trust.add", "operator:alice"],
      ["approval.done", "host"],
    ]);
  });

  it("switching enforcement off needs a second operator who holds security.manage", async () => {
    const filed = await as("alice", "config.set", { key: "security.enabled", value: false });
    expect(filed.json.approval).toBe("requested");
    expect(((await s.host.run("security.status")) as { active: boolean }).active).toBe(true);
    const bob = await as("bob", "approval.approve", { id: filed.json.id });
    expect(bob.status).toBe(403);
    expect(bob.json.error.message).toContain("'security.manage'");
    const dave = await as("dave", "approval.approve", { id: filed.json.id });
    expect(dave.status, dave.text).toBe(200);
    expect(((await s.host.run("security.status")) as { active: boolean }).active).toBe(false);
    await s.host.run("security.enable");
  });

  it("lowering approvals.required is itself a request, and a requester may withdraw their own", async () => {
    const filed = await as("alice", "config.set", { key: "approvals.required", value: 1 });
    expect(filed.json.approval).toBe("requested");
    const withdrawn = await as("alice", "approval.deny", { id: filed.json.id });
    expect(withdrawn.json).toMatchObject({ withdrawn: true });
    expect((await s.host.run("config.get", { key: "approvals.required" })) as unknown).toMatchObject({ value: 2 });
  });

  it("a request not approved within approvals.ttl_minutes expires", async () => {
    const filed = await as("alice", "trust.add", { key: pub(), name: "late" });
    now += 61 * 60_000;
    const r = await as("bob", "approval.approve", { id: filed.json.id });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe("approval_expired");
    const all = (await as("bob", "approval.list", { all: true })).json as Array<{ id: string; status: string }>;
    expect(all.find((x) => x.id === filed.json.id)?.status).toBe("expired");
    expect(await trusted()).not.toContain("late");
    expect((await audit()).some((e) => e.action === "approval.expire" && e.target === filed.json.id)).toBe(true);
  });

  it("the home's own CLI is the break-glass path: it changes at once, audited as operator:local", async () => {
    await s.host.run("trust.add", { key: pub(), name: "glass" });
    expect(await trusted()).toContain("glass");
    expect((await audit(5)).find((e) => e.action === "trust.add")?.actor).toBe("operator:local");
  });

  it("end to end with the remote CLI: alice files, bob lists and approves", async () => {
    const origin = s.base.origin;
    const signedIn = (who: string) => {
      const dir = tempDir(`warden-xdg-${who}-`);
      mkdirSync(join(dir, "warden"), { recursive: true });
      // The credentials `warden login` would have saved (this test's tokens stand in for its access tokens).
      const saved = {
        access_token: tokens[who],
        access_expires_at: "2999-01-01T00:00:00Z",
        refresh_token: `wdr_${"0".repeat(16)}_${"A".repeat(43)}`,
        operator: who,
        scopes: [],
        family: "0".repeat(16),
      };
      writeFileSync(join(dir, "warden", "credentials.json"), JSON.stringify({ hosts: { [origin]: saved } }), { mode: 0o600 });
      return (...args: string[]) => wardenAsync(["--addr", origin, "--json", ...args], { XDG_CONFIG_HOME: dir, WARDEN_ADDR: "" });
    };
    const alice = signedIn("alice");
    const bob = signedIn("bob");
    const key = join(tempDir("warden-keys-"), "globex.pub");
    writeFileSync(key, pub());
    const filed = await alice("trust", "add", key, "--name", "globex");
    expect(filed.code, filed.stderr).toBe(0);
    expect(filed.json).toMatchObject({ approval: "requested" });
    const listed = await bob("approval", "list");
    expect((listed.json as Array<{ id: string; what: string }>).find((r) => r.id === filed.json.id)?.what).toContain("globex");
    expect((await alice("approval", "approve", filed.json.id, "--yes")).code).not.toBe(0);
    const approved = await bob("approval", "approve", filed.json.id, "--yes");
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.json.result).toMatchObject({ name: "globex" });
  });
});
