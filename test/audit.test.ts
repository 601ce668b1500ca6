import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog, canonicalJson, eventHash, GENESIS } from "../core/audit/index.js";
import { writeHead } from "../core/audit/head.js";
import { openSqliteStore } from "../core/store/sqlite-store.js";
import type { Store } from "../core/store/store.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function chain(n = 10) {
  const dir = tempDir();
  const file = join(dir, "system.brain");
  const store = openSqliteStore(file);
  opened.push(store);
  const head = join(dir, "audit.head");
  const audit = new AuditLog(store, head);
  for (let i = 1; i <= n; i++) await audit.append({ actor: "operator:local", action: "test.event", target: `t${i}`, data: { i } });
  return { dir, file, head, store, audit };
}

/** Tamper with the database behind the host's back, as an attacker with file access would. */
function tamper(file: string, sql: string) {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

describe("canonical JSON", () => {
  it("sorts keys at every depth and has no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }], e: "x" })).toBe('{"a":[{"c":null,"d":true}],"b":1,"e":"x"}');
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
  });

  it("refuses values JSON cannot hold", () => {
    for (const v of [NaN, Infinity, 1n, () => 1, Symbol("s"), new Date(0), new Map(), [undefined]]) {
      expect(() => canonicalJson({ v })).toThrow(TypeError);
    }
  });
});

