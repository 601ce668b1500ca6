import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { createLogger } from "../core/log/index.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function open(home: string): Promise<Host> {
  const h = await testHost({ home, userRuntime: "inprocess", logger: createLogger({ home, destination: join(home, "logs", "test.log") }) });
  hosts.push(h);
  return h;
}

describe("security state", () => {
  it("keeps blocks and lockdown across cache disable and a restart; windows are memory-only", async () => {
    const home = tempDir();
    let h = await open(home);
    await h.run("security.lockdown", { seconds: 600 });
    await h.run("security.block", { client: "198.51.100.20", seconds: 900 });
    await h.loader.ensureActive("security");
    const security = h.kernel.services.get("security") as { check(ip: string): { allow: boolean } };
    await h.run("security.unlock");
    for (let i = 0; i < 3; i++) security.check("203.0.113.1");
    await h.run("security.lockdown", { seconds: 600 });
    await h.run("cache.disable");
    let status: any = await h.run("security.status");
    expect(status.lockdown.active).toBe(true);
    expect(status.blocked.map((b: any) => b.client)).toContain("198.51.100.20");
    expect(status.windows.clients.find((c: any) => c.client === "203.0.113.1").count).toBe(3);
    await h.close();
    hosts.length = 0;

    h = await open(home);
    status = await h.run("security.status");
    expect(status.lockdown.active).toBe(true);
    expect(status.blocked.map((b: any) => b.client)).toContain("198.51.100.20");
    // Counters of anonymous traffic are never written anywhere; they start afresh.
    expect(status.windows.clients).toEqual([]);
    expect((await h.run("cache.status")) as any).toMatchObject({ enabled: false });
  });

  it("validates security config changes and audits them", async () => {
    const h = await open(tempDir());
    const cfg: any = await h.run("security.config", { set: "rate_limit=42" });
    expect(cfg.rate_limit).toBe(42);
    await expect(h.run("security.config", { set: "rate_limit=-1" })).rejects.toMatchObject({ code: "config_invalid" });
    await expect(h.run("security.config", { set: "deny=not-an-ip" })).rejects.toMatchObject({ code: "config_invalid" });
    await h.run("config.set", { key: "security.rate_limit", value: "7" });
    expect(((await h.run("security.config")) as any).rate_limit).toBe(7);
    const actions = ((await h.kernel.audit.tail(50)) as any[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["security.config", "config.set"]));
  });
});

describe("auth tokens end to end", () => {
  it("creates the bootstrap token once, mode 0600, and never writes a token to logs, list or audit", async () => {
    const home = tempDir();
    const h = await open(home);
    const granted: any = await h.run("auth.grant", { name: "ci", scopes: ["hello.*"] });
    expect(granted.token).toMatch(/^wdn_[0-9A-Za-z]{50}$/);
    const bootstrap = readFileSync(join(home, "bootstrap.token"), "utf8").trim();
    expect(statSync(join(home, "bootstrap.token")).mode & 0o777).toBe(0o600);
    const list: any[] = (await h.run("auth.list")) as any[];
    expect(list.map((t) => t.name)).toEqual(["admin", "ci"]);
    const auth = h.kernel.services.get("auth") as any;
    await expect(auth.verify(granted.token)).resolves.toMatchObject({ name: "ci", scopes: ["hello.*"], bootstrap: false });
    await expect(auth.verify(bootstrap)).resolves.toMatchObject({ name: "admin", bootstrap: true });
    await h.run("auth.revoke", { ref: "ci" });
    await h.close();
    hosts.length = 0;
    const everything = [
      JSON.stringify(list),
      ...["logs/test.log", "logs/security.log", "system.brain", "system.brain-wal"].map((f) => {
        try {
          return readFileSync(join(home, f), "latin1");
        } catch {
          return "";
        }
      }),
    ].join("\n");
    expect(everything).not.toContain(granted.token);
    expect(everything).not.toContain(bootstrap);
    expect(everything).not.toContain(granted.token.slice(16, 48)); // the secret part
  });

  it("audits grant, revoke, rotate and reset, and reset issues a new bootstrap token", async () => {
    const home = tempDir();
    const h = await open(home);
    const old = readFileSync(join(home, "bootstrap.token"), "utf8").trim();
    await h.run("auth.grant", { name: "a", scopes: ["*"] });
    await h.run("auth.rotate", { ref: "a", grace: "1h" });
    await h.run("auth.revoke", { ref: "a" });
    const reset: any = await h.run("auth.reset");
    expect(reset.revoked).toBe(1); // admin (a was already revoked)
    const fresh = readFileSync(join(home, "bootstrap.token"), "utf8").trim();
    expect(fresh).not.toBe(old);
    const auth = h.kernel.services.get("auth") as any;
    await expect(auth.verify(old)).rejects.toMatchObject({ code: "token_revoked" });
    await expect(auth.verify(fresh)).resolves.toMatchObject({ bootstrap: true });
    const actions = ((await h.kernel.audit.tail(50)) as any[]).map((e) => e.action);
    for (const a of ["token.bootstrap", "token.grant", "token.rotate", "token.revoke", "token.reset"]) expect(actions).toContain(a);
    expect(((await h.kernel.audit.verify()) as { ok: boolean }).ok).toBe(true);
  });
});
