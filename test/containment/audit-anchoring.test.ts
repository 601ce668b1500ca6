// Someone who can write the home rewrites the audit trail; a checkpoint kept elsewhere (and the
// head's signature, with a key outside the home) catches each way of doing it.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { eventHash } from "../../core/audit/hash.js";
import { warden } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";

/** A home with a chain of events and a checkpoint at its end, kept outside the home. */
function anchoredHome(): { home: string; checkpoint: string; common: string[] } {
  const home = tempDir("warden-anchor-");
  const common = ["--home", home];
  for (let i = 0; i < 6; i++) expect(warden([...common, "config", "set", "storage.maxWritesPerSecond", String(100 + i)]).code).toBe(0);
  const checkpoint = join(tempDir("warden-elsewhere-"), "checkpoint.json");
  const r = warden([...common, "audit", "checkpoint", "--out", checkpoint, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(readFileSync(checkpoint, "utf8"))).toMatchObject({ format: "warden-audit-checkpoint/1", seq: r.json.seq });
  expect(warden([...common, "audit", "verify", "--checkpoint", checkpoint, "--json"]).json).toMatchObject({ ok: true });
  return { home, checkpoint, common };
}

const sql = (home: string, statement: string) => {
  const db = new Database(join(home, "system.brain"));
  db.exec(statement);
  db.close();
};

function verifyBoth(common: string[], checkpoint: string) {
  return {
    plain: warden([...common, "audit", "verify", "--json"]),
    anchored: warden([...common, "audit", "verify", "--checkpoint", checkpoint, "--json"]),
  };
}

describe("audit anchoring", () => {
  it("cut tail and a rewritten head: the unsigned head and the checkpoint both tell", () => {
    const { home, checkpoint, common } = anchoredHome();
    const db = new Database(join(home, "system.brain"));
    const keep = db.prepare<[], { seq: number; hash: string }>("SELECT seq, hash FROM audit WHERE seq = 3").get()!;
    db.exec("DELETE FROM audit WHERE seq > 3");
    db.close();
    writeFileSync(join(home, "audit.head"), `${keep.seq} ${keep.hash}\n`);
    const { plain, anchored } = verifyBoth(common, checkpoint);
    expect(plain.json).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    expect(anchored.json).toMatchObject({ ok: false, first_bad_seq: 4, reason: expect.stringMatching(/tail was cut/) });
    expect(anchored.code).not.toBe(0);
  });

  it("cut tail and a replayed old (validly signed) head: only the checkpoint tells, and it does", () => {
    const home = tempDir("warden-anchor-");
    const common = ["--home", home];
    for (let i = 0; i < 3; i++) warden([...common, "config", "set", "storage.maxWritesPerSecond", String(100 + i)]);
    const oldHead = join(tempDir(), "audit.head.old");
    copyFileSync(join(home, "audit.head"), oldHead);
    const seqThen = Number(readFileSync(oldHead, "utf8").split(" ")[0]);
    for (let i = 0; i < 3; i++) warden([...common, "config", "set", "storage.maxWritesPerSecond", String(200 + i)]);
    const checkpoint = join(tempDir(), "cp.json");
    expect(warden([...common, "audit", "checkpoint", "--out", checkpoint]).code).toBe(0);
    sql(home, `DELETE FROM audit WHERE seq > ${seqThen}`);
    copyFileSync(oldHead, join(home, "audit.head"));
    const { plain, anchored } = verifyBoth(common, checkpoint);
    expect(plain.json).toMatchObject({ ok: true }); // a consistent, signed, shorter chain
    expect(anchored.json).toMatchObject({ ok: false, first_bad_seq: seqThen + 1, reason: expect.stringMatching(/tail was cut/) });
  });

  it("a recomputed history after an edit: the head's signature and the checkpoint both tell", () => {
    const { home, checkpoint, common } = anchoredHome();
    const db = new Database(join(home, "system.brain"));
    db.exec(`UPDATE audit SET actor = 'operator:someone-else' WHERE seq = 2`);
    // Recompute every hash from seq 2 on, as a careful attacker would.
    const rows = db.prepare<[], { seq: number; time: string; actor: string; action: string; target: string | null; data: string; prev_hash: string }>("SELECT * FROM audit ORDER BY seq").all();
    let prev = rows[0]!.prev_hash;
    let last = { seq: 0, hash: "" };
    for (const r of rows) {
      const hash = eventHash(prev, { seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, data: JSON.parse(r.data) });
      db.prepare("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?").run(prev, hash, r.seq);
      prev = hash;
      last = { seq: r.seq, hash };
    }
    db.close();
    writeFileSync(join(home, "audit.head"), `${last.seq} ${last.hash}\n`);
    const { plain, anchored } = verifyBoth(common, checkpoint);
    expect(plain.json).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    expect(anchored.json).toMatchObject({ ok: false, reason: expect.stringMatching(/rewritten/) });
  });

  it("a deleted chain (rows and head): looks empty without the checkpoint, is caught with it", () => {
    const { home, checkpoint, common } = anchoredHome();
    sql(home, "DELETE FROM audit");
    rmSync(join(home, "audit.head"));
    const { plain, anchored } = verifyBoth(common, checkpoint);
    expect(plain.json).toMatchObject({ ok: true, count: 0 });
    expect(anchored.json).toMatchObject({ ok: false, first_bad_seq: 1, reason: expect.stringMatching(/chain was deleted/) });
  });

  it("refuses a checkpoint that was edited or made with another key", () => {
    const { checkpoint, common } = anchoredHome();
    const cp = JSON.parse(readFileSync(checkpoint, "utf8"));
    writeFileSync(checkpoint, JSON.stringify({ ...cp, seq: cp.seq - 1 }));
    const r = warden([...common, "audit", "verify", "--checkpoint", checkpoint, "--json"]);
    expect(r.json.error).toMatchObject({ code: "input_invalid", message: expect.stringMatching(/signature does not verify/) });
  });
});
