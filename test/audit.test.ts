import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog } from "../core/audit/index.js";
import { openSqliteStore } from "../core/store/sqlite-store.js";
import type { Store } from "../core/store/store.js";
import { tempDir } from "./helpers/modules.js";

const opened: Store[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function chain(n = 10) {
  const dir = tempDir();
  const file = join(dir, "system.brain");
  const store = openSqliteStore(file);
  opened.push(store);
  const audit = new AuditLog(store, join(dir, "audit.head"));
  for (let i = 1; i <= n; i++) audit.append({ actor: "operator:local", action: "test.event", target: `t${i}`, data: { i } });
  return { dir, file, store, audit };
}

/** Tamper with the database behind the host's back, as an attacker with file access would. */
function tamper(file: string, sql: string) {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

describe("audit chain", () => {
  it("verifies an intact chain and reports its count", () => {
    const { audit } = chain(10);
    expect(audit.verify()).toEqual({ ok: true, count: 10 });
    expect(audit.tail(3).map((e) => e.seq)).toEqual([8, 9, 10]);
    const [first] = audit.tail(10);
    expect(first!.prev_hash).toBe("0".repeat(64));
  });

  it("detects a changed byte at the right seq", () => {
    const { file, audit } = chain(10);
    tamper(file, `UPDATE audit SET data = '{"i":99}' WHERE seq = 4`);
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 4 });
    expect(audit.verify().reason).toMatch(/modified/);
  });

  it("detects a changed actor", () => {
    const { file, audit } = chain(5);
    tamper(file, `UPDATE audit SET actor = 'operator:someone-else' WHERE seq = 2`);
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 2 });
  });

  it("detects a deleted row at the right seq", () => {
    const { file, audit } = chain(10);
    tamper(file, "DELETE FROM audit WHERE seq = 6");
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 6 });
  });

  it("detects reordered rows", () => {
    const { file, audit } = chain(10);
    tamper(file, `
      UPDATE audit SET seq = -3 WHERE seq = 3;
      UPDATE audit SET seq = 3 WHERE seq = 7;
      UPDATE audit SET seq = 7 WHERE seq = -3;`);
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 3 });
  });

  it("detects a cut tail through audit.head", () => {
    const { file, audit } = chain(10);
    tamper(file, "DELETE FROM audit WHERE seq > 7");
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 8 });
    expect(audit.verify().reason).toMatch(/tail cut/);
  });

  it("detects a rewritten chain whose head no longer matches", () => {
    const { dir, audit } = chain(3);
    writeFileSync(join(dir, "audit.head"), `3 ${"f".repeat(64)}\n`);
    expect(audit.verify()).toMatchObject({ ok: false, first_bad_seq: 3 });
  });

  it("fails closed: an event that cannot be written throws audit_failed", () => {
    const { audit, store } = chain(1);
    store.close(); // the database is gone
    expect(() => audit.append({ actor: "a", action: "x" })).toThrow(expect.objectContaining({ code: "audit_failed" }));
    opened.length = 0;
  });

  it("fails closed: an action whose event cannot be written is not performed", async () => {
    const { Host } = await import("../core/host.js");
    const { silentLogger } = await import("../core/log/index.js");
    const home = tempDir();
    const h = await Host.open({ home, userRuntime: "inprocess", logger: silentLogger(), systemDir: tempDir() });
    try {
      // audit.head cannot be replaced: a directory stands where the temporary file goes.
      const { mkdirSync } = await import("node:fs");
      mkdirSync(join(home, "audit.head.tmp"));
      await expect(h.run("config.set", { key: "sandbox.maxTimeoutMs", value: 1234 })).rejects.toMatchObject({ code: "audit_failed" });
      expect(h.kernel.config.get("sandbox.maxTimeoutMs")).not.toBe(1234);
    } finally {
      await h.close();
    }
  });

  it("never stores a secret in event data", () => {
    const { audit, dir } = chain(0);
    const token = "wdn_" + "A".repeat(50);
    audit.append({ actor: "t", action: "token.grant", data: { token, password: "hunter2", nested: { authorization: "Bearer x", note: `leaked ${token}` } } });
    const [e] = audit.tail(1);
    expect(JSON.stringify(e!.data)).not.toContain("A".repeat(50));
    expect(JSON.stringify(e!.data)).not.toContain("hunter2");
    expect(e!.data).toMatchObject({ token: "[redacted]", password: "[redacted]", nested: { authorization: "[redacted]" } });
    expect(readFileSync(join(dir, "system.brain")).includes(Buffer.from("hunter2"))).toBe(false);
  });
});
