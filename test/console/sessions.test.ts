// Console sessions on their own, with a clock the test moves: one-time codes, idle expiry, revoke,
// the session limit, and what a forged cookie gets.
import { describe, expect, it } from "vitest";
import type { JsonValue, StorageApi } from "../../sdk/context.js";
import { SessionStore } from "../../modules/console/sessions.js";

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

function store(settings = { idle_minutes: 30, code_seconds: 300, max_sessions: 3 }) {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const storage = memoryStorage();
  const s = new SessionStore(storage, () => settings, () => now);
  return { s, storage, advance: (ms: number) => void (now += ms) };
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

  it("holds at most console.max_sessions: the least recently used goes", async () => {
    const { s, advance } = store();
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(await s.login((await s.issueCode(["*"], "operator:local")).code, "127.0.0.1"));
      advance(60_000);
    }
    expect((await s.list()).length).toBe(3);
    await expect(s.verify(opened[0]!.cookie)).rejects.toMatchObject({ code: "session_expired" });
  });
});