describe("audit chain", () => {
  it("appends linked events and verifies an intact chain", async () => {
    const { audit, head } = await chain(10);
    expect(await audit.verify()).toEqual({ ok: true, count: 10 });
    const events = await audit.tail(10);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events[0]!.prev_hash).toBe(GENESIS);
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev_hash).toBe(events[i - 1]!.hash);
    const e = events[3]!;
    expect(e).toMatchObject({ actor: "operator:local", action: "test.event", target: "t4", data: { i: 4 } });
    expect(e.hash).toBe(eventHash(e.prev_hash, e));
    expect((await audit.tail(3)).map((x) => x.seq)).toEqual([8, 9, 10]);
    expect(await audit.tail(0)).toEqual([]);
    expect(await audit.tail(-1)).toEqual([]);
    // The head names the last event; owner-only.
    expect(readFileSync(head, "utf8")).toBe(`10 ${events[9]!.hash}\n`);
    expect(statSync(head).mode & 0o777).toBe(0o600);
  });

  it("returns from append what tail later reads back", async () => {
    const { audit } = await chain(0);
    const e = await audit.append({ actor: "a", action: "x.y", data: { z: 1, a: [1, "two"], gone: undefined } });
    expect(await audit.tail(1)).toEqual([e]);
    expect(e.target).toBeNull();
  });

  it("an empty chain with no head is intact with count 0", async () => {
    const { audit } = await chain(0);
    expect(await audit.verify()).toEqual({ ok: true, count: 0 });
  });

  it("detects a changed byte at the right seq", async () => {
    const { file, audit } = await chain(10);
    tamper(file, `UPDATE audit SET data = '{"i":99}' WHERE seq = 4`);
    expect(await audit.verify()).toEqual({ ok: false, count: 3, first_bad_seq: 4, reason: "hash mismatch at seq 4 (row modified)" });
  });

  it("detects a changed actor, time or hash column", async () => {
    for (const sql of [
      "UPDATE audit SET actor = 'operator:someone-else' WHERE seq = 2",
      "UPDATE audit SET time = '2000-01-01T00:00:00.000Z' WHERE seq = 2",
      "UPDATE audit SET hash = replace(hash, substr(hash, 1, 1), CASE substr(hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END) WHERE seq = 2",
    ]) {
      const { file, audit } = await chain(5);
      tamper(file, sql);
      expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 2 });
    }
  });

  it("detects a deleted row at the right seq", async () => {
    const { file, audit } = await chain(10);
    tamper(file, "DELETE FROM audit WHERE seq = 6");
    expect(await audit.verify()).toMatchObject({ ok: false, count: 5, first_bad_seq: 6, reason: expect.stringMatching(/seq 6 is missing/) });
  });

  it("detects a deleted first row", async () => {
    const { file, audit } = await chain(5);
    tamper(file, "DELETE FROM audit WHERE seq = 1");
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 1 });
  });

  it("detects reordered rows (seq numbers swapped)", async () => {
    const { file, audit } = await chain(10);
    tamper(
      file,
      `
      UPDATE audit SET seq = -3 WHERE seq = 3;
      UPDATE audit SET seq = 3 WHERE seq = 7;
      UPDATE audit SET seq = 7 WHERE seq = -3;`,
    );
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 3, reason: expect.stringMatching(/reordered/) });
  });

  it("detects reordered rows (contents swapped, seq kept)", async () => {
    const { file, audit } = await chain(10);
    const cols = ["time", "actor", "action", "target", "data", "prev_hash", "hash"];
    const set = (to: number, from: string) => cols.map((c) => `${c} = (SELECT ${c} FROM ${from})`).join(", ");
    tamper(
      file,
      `
      CREATE TEMP TABLE keep AS SELECT * FROM audit WHERE seq = 5;
      UPDATE audit SET ${set(5, "audit a2 WHERE a2.seq = 8")} WHERE seq = 5;
      UPDATE audit SET ${set(8, "keep")} WHERE seq = 8;`,
    );
    expect((await audit.tail(10))[4]!.target).toBe("t8");
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 5, reason: expect.stringMatching(/prev_hash mismatch at seq 5/) });
  });

  it("detects a cut tail through audit.head", async () => {
    const { file, audit } = await chain(10);
    tamper(file, "DELETE FROM audit WHERE seq > 7");
    expect(await audit.verify()).toMatchObject({ ok: false, count: 7, first_bad_seq: 8, reason: expect.stringMatching(/tail cut/) });
  });

  it("detects a chain cut to nothing", async () => {
    const { file, audit } = await chain(3);
    tamper(file, "DELETE FROM audit");
    expect(await audit.verify()).toMatchObject({ ok: false, count: 0, first_bad_seq: 1, reason: expect.stringMatching(/tail cut/) });
  });

  it("keeps reporting a cut tail after the next append instead of healing it", async () => {
    const { file, audit } = await chain(10);
    tamper(file, "DELETE FROM audit WHERE seq > 7");
    const e = await audit.append({ actor: "operator:local", action: "test.after" });
    expect(e.seq).toBe(9); // seq 8 is the host's own record of the disagreement
    const [evidence] = await audit.tail(2);
    expect(evidence).toMatchObject({ seq: 8, actor: "host", action: "audit.head_mismatch", data: { first_bad_seq: 8, chain_seq: 7 } });
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: false, first_bad_seq: 8, reason: expect.stringMatching(/tail cut.*recorded at seq 8/) });
    await audit.append({ actor: "operator:local", action: "test.later" });
    expect(await audit.verify()).toEqual(r);
  });

  it("refuses the host's reserved action from callers", async () => {
    const { audit } = await chain(1);
    await expect(audit.append({ actor: "host", action: "audit.head_mismatch" })).rejects.toThrow(expect.objectContaining({ code: "audit_failed" }));
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
  });

  it("detects rows appended outside Warden (head behind the chain)", async () => {
    const { file, audit, store } = await chain(5);
    const last = (await audit.tail(1))[0]!;
    const forged = { seq: 6, time: new Date().toISOString(), actor: "operator:local", action: "test.event", target: "forged", data: {} };
    const hash = eventHash(last.hash, forged);
    tamper(
      file,
      `INSERT INTO audit (seq, time, actor, action, target, data, prev_hash, hash)
      VALUES (6, '${forged.time}', 'operator:local', 'test.event', 'forged', '{}', '${last.hash}', '${hash}')`,
    );
    expect(await store.audit.count()).toBe(6);
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 6, reason: expect.stringMatching(/inserted outside Warden/) });
  });

  it("a crash at any instant leaves a chain that verifies: stopped between an event's commit and its head's replacement", async () => {
    const { head, audit } = await chain(5);
    const h5 = readFileSync(head, "utf8");
    await audit.append({ actor: "operator:local", action: "test.event", target: "t6" });
    // What kill -9 at that instant leaves: event 6 committed, its head prepared beside the old one.
    writeFileSync(`${head}.tmp`, readFileSync(head, "utf8"));
    writeFileSync(head, h5);
    expect(await audit.verify()).toEqual({ ok: true, count: 6 });
    // The next event brings the head up to date, and says so in the chain.
    await audit.append({ actor: "operator:local", action: "test.event", target: "t7" });
    const tail = (await audit.tail(2)).map((e) => e.action);
    expect(tail).toEqual(["audit.head_repaired", "test.event"]);
    expect(await audit.verify()).toEqual({ ok: true, count: 8 });
    expect(readFileSync(head, "utf8")).toMatch(/^8 /);
  });

  it("a crash before the commit leaves the head where it was (the event never happened)", async () => {
    const { head, audit } = await chain(3);
    // A head prepared for an event that never committed: ignored, and replaced by the next one.
    writeFileSync(`${head}.tmp`, `4 ${"a".repeat(64)}\n`);
    expect(await audit.verify()).toEqual({ ok: true, count: 3 });
    await audit.append({ actor: "operator:local", action: "test.event", target: "t4" });
    expect(await audit.verify()).toEqual({ ok: true, count: 4 });
  });

  it("detects a rewritten chain whose head no longer matches", async () => {
    const { head, audit } = await chain(3);
    writeFileSync(head, `3 ${"f".repeat(64)}\n`);
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 3, reason: expect.stringMatching(/different hash/) });
  });

  it("reports a missing or unreadable head when rows exist", async () => {
    const { head, audit } = await chain(4);
    rmSync(head);
    expect(await audit.verify()).toMatchObject({ ok: false, count: 4, first_bad_seq: 5, reason: expect.stringMatching(/audit.head is missing/) });
    writeFileSync(head, "garbage");
    expect(await audit.verify()).toMatchObject({ ok: false, count: 4, first_bad_seq: 5, reason: expect.stringMatching(/unreadable/) });
  });

  it("walks long chains in batches and still names the right seq", async () => {
    const { dir, file, store } = await chain(0);
    let prev = GENESIS;
    await store.transaction(async (tx) => {
      for (let seq = 1; seq <= 2500; seq++) {
        const base = { seq, time: new Date(seq * 1000).toISOString(), actor: "a", action: "bulk", target: null, data: { seq } };
        const hash = eventHash(prev, base);
        await tx.audit.append({ ...base, data: canonicalJson(base.data), prevHash: prev, hash });
        prev = hash;
      }
    });
    writeFileSync(join(dir, "audit.head"), `2500 ${prev}\n`);
    const audit = new AuditLog(store, join(dir, "audit.head"));
    expect(await audit.verify()).toEqual({ ok: true, count: 2500 });
    tamper(file, `UPDATE audit SET data = '{"seq":0}' WHERE seq = 1777`);
    expect(await audit.verify()).toMatchObject({ ok: false, first_bad_seq: 1777 });
  });

  it("fails closed: a closed store makes append throw audit_failed", async () => {
    const { audit, store } = await chain(1);
    await store.close(); // the database is gone
    await expect(audit.append({ actor: "a", action: "x" })).rejects.toThrow(expect.objectContaining({ code: "audit_failed" }));
    opened.length = 0;
  });

  it("fails closed: when audit.head cannot be written, the row is rolled back too", async () => {
    const { audit, store, head } = await chain(2);
    const before = readFileSync(head, "utf8");
    mkdirSync(`${head}.tmp`); // a directory stands where the temporary file goes
    await expect(audit.append({ actor: "a", action: "x" })).rejects.toThrow(expect.objectContaining({ code: "audit_failed" }));
    expect(await store.audit.count()).toBe(2);
    expect(readFileSync(head, "utf8")).toBe(before);
    rmSync(`${head}.tmp`, { recursive: true });
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it("fails closed: data JSON cannot hold is refused, not coerced", async () => {
    const { audit, store } = await chain(0);
    for (const data of [{ n: NaN }, { b: 1n }, { f: () => 1 }]) {
      await expect(audit.append({ actor: "a", action: "x", data })).rejects.toThrow(expect.objectContaining({ code: "audit_failed" }));
    }
    await expect(audit.append({ actor: "", action: "x" })).rejects.toThrow(expect.objectContaining({ code: "audit_failed" }));
    expect(await store.audit.count()).toBe(0);
  });

  it("fails closed: an action whose event cannot be written is not performed", async () => {
    const { Host } = await import("../core/host.js");
    const { silentLogger } = await import("../core/log/index.js");
    const home = tempDir();
    const h = await testHost({ home, userRuntime: "inprocess", logger: silentLogger(), systemDir: tempDir() });
    try {
      mkdirSync(join(home, "audit.head.tmp"));
      await expect(h.run("config.set", { key: "sandbox.maxTimeoutMs", value: 1234 })).rejects.toMatchObject({ code: "audit_failed" });
      expect(h.kernel.config.get("sandbox.maxTimeoutMs")).not.toBe(1234);
    } finally {
      await h.close();
    }
  });

  it("never stores a secret in event data", async () => {
    const { audit, dir } = await chain(0);
    const token = "wdn_" + "A".repeat(50);
    await audit.append({
      actor: "t",
      action: "token.grant",
      data: {
        token,
        Password: "hunter2",
        apiKey: "k-123456",
        "X-API-Key": "k-abcdef",
        Cookie: "sid=s3cr3t",
        SECRET: "shh",
        nested: { authorization: "Bearer x", note: `leaked ${token}`, list: [`${token}`] },
      },
    });
    const [e] = await audit.tail(1);
    const text = JSON.stringify(e!.data);
    for (const s of ["A".repeat(50), "hunter2", "k-123456", "k-abcdef", "s3cr3t", "shh", "Bearer x"]) expect(text).not.toContain(s);
    expect(e!.data).toEqual({
      token: "[redacted]",
      Password: "[redacted]",
      apiKey: "[redacted]",
      "X-API-Key": "[redacted]",
      Cookie: "[redacted]",
      SECRET: "[redacted]",
      nested: { authorization: "[redacted]", note: "leaked wdn_[redacted]", list: ["wdn_[redacted]"] },
    });
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
    const db = readFileSync(join(dir, "system.brain"));
    const wal = (() => {
      try {
        return readFileSync(join(dir, "system.brain-wal"));
      } catch {
        return Buffer.alloc(0);
      }
    })();
    for (const buf of [db, wal]) {
      expect(buf.includes(Buffer.from("hunter2"))).toBe(false);
      expect(buf.includes(Buffer.from("A".repeat(50)))).toBe(false);
    }
  });
});

describe("audit verify on a long chain", () => {
  it("yields to the event loop between batches and runs at most two at once", async () => {
    const dir = tempDir();
    const store = openSqliteStore(join(dir, "system.brain"));
    opened.push(store);
    // Built without a head file (no fsync per event), which is then written once for the chain.
    const builder = new AuditLog(store, undefined);
    await store.transaction(async (tx) => {
      for (let i = 1; i <= 20_000; i++) await builder.append({ actor: "operator:local", action: "test.event", data: { i } }, tx);
    });
    const last = (await store.audit.last())!;
    writeHead(join(dir, "audit.head"), last.seq, last.hash);
    const audit = new AuditLog(store, join(dir, "audit.head"));
    let ticks = 0;
    let done = false;
    const timer = setInterval(() => {
      if (!done) ticks++;
    }, 0);
    const running = [audit.verify(), audit.verify()];
    await expect(audit.verify()).rejects.toMatchObject({ code: "rate_limited" });
    const results = await Promise.all(running);
    done = true;
    clearInterval(timer);
    for (const r of results) expect(r).toEqual({ ok: true, count: 20_000 });
    // Timers ran while the chain was walked: other requests were not held up behind it.
    expect(ticks).toBeGreaterThan(5);
  }, 60_000);
});
