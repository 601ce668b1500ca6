import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SecurityManager, type Decided, type DurableStore, type Settings } from "../modules/security/security-manager.js";
import { clientKey } from "../modules/security/client-address.js";

const base: Settings = {
  enabled: true,
  rate_limit: 10,
  block_duration: 30,
  global_limit: 1000,
  ddos_lockdown: 20,
  failed_limit: 3,
  failed_block: 90,
  allow: [],
  deny: [],
  trusted: [],
  trusted_proxies: [],
  backend_timeout_ms: 150,
};

/** A manager over an in-memory durable store (the module's storage in production). */
function manager(overrides: Partial<Settings> = {}) {
  const stored = new Map<string, Decided>();
  const durable: DurableStore = { write: async (k, v) => void (v === undefined ? stored.delete(k) : stored.set(k, v)) };
  return { stored, sec: new SecurityManager({ ...base, ...overrides }, durable) };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-01-01T00:00:00.000Z"));
});
afterEach(() => vi.useRealTimers());

describe("SecurityManager windows", () => {
  it("allows exactly rate_limit of 3x rate_limit concurrent checks", async () => {
    const { sec } = manager();
    const results = await Promise.all(Array.from({ length: 30 }, async () => sec.check("10.0.0.1")));
    expect(results.filter((r) => r.allow)).toHaveLength(10);
    const first = results.find((r) => !r.allow)!;
    expect(first).toMatchObject({ code: "rate_limited", status: 429, retry_after: 30 });
    expect(results.slice(11).every((r) => !r.allow && r.code === "blocked")).toBe(true);
  });

  it("gives Retry-After as the time left, rounded up, and lifts the block on time", () => {
    const { sec } = manager();
    for (let i = 0; i < 11; i++) sec.check("10.0.0.2");
    vi.advanceTimersByTime(10_500);
    const r = sec.check("10.0.0.2");
    expect(r).toMatchObject({ allow: false, code: "blocked", retry_after: 20 });
    expect((r as any).blocked_until).toBe("2026-01-01T00:00:30.000Z");
    vi.advanceTimersByTime(19_499);
    expect(sec.check("10.0.0.2")).toMatchObject({ allow: false, retry_after: 1 });
    vi.advanceTimersByTime(1);
    expect(sec.check("10.0.0.2").allow).toBe(true);
  });

  it("starts a new window at the window's end, not before", () => {
    const { sec } = manager({ block_duration: 1 });
    for (let i = 0; i < 10; i++) expect(sec.check("10.0.0.3").allow).toBe(true);
    vi.advanceTimersByTime(59_999);
    expect(sec.check("10.0.0.3").allow).toBe(false); // 11th in the same window
    vi.advanceTimersByTime(1_001);
    expect(sec.check("10.0.0.3").allow).toBe(true); // block over, new window
  });

  it("locks everyone down when the global window is crossed, and lifts it on time", () => {
    const { sec } = manager({ global_limit: 5, rate_limit: 100 });
    for (let i = 0; i < 5; i++) expect(sec.check(`10.1.0.${i}`).allow).toBe(true);
    const r = sec.check("10.1.0.99");
    expect(r).toMatchObject({ allow: false, status: 503, code: "locked_down", retry_after: 20, locked_until: "2026-01-01T00:00:20.000Z" });
    expect(sec.check("10.9.9.9")).toMatchObject({ code: "locked_down" });
    vi.advanceTimersByTime(20_000);
    vi.advanceTimersByTime(60_000); // and the global window has rolled over
    expect(sec.check("10.9.9.9").allow).toBe(true);
  });

  it("keeps a manual lockdown until its end or an unlock", async () => {
    const { sec } = manager();
    await sec.lockdown(120);
    vi.advanceTimersByTime(119_000);
    expect(sec.check("10.0.0.4")).toMatchObject({ code: "locked_down", retry_after: 1 });
    vi.advanceTimersByTime(1_000);
    expect(sec.check("10.0.0.4").allow).toBe(true);
    await sec.lockdown(120);
    expect(sec.check("10.0.0.4").allow).toBe(false);
    expect(await sec.unlock()).toBe(true);
    expect(sec.check("10.0.0.4").allow).toBe(true);
  });

  it("blocks a client after failed_limit failed authentications", () => {
    const { sec } = manager();
    expect(sec.recordFailure("10.0.0.5").allow).toBe(true);
    expect(sec.recordFailure("10.0.0.5").allow).toBe(true);
    expect(sec.recordFailure("10.0.0.5")).toMatchObject({ allow: false, code: "blocked", retry_after: 90 });
    expect(sec.check("10.0.0.5")).toMatchObject({ allow: false, code: "blocked" });
    expect(sec.check("10.0.0.6").allow).toBe(true);
  });

  it("purge removes counters and blocks", async () => {
    const { sec } = manager();
    for (let i = 0; i < 12; i++) sec.check("10.0.0.7");
    expect(sec.check("10.0.0.7").allow).toBe(false);
    expect(await sec.purge()).toBeGreaterThan(0);
    expect(sec.check("10.0.0.7").allow).toBe(true);
  });

  it("an operator's block or lockdown that cannot be made durable is refused and not applied", async () => {
    const broken: DurableStore = {
      write: async () => {
        throw new Error("disk gone");
      },
    };
    const sec = new SecurityManager(base, broken);
    await expect(sec.block("10.0.0.8", 60)).rejects.toThrow("disk gone");
    expect(sec.check("10.0.0.8").allow).toBe(true);
    await expect(sec.lockdown(60)).rejects.toThrow("disk gone");
    expect(sec.check("10.0.0.8").allow).toBe(true);
  });

  it("makes operator and limit decisions durable, and restores the ones still in force", async () => {
    const { stored, sec } = manager({ rate_limit: 2, block_duration: 30 });
    for (let i = 0; i < 3; i++) sec.check("10.0.0.10"); // blocked by the limits
    await sec.block("10.0.0.9", 60);
    await sec.lockdown(10);
    expect([...stored.keys()].sort()).toEqual(["b:10.0.0.10", "b:10.0.0.9", "lockdown"]);
    const again = new SecurityManager({ ...base }, undefined);
    vi.advanceTimersByTime(20_000); // the lockdown has ended, the blocks have not
    again.restore(stored);
    expect(again.check("10.0.0.9")).toMatchObject({ code: "blocked" });
    expect(again.check("10.0.0.10")).toMatchObject({ code: "blocked" });
    expect(again.check("10.0.0.11").allow).toBe(true);
  });

  it("keeps windows in memory only: any number of client addresses writes nothing durable", () => {
    const { stored, sec } = manager({ rate_limit: 1000, global_limit: 1e9 });
    for (let i = 0; i < 50_000; i++) sec.check(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(stored.size).toBe(0);
  });
});

describe("clients and lists", () => {
  it("keys IPv6 clients by /64 and folds IPv4-mapped addresses", () => {
    expect(clientKey("2001:db8:1:2:aaaa::1")).toBe(clientKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
    expect(clientKey("2001:db8:1:2::1")).not.toBe(clientKey("2001:db8:1:3::1"));
    expect(clientKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    const { sec } = manager({ rate_limit: 2 });
    sec.check("2001:db8::1");
    sec.check("2001:db8::2");
    expect(sec.check("2001:db8::3").allow).toBe(false); // same /64
  });

  it("honours deny, allow and trusted lists with CIDRs, IPv4 and IPv6", async () => {
    const { sec } = manager({ deny: ["192.0.2.0/24", "2001:db8:bad::/48"], trusted: ["10.10.0.0/16"], rate_limit: 1 });
    expect(sec.check("192.0.2.9")).toMatchObject({ allow: false, code: "blocked" });
    expect(sec.check("::ffff:192.0.2.9")).toMatchObject({ allow: false, code: "blocked" });
    expect(sec.check("2001:db8:bad:1::5")).toMatchObject({ allow: false });
    for (let i = 0; i < 5; i++) expect(sec.check("10.10.3.4").allow).toBe(true); // trusted: no limits
    await sec.lockdown(60);
    expect(sec.check("10.10.3.4").allow).toBe(true);
    const only = manager({ allow: ["203.0.113.0/24"] }).sec;
    expect(only.check("203.0.113.5").allow).toBe(true);
    expect(only.check("198.51.100.1")).toMatchObject({ allow: false, code: "blocked" });
  });

  it("believes X-Forwarded-For only from trusted proxies", () => {
    const { sec } = manager({ trusted_proxies: ["127.0.0.1"] });
    expect(sec.clientAddress("198.51.100.9", "1.2.3.4")).toBe("198.51.100.9");
    expect(sec.clientAddress("127.0.0.1", "1.2.3.4")).toBe("1.2.3.4");
    expect(sec.clientAddress("127.0.0.1", "6.6.6.6, 1.2.3.4, 127.0.0.1")).toBe("1.2.3.4");
    // A hop that is not an address is not believed (`010.0.0.1` would slip past a 10.0.0.0/8 rule).
    for (const hop of ["010.0.0.1", "evil.example", "1.2.3.4:80", "[::1]", ""]) expect(sec.clientAddress("127.0.0.1", `6.6.6.6, ${hop}`), hop).toBe(hop === "" ? "6.6.6.6" : "127.0.0.1");
  });
});

describe("client forms", () => {
  it("keys every valid way of writing an IPv6 client or its /64 alike, in RFC 5952 form", () => {
    for (const form of ["fd00:77::1", "fd00:77:0:0::/64", "fd00:77::/64", "FD00:0077:0000:0000:1:2:3:4"]) expect(clientKey(form), form).toBe("fd00:77::/64");
  });

  it("unblocks a client given in another valid form than it was blocked in", async () => {
    const { sec } = manager();
    await sec.block("fd00:77::1", 60);
    expect(sec.check("fd00:77::9")).toMatchObject({ code: "blocked" });
    expect(await sec.unblock("fd00:77:0:0::/64")).toBe(true);
    expect(sec.check("fd00:77::9").allow).toBe(true);
  });
});
