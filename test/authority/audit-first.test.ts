// An action and its audit event are one: when the event cannot be written (here: audit.head cannot
// be replaced), security lockdown and block and auth grant and revoke answer audit_failed and do
// not happen. Then, with the chain writable again, each works ("still serving").
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

let host: Host;
let home: string;
beforeAll(async () => {
  home = tempDir("warden-audit-first-");
  host = await testHost({ home, modulePaths: [], logger: silentLogger() });
  await host.activateAll(["system"]);
}, 60_000);
afterAll(async () => {
  await host?.close();
});

/** While it runs, audit.head is a folder: no audit event can be written. */
async function withAuditBroken<T>(fn: () => Promise<T>): Promise<T> {
  const head = join(home, "audit.head");
  const saved = readFileSync(head);
  rmSync(head);
  mkdirSync(join(head, "blocker"), { recursive: true });
  try {
    return await fn();
  } finally {
    rmSync(head, { recursive: true, force: true });
    writeFileSync(`${head}.restore`, saved);
    renameSync(`${head}.restore`, head);
  }
}

type Status = { lockdown: { active: boolean }; blocked: Array<{ client: string }> };
const status = async () => (await host.run("security.status")) as Status;
const tokens = async () => (await host.run("auth.list")) as Array<{ id: string; name: string; revoked_at: string | null }>;

describe("an action and its audit event are one", () => {
  it("security lockdown does not happen when its event cannot be written", async () => {
    await withAuditBroken(async () => {
      await expect(host.run("security.lockdown", { seconds: 60 })).rejects.toMatchObject({ code: "audit_failed" });
    });
    expect((await status()).lockdown.active).toBe(false);
  });

  it("security block does not happen when its event cannot be written", async () => {
    await withAuditBroken(async () => {
      await expect(host.run("security.block", { client: "203.0.113.9", seconds: 60 })).rejects.toMatchObject({ code: "audit_failed" });
    });
    expect(JSON.stringify((await status()).blocked)).not.toContain("203.0.113.9");
  });

  it("auth grant issues no token when its event cannot be written", async () => {
    await withAuditBroken(async () => {
      await expect(host.run("auth.grant", { name: "ghost", scopes: ["*"] })).rejects.toMatchObject({ code: "audit_failed" });
    });
    expect((await tokens()).map((t) => t.name)).not.toContain("ghost");
  });

  it("auth revoke leaves the token valid when its event cannot be written", async () => {
    const t = (await host.run("auth.grant", { name: "keeper", scopes: ["hello.*"] })) as { id: string };
    await withAuditBroken(async () => {
      await expect(host.run("auth.revoke", { ref: t.id })).rejects.toMatchObject({ code: "audit_failed" });
    });
    expect((await tokens()).find((x) => x.id === t.id)!.revoked_at).toBeNull();
  });

  it("still serving: with the chain writable, each action happens and verifies", async () => {
    await host.run("security.block", { client: "203.0.113.9", seconds: 60 });
    expect(JSON.stringify((await status()).blocked)).toContain("203.0.113.9");
    await host.run("security.unblock", { client: "203.0.113.9" });
    await host.run("auth.revoke", { ref: "keeper" });
    expect((await host.run("audit.verify")) as { ok: boolean }).toMatchObject({ ok: true });
  });
});
