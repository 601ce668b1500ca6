// Console sessions on their own, with a clock the test moves: one-time codes, idle expiry, revoke,
// the session limit, and what a forged cookie gets.
import { describe, expect, it } from "vitest";
import type { JsonValue, StorageApi } from "../../sdk/context.js";
import { MAX_CODES, SessionStore } from "../../modules/console/sessions.js";

const OP = { principal: "operator:local" };

function memoryStorage(): StorageApi & { data: Map<string, JsonValue> } {
  const data = new Map<string, JsonValue>();
  return {
    data,
    get: async (k) => structuredClone(data.get(k)) as never,
    set: async (k, v) => void data.set(k, structuredClone(v)),
    delete: async (k) => data.delete(k),
    list: async (prefix = "", limit = 1000) =>
      [...data.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .slice(0, limit),
  };
}

const NO_OIDC = { "oidc.issuer": "", "oidc.client_id": "", "oidc.claim": "email" as const, "oidc.redirect_url": "" };
function store(given: { idle_minutes: number; max_hours: number; code_seconds: number; max_sessions: number } = { idle_minutes: 30, max_hours: 12, code_seconds: 300, max_sessions: 3 }) {
  const settings = { ...given, ...NO_OIDC };
  let now = Date.parse("2026-01-01T00:00:00Z");
  const storage = memoryStorage();
  /** Token id -> its credential now (absent: revoked or expired). */
  const tokens = new Map<string, string>();
  const ended: Array<[string, string]> = [];
  const s = new SessionStore(
    storage,
    () => settings,
    { credential: async (id) => tokens.get(id), ended: async (id, reason) => void ended.push([id, reason]), operatorExists: () => true, addressRefused: async () => {} },
    () => now,
  );
  return { s, storage, tokens, ended, advance: (ms: number) => void (now += ms) };
}

describe("console sessions", () => {
  it("a login code opens one session, once, within its lifetime", async () => {
    const { s, advance } = store();
    const { code } = await s.issueCode(["*"], "operator:local", OP);
    const opened = await s.login(code, "127.0.0.1");
    expect(opened.record.scopes).toEqual(["*"]);
    await expect(s.verify(opened.cookie, "127.0.0.1")).resolves.toMatchObject({ id: opened.record.id });
    await expect(s.login(code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
    const late = await s.issueCode(["*"], "operator:local", OP);
    advance(301_000);
    await expect(s.login(late.code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
    await expect(s.login("x".repeat(43), "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
  });

  it("keeps only digests: neither the code nor the cookie's secret is stored", async () => {
    const { s, storage } = store();
    const { code } = await s.issueCode(["*"], "operator:local", OP);
    const opened = await s.login(code, "127.0.0.1");
    const stored = JSON.stringify([...storage.data]);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(opened.cookie.split(".")[1]);
  });

  it("ends a session idle longer than console.idle_minutes; use keeps it alive", async () => {
    const { s, advance } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    advance(29 * 60_000);
    await s.verify(opened.cookie, "127.0.0.1"); // used: the idle clock restarts
    advance(29 * 60_000);
    await expect(s.verify(opened.cookie, "127.0.0.1")).resolves.toBeDefined();
    advance(31 * 60_000);
    await expect(s.verify(opened.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
    expect(await s.list()).toEqual([]); // gone for good
  });

  it("a revoked session, a wrong secret and a malformed cookie open nothing", async () => {
    const { s } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    const [id] = opened.cookie.split(".");
    await expect(s.verify(`${id}.${"A".repeat(43)}`, "127.0.0.1")).rejects.toMatchObject({ code: "unauthorized" });
    await expect(s.verify("garbage", "127.0.0.1")).rejects.toMatchObject({ code: "unauthorized" });
    expect(await s.end(id!)).toBe(true);
    await expect(s.verify(opened.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
  });

  it("ends a session at console.max_hours however busy it is kept (an open tab polls every few seconds)", async () => {
    const { s, advance, ended } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    for (let i = 0; i < 28; i++) {
      advance(25 * 60_000); // used every 25 minutes: never idle
      await s.verify(opened.cookie, "127.0.0.1");
    }
    advance(25 * 60_000); // 725 minutes old
    await expect(s.verify(opened.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired", message: expect.stringContaining("console.max_hours") });
    expect(ended).toEqual([[opened.record.id, "lifetime"]]);
  });

  it("a session or a login URL stands on its token: revoked, expired or rotated, it opens nothing", async () => {
    const { s, tokens, ended } = store();
    tokens.set("t1", "cred-1");
    const opened = await s.openForToken({ id: "t1", credential: "cred-1" }, ["console.login"], "127.0.0.1");
    await expect(s.verify(opened.cookie, "127.0.0.1")).resolves.toBeDefined();
    tokens.set("t1", "cred-2"); // rotated
    await expect(s.verify(opened.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
    expect(ended).toEqual([[opened.record.id, "token"]]);
    const { code } = await s.issueCode(["console.manage"], "token:t1", { principal: "token:t1" }, { id: "t1", credential: "cred-2" });
    tokens.delete("t1"); // revoked
    await expect(s.login(code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
  });

  it("keeps at most MAX_CODES unused login URLs, and reads no more than those to issue one", async () => {
    const { s, storage, advance } = store();
    for (let i = 0; i < MAX_CODES; i++) await s.issueCode(["console.manage"], "token:x", { principal: "token:x" });
    await expect(s.issueCode(["console.manage"], "token:x", { principal: "token:x" })).rejects.toMatchObject({ code: "rate_limited" });
    expect([...storage.data.keys()].filter((k) => k.startsWith("code:")).length).toBe(MAX_CODES);
    advance(301_000); // they expire and make room
    await expect(s.issueCode(["console.manage"], "token:x", { principal: "token:x" })).resolves.toBeDefined();
    expect([...storage.data.keys()].filter((k) => k.startsWith("code:")).length).toBe(1);
  });

  it("holds at most console.max_sessions per principal: each gives up its own least recently used, never another's", async () => {
    const { s, advance, tokens, ended } = store();
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1"));
      advance(60_000);
    }
    expect((await s.list()).length).toBe(3);
    await expect(s.verify(opened[0]!.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
    expect(ended).toEqual([[opened[0]!.record.id, "evicted"]]);
    // A token has slots of its own: logging in ends none of the operator's.
    tokens.set("t9", "c");
    await s.openForToken({ id: "t9", credential: "c" }, ["console.login"], "127.0.0.1");
    expect((await s.list()).length).toBe(4);
    for (const o of opened.slice(1)) await expect(s.verify(o.cookie, "127.0.0.1")).resolves.toBeDefined();
  });

  it("session slots are per principal: a console.login token filling its own cannot lock the operator out", async () => {
    const { s, tokens } = store();
    tokens.set("greedy", "c");
    for (let i = 0; i < 50; i++) await s.openForToken({ id: "greedy", credential: "c" }, ["console.login"], "127.0.0.1");
    expect((await s.list()).filter((r) => r.principal === "token:greedy").length).toBe(3);
    const mine = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    await expect(s.verify(mine.cookie, "127.0.0.1")).resolves.toMatchObject({ principal: "operator:local" });
    // Many tokens together fill the whole console: the operator still gets in, the largest holder makes room.
    for (let t = 0; t < 12; t++) {
      tokens.set(`t${t}`, "c");
      for (let i = 0; i < 3; i++) await s.openForToken({ id: `t${t}`, credential: "c" }, ["console.login"], "127.0.0.1");
    }
    expect((await s.list()).length).toBeLessThanOrEqual(3 * 8);
    const again = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    await expect(s.verify(again.cookie, "127.0.0.1")).resolves.toBeDefined();
    await expect(s.verify(mine.cookie, "127.0.0.1")).resolves.toBeDefined();
  });

  it("derived credentials never outlive their parent: ending a session ends the sessions its login URLs opened", async () => {
    const { s, ended } = store();
    const parent = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    const child = await s.login((await s.issueCode(["*"], `console:${parent.record.id}`, { principal: parent.record.principal, parent: parent.record })).code, "127.0.0.1");
    const pending = await s.issueCode(["*"], `console:${parent.record.id}`, { principal: parent.record.principal, parent: parent.record });
    expect(child.record).toMatchObject({ principal: "operator:local", parent: parent.record.id, deadline: parent.record.deadline });
    await expect(s.verify(child.cookie, "127.0.0.1")).resolves.toBeDefined();
    await s.end(parent.record.id); // revoke (or logout) of the parent
    await expect(s.verify(child.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
    expect(ended).toContainEqual([child.record.id, "parent"]);
    // A login URL the parent asked for opens nothing once the parent is gone.
    await expect(s.login(pending.code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
  });

  it("derived credentials never outlive their parent: a chain of login URLs ends at the first session's console.max_hours", async () => {
    const { s, advance } = store({ idle_minutes: 30, max_hours: 12, code_seconds: 300, max_sessions: 10 });
    let current = await s.login((await s.issueCode(["*"], "operator:local", OP)).code, "127.0.0.1");
    const first = current;
    let elapsed = 0;
    const step = async () => {
      advance(20 * 60_000);
      elapsed += 20 * 60_000;
      for (const l of line) await s.verify(l.cookie, "127.0.0.1"); // each is used, so none is idle
    };
    // Every 20 minutes the newest session mints the next.
    const line = [current];
    for (let i = 0; i < 4; i++) {
      await step();
      current = await s.login((await s.issueCode(["*"], `console:${current.record.id}`, { principal: "operator:local", parent: current.record })).code, "127.0.0.1");
      line.push(current);
      expect(current.record.deadline).toBe(first.record.deadline);
    }
    // At most MAX_LINEAGE deep.
    await expect(s.issueCode(["*"], `console:${current.record.id}`, { principal: "operator:local", parent: current.record })).rejects.toMatchObject({ code: "rate_limited" });
    while (elapsed + 20 * 60_000 < 12 * 3_600_000) await step();
    advance(21 * 60_000); // past the first session's 12 hours; the last was opened 11 hours ago
    for (const l of line) await expect(s.verify(l.cookie, "127.0.0.1")).rejects.toMatchObject({ code: "session_expired" });
  });
});
