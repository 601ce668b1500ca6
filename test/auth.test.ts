import { describe, expect, it } from "vitest";
import { AuthManager, type TokenStorage } from "../modules/auth/auth-manager.js";
import { SecurityManager } from "../modules/security/security-manager.js";
import { newToken, parseToken } from "../modules/auth/token-format.js";
import type { JsonValue } from "../sdk/context.js";

function memoryStorage(): TokenStorage & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async (k) => structuredClone(data.get(k)),
    set: async (k, v) => void data.set(k, structuredClone(v)),
    delete: async (k) => data.delete(k),
    list: async (p = "") => [...data.keys()].filter((k) => k.startsWith(p)).sort(),
  };
}

function clock(start = Date.parse("2026-01-01T00:00:00Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe("AuthManager token lifecycle", () => {
  it("grants a checksummed token, stores only an argon2id hash, and verifies it", async () => {
    const storage = memoryStorage();
    const auth = new AuthManager(storage);
    const t = await auth.grant({ name: "ci", scopes: ["hello.*"] });
    expect(parseToken(t.token)).toMatchObject({ id: t.id });
    const flipped = t.token.slice(0, -1) + (t.token.endsWith("A") ? "B" : "A");
    expect(parseToken(flipped)).toBeUndefined(); // checksum catches a typo offline
    const stored = JSON.stringify([...storage.data.values()]);
    expect(stored).toContain("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(stored).not.toContain(t.token.slice(16, 48));
    await expect(auth.verify(t.token)).resolves.toMatchObject({ tokenId: t.id, scopes: ["hello.*"] });
  });

  it("refuses missing, malformed, unknown and wrong tokens as unauthorized; an unknown id costs no argon2", async () => {
    const auth = new AuthManager(memoryStorage());
    const t = await auth.grant({ name: "x", scopes: ["*"] });
    for (const bad of ["", "Bearer", "wdn_short", "x".repeat(54)]) await expect(auth.verify(bad)).rejects.toMatchObject({ code: "unauthorized" });
    const runs = auth.argonRuns;
    const unknownId = (await new AuthManager(memoryStorage()).grant({ name: "y", scopes: ["*"] })).token;
    await expect(auth.verify(unknownId)).rejects.toMatchObject({ code: "unauthorized" });
    expect(auth.argonRuns).toBe(runs); // a wait as long as a verification, without the CPU
    const other = await auth.rotate("x"); // t.token's secret is now wrong
    await expect(auth.verify(t.token)).rejects.toMatchObject({ code: "unauthorized" });
    expect(auth.argonRuns).toBe(runs + 1);
    await expect(auth.verify(other.token)).resolves.toMatchObject({ name: "x" });
  });

  it("keeps the old secret working during a rotation's grace period and not after", async () => {
    const c = clock();
    const auth = new AuthManager(memoryStorage(), c.now);
    const t = await auth.grant({ name: "svc", scopes: ["*"] });
    await auth.verify(t.token);
    const r = await auth.rotate("svc", "1h");
    expect(r.old_valid_until).toBe("2026-01-01T01:00:00.000Z");
    await expect(auth.verify(t.token)).resolves.toMatchObject({ name: "svc" });
    await expect(auth.verify(r.token)).resolves.toMatchObject({ name: "svc" });
    c.advance(3_600_000);
    await expect(auth.verify(t.token)).rejects.toMatchObject({ code: "unauthorized" });
    await expect(auth.verify(r.token)).resolves.toMatchObject({ name: "svc" });
  });

  it("refuses a revoked token at once, even one verified a moment ago", async () => {
    const auth = new AuthManager(memoryStorage());
    const t = await auth.grant({ name: "gone", scopes: ["*"] });
    await auth.verify(t.token); // now cached
    await auth.revoke(t.id);
    await expect(auth.verify(t.token)).rejects.toMatchObject({ code: "token_revoked" });
  });

  it("refuses an expired token with token_expired, also when cached before expiry", async () => {
    const c = clock();
    const auth = new AuthManager(memoryStorage(), c.now);
    const t = await auth.grant({ name: "short", scopes: ["*"], expires: "30s" });
    await expect(auth.verify(t.token)).resolves.toBeTruthy();
    c.advance(30_000);
    await expect(auth.verify(t.token)).rejects.toMatchObject({ code: "token_expired" });
  });

  it("writes usage metadata at most once a minute", async () => {
    const c = clock();
    const storage = memoryStorage();
    let writes = 0;
    const counting = { ...storage, set: async (k: string, v: JsonValue) => ((writes += k.startsWith("u:") ? 1 : 0), storage.set(k, v)) };
    const auth = new AuthManager(counting, c.now);
    const t = await auth.grant({ name: "busy", scopes: ["*"] });
    writes = 0;
    for (let i = 0; i < 50; i++) await auth.noteUse(t.id);
    expect(writes).toBe(1);
    c.advance(60_000);
    await auth.noteUse(t.id);
    expect(writes).toBe(2);
    const [row] = await auth.list();
    expect(row!.last_used_at).toBe("2026-01-01T00:01:00.000Z");
  });

  it("validates names, scopes and durations", async () => {
    const auth = new AuthManager(memoryStorage());
    await expect(auth.grant({ name: "bad name", scopes: ["*"] })).rejects.toMatchObject({ code: "input_invalid" });
    await expect(auth.grant({ name: "ok", scopes: ["Hello World"] })).rejects.toMatchObject({ code: "input_invalid" });
    await expect(auth.grant({ name: "ok", scopes: ["*"], expires: "soon" })).rejects.toMatchObject({ code: "input_invalid" });
    await auth.grant({ name: "ok", scopes: ["*"] });
    await expect(auth.grant({ name: "ok", scopes: ["*"] })).rejects.toMatchObject({ code: "input_invalid" });
    await expect(auth.revoke("nobody")).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("argon2 under load", () => {
  it("shares verifications fairly: 500 unknown tokens from 100 addresses never delay a real client's first call behind them", async () => {
    const auth = new AuthManager(memoryStorage());
    const real = await auth.grant({ name: "real", scopes: ["*"] });
    const others = new AuthManager(memoryStorage());
    const strangers = await Promise.all(Array.from({ length: 5 }, (_, i) => others.grant({ name: `s${i}`, scopes: ["*"] })));
    const runs = auth.argonRuns;
    // 500 well-formed tokens whose ids this host does not know, from 100 addresses.
    const flood = Array.from({ length: 500 }, (_, i) => auth.verify(strangers[i % 5]!.token, `198.51.100.${i % 100}`).catch((e: { code: string }) => e.code));
    await expect(auth.verify(real.token, "203.0.113.7")).resolves.toMatchObject({ name: "real" });
    // The real client's verification ran argon2 once; the strangers' ran none.
    expect(auth.argonRuns).toBe(runs + 1);
    expect(new Set(await Promise.all(flood))).toEqual(new Set(["unauthorized"]));
  });

  it("gives one address at most its fair share of argon2; the rest are refused at once with rate_limited", async () => {
    const auth = new AuthManager(memoryStorage());
    const t = await auth.grant({ name: "t", scopes: ["*"] });
    // Wrong secrets for a known id: each one is real argon2 work.
    const wrong = Array.from({ length: 30 }, () => newToken(t.id).token);
    const outcomes = await Promise.all(
      wrong.map((w) =>
        auth.verify(w, "192.0.2.9").then(
          () => "ok",
          (e: { code: string }) => e.code,
        ),
      ),
    );
    const counts = outcomes.reduce<Record<string, number>>((m, c) => ((m[c] = (m[c] ?? 0) + 1), m), {});
    expect(counts.rate_limited).toBeGreaterThanOrEqual(26); // 4 per client at once
    expect(auth.argonRuns).toBeLessThanOrEqual(4);
    // Another address is not held up by this one.
    await expect(auth.verify(t.token, "192.0.2.10")).resolves.toMatchObject({ name: "t" });
  });

  it("verifies the same token once when it arrives many times at once", async () => {
    const auth = new AuthManager(memoryStorage());
    const t = await auth.grant({ name: "t", scopes: ["*"] });
    const runs = auth.argonRuns;
    const all = await Promise.all(Array.from({ length: 20 }, () => auth.verify(t.token, "192.0.2.11")));
    expect(all.every((i) => i.name === "t")).toBe(true);
    expect(auth.argonRuns).toBe(runs + 1);
  });
});

describe("the verification cache at its end", () => {
  it("200 concurrent requests right after a token's cache entry expired run argon2 once", async () => {
    const c = clock();
    const auth = new AuthManager(memoryStorage(), c.now);
    const t = await auth.grant({ name: "t", scopes: ["*"] });
    await auth.verify(t.token, "192.0.2.1");
    const runs = auth.argonRuns;
    c.advance(61_000);
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => auth.verify(t.token, `198.51.100.${i % 250}`)));
    expect(all.every((i) => i.name === "t")).toBe(true);
    expect(auth.argonRuns).toBe(runs + 1);
  });

  it("renews an entry in use before it expires, from the record and without argon2", async () => {
    const c = clock();
    const auth = new AuthManager(memoryStorage(), c.now);
    const t = await auth.grant({ name: "t", scopes: ["*"] });
    await auth.verify(t.token);
    const runs = auth.argonRuns;
    c.advance(50_000);
    await auth.verify(t.token); // in its last 15 s: renewed in the background
    await new Promise((r) => setTimeout(r, 10));
    c.advance(20_000); // past the first entry's end
    await auth.verify(t.token);
    expect(auth.argonRuns).toBe(runs);
  });

  it("does not renew an entry whose token was rotated or revoked through another host", async () => {
    const c = clock();
    const storage = memoryStorage();
    const here = new AuthManager(storage, c.now);
    const elsewhere = new AuthManager(storage, c.now);
    const t = await here.grant({ name: "t", scopes: ["*"] });
    const u = await here.grant({ name: "u", scopes: ["*"] });
    await here.verify(t.token);
    await here.verify(u.token);
    await elsewhere.rotate(t.id);
    await elsewhere.revoke(u.id);
    c.advance(50_000);
    await here.verify(t.token); // still cached here (a single host learns nothing from the other)
    await here.verify(u.token);
    await new Promise((r) => setTimeout(r, 10));
    c.advance(20_000);
    await expect(here.verify(t.token)).rejects.toMatchObject({ code: "unauthorized" });
    await expect(here.verify(u.token)).rejects.toMatchObject({ code: "token_revoked" });
  });
});

describe("failed-auth window before argon2", () => {
  it("after failed_limit bad tokens the client is blocked even with a valid token, and no argon2 verify runs for it", async () => {
    const auth = new AuthManager(memoryStorage());
    const good = await auth.grant({ name: "good", scopes: ["*"] });
    const security = new SecurityManager({
      enabled: true,
      rate_limit: 1000,
      block_duration: 60,
      global_limit: 100000,
      ddos_lockdown: 60,
      failed_limit: 3,
      failed_block: 600,
      allow: [],
      deny: [],
      trusted: [],
      trusted_proxies: [],
      backend_timeout_ms: 150,
    });
    // The API's order: security check -> verify -> record the failure.
    const request = async (token: string) => {
      const d = security.check("192.0.2.50");
      if (!d.allow) return d.code;
      try {
        await auth.verify(token);
        return "ok";
      } catch {
        const f = security.recordFailure("192.0.2.50");
        return f.allow ? "unauthorized" : f.code;
      }
    };
    const wrong = good.token.slice(0, 20) + "0".repeat(28) + good.token.slice(48);
    expect(await request(wrong)).toBe("unauthorized");
    expect(await request(wrong)).toBe("unauthorized");
    expect(await request(wrong)).toBe("blocked");
    const runs = auth.argonRuns;
    expect(await request(good.token)).toBe("blocked");
    expect(auth.argonRuns).toBe(runs);
  });
});
