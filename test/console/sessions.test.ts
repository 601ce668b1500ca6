// Console sessions on their own, with a clock the test moves: one-time codes, idle expiry, revoke,
// the session limit, and what a forged cookie gets.
import { describe, expect, it } from "vitest";
import type { JsonValue, StorageApi } from "../../sdk/context.js";
import { MAX_CODES, SessionStore } from "../../modules/console/sessions.js";

function memoryStorage(): StorageApi & { data: Map<string, JsonValue> } {
  const data = new Map<string, JsonValue>();
  return {
    data,
    get: async (k) => structuredClone(data.get(k)) as never,
    set: async (k, v) => void data.set(k, structuredClone(v)),
    delete: async (k) => data.delete(k),
    list: async (prefix = "", limit = 1000) => [...data.keys()].filter((k) => k.startsWith(prefix)).sort().slice(0, limit),
  };
}

function store(settings = { idle_minutes: 30, max_hours: 12, code_seconds: 300, max_sessions: 3 }) {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const storage = memoryStorage();
  /** Token id -> its credential now (absent: revoked or expired). */
  const tokens = new Map<string, string>();
  const ended: Array<[string, string]> = [];
  const s = new SessionStore(storage, () => settings, { credential: async (id) => tokens.get(id), ended: async (id, reason) => void ended.push([id, reason]) }, () => now);
  return { s, storage, tokens, ended, advance: (ms: number) => void (now += ms) };
}

describe("console sessions", () => {
  it("a login code opens one session, once, within its lifetime", async () => {
    const { s, advance } = store();
    const { code } = await s.issueCode(["*"], "operator:local");
    const opened = await s.login(code, "127.0.0.1");
    expect(opened.record.scopes).toEqual(["*"]);
    await expect(s.verify(opened.cookie)).resolves.toMatchObject({ id: opened.record.id });
    await expect(s.login(code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
    const late = await s.issueCode(["*"], "operator:local");
    advance(301_000);
    await expect(s.login(late.code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
    await expect(s.login("x".repeat(43), "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
  });

  it("keeps only digests: neither the code nor the cookie's secret is stored", async () => {
    const { s, storage } = store();
    const { code } = await s.issueCode(["*"], "operator:local");
    const opened = await s.login(code, "127.0.0.1");
    const stored = JSON.stringify([...storage.data]);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(opened.cookie.split(".")[1]);
  });

  it("ends a session idle longer than console.idle_minutes; use keeps it alive", async () => {
    const { s, advance } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local")).code, "127.0.0.1");
    advance(29 * 60_000);
    await s.verify(opened.cookie); // used: the idle clock restarts
    advance(29 * 60_000);
    await expect(s.verify(opened.cookie)).resolves.toBeDefined();
    advance(31 * 60_000);
    await expect(s.verify(opened.cookie)).rejects.toMatchObject({ code: "session_expired" });
    expect(await s.list()).toEqual([]); // gone for good
  });

  it("a revoked session, a wrong secret and a malformed cookie open nothing", async () => {
    const { s } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local")).code, "127.0.0.1");
    const [id] = opened.cookie.split(".");
    await expect(s.verify(`${id}.${"A".repeat(43)}`)).rejects.toMatchObject({ code: "unauthorized" });
    await expect(s.verify("garbage")).rejects.toMatchObject({ code: "unauthorized" });
    expect(await s.end(id!)).toBe(true);
    await expect(s.verify(opened.cookie)).rejects.toMatchObject({ code: "session_expired" });
  });

  it("ends a session at console.max_hours however busy it is kept (an open tab polls every few seconds)", async () => {
    const { s, advance, ended } = store();
    const opened = await s.login((await s.issueCode(["*"], "operator:local")).code, "127.0.0.1");
    for (let i = 0; i < 28; i++) {
      advance(25 * 60_000); // used every 25 minutes: never idle
      await s.verify(opened.cookie);
    }
    advance(25 * 60_000); // 725 minutes old
    await expect(s.verify(opened.cookie)).rejects.toMatchObject({ code: "session_expired", message: expect.stringContaining("console.max_hours") });
    expect(ended).toEqual([[opened.record.id, "lifetime"]]);
  });

  it("a session or a login URL stands on its token: revoked, expired or rotated, it opens nothing", async () => {
    const { s, tokens, ended } = store();
    tokens.set("t1", "cred-1");
    const opened = await s.openForToken({ id: "t1", credential: "cred-1" }, ["console.login"], "127.0.0.1");
    await expect(s.verify(opened.cookie)).resolves.toBeDefined();
    tokens.set("t1", "cred-2"); // rotated
    await expect(s.verify(opened.cookie)).rejects.toMatchObject({ code: "session_expired" });
    expect(ended).toEqual([[opened.record.id, "token"]]);
    const { code } = await s.issueCode(["console.manage"], "token:t1", { id: "t1", credential: "cred-2" });
    tokens.delete("t1"); // revoked
    await expect(s.login(code, "127.0.0.1")).rejects.toMatchObject({ code: "login_code_invalid" });
  });

  it("keeps at most MAX_CODES unused login URLs, and reads no more than those to issue one", async () => {
    const { s, storage, advance } = store();
    for (let i = 0; i < MAX_CODES; i++) await s.issueCode(["console.manage"], "token:x");
    await expect(s.issueCode(["console.manage"], "token:x")).rejects.toMatchObject({ code: "rate_limited" });
    expect([...storage.data.keys()].filter((k) => k.startsWith("code:")).length).toBe(MAX_CODES);
    advance(301_000); // they expire and make room
    await expect(s.issueCode(["console.manage"], "token:x")).resolves.toBeDefined();
    expect([...storage.data.keys()].filter((k) => k.startsWith("code:")).length).toBe(1);
  });

  it("holds at most console.max_sessions: a principal gives up its own least recently used, never another's", async () => {
    const { s, advance, tokens, ended } = store();
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(await s.login((await s.issueCode(["*"], "operator:local")).code, "127.0.0.1"));
      advance(60_000);
    }
    expect((await s.list()).length).toBe(3);
    await expect(s.verify(opened[0]!.cookie)).rejects.toMatchObject({ code: "session_expired" });
    expect(ended).toEqual([[opened[0]!.record.id, "evicted"]]);
    // Full of the operator's sessions: a token with none of its own is refused, and ends none.
    tokens.set("t9", "c");
    await expect(s.openForToken({ id: "t9", credential: "c" }, ["console.login"], "127.0.0.1")).rejects.toMatchObject({ code: "rate_limited" });
    expect((await s.list()).length).toBe(3);
  });
});
