// Per-request costs of the security path: a security check beside rate-limiter-flexible's
// RateLimiterMemory.consume, a cached token verification beside a bare Map lookup, and what 200
// concurrent requests cost right after a token's cache entry expired (one argon2 run, shared).
import { RateLimiterMemory } from "rate-limiter-flexible";
import { AuthManager, type TokenStorage } from "../modules/auth/auth-manager.js";
import { SecurityManager } from "../modules/security/security-manager.js";
import { row, type BenchRow } from "./report.js";

function perOpNs(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn(i); // warm up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / n;
}

async function perOpNsAsync(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 1000; i++) await fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / n;
}

export async function run(): Promise<BenchRow[]> {
  const map = new Map<string, number>();
  for (let i = 0; i < 1000; i++) map.set(`10.0.${i >> 8}.${i & 255}`, i);
  const keys = [...map.keys()];
  let sink = 0;
  const mapNs = perOpNs(2_000_000, (i) => {
    sink += map.get(keys[i % 1000]!) ?? 0;
  });

  const security = new SecurityManager({
    enabled: true,
    rate_limit: 1e9,
    block_duration: 60,
    global_limit: 1e12,
    ddos_lockdown: 60,
    failed_limit: 10,
    failed_block: 60,
    allow: [],
    deny: [],
    trusted: [],
    trusted_proxies: [],
    backend_timeout_ms: 150,
  });
  const checkNs = perOpNs(500_000, (i) => {
    sink += security.check(keys[i % 1000]!).allow ? 1 : 0;
  });

  // rate-limiter-flexible answers with a promise: calls are issued in batches of 1000 and awaited
  // together, so its figure is its own work, not one microtask turn per call.
  const flexible = new RateLimiterMemory({ points: 1e9, duration: 60 });
  const flexibleNs = async (n: number) => {
    const batch = 1000;
    for (let i = 0; i < 20_000; i += batch) await Promise.all(Array.from({ length: batch }, (_, j) => flexible.consume(keys[(i + j) % 1000]!)));
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: batch }, (_, j) => flexible.consume(keys[(i + j) % 1000]!)));
    return Number(process.hrtime.bigint() - t) / n;
  };
  let consumeNs = Infinity;
  let ourNs = Infinity;
  for (let r = 0; r < 3; r++) {
    consumeNs = Math.min(consumeNs, await flexibleNs(500_000));
    ourNs = Math.min(
      ourNs,
      perOpNs(500_000, (i) => {
        sink += security.check(keys[i % 1000]!).allow ? 1 : 0;
      }),
    );
  }

  const data = new Map<string, unknown>();
  const storage: TokenStorage = {
    get: async (k) => data.get(k),
    set: async (k, v) => void data.set(k, v),
    delete: async (k) => data.delete(k),
    list: async (p = "") => [...data.keys()].filter((k) => k.startsWith(p)),
  };
  const auth = new AuthManager(storage);
  const { token } = await auth.grant({ name: "bench", scopes: ["*"] });
  const t0 = performance.now();
  await auth.verify(token); // the one argon2 run; then cached
  const argonMs = performance.now() - t0;
  const mapAsyncNs = await perOpNsAsync(200_000, async () => map.get(keys[0]!));
  const verifyNs = await perOpNsAsync(200_000, () => auth.verify(token));
  // 200 concurrent requests right after the token's cache entry expired (a clock moved past it).
  let now = Date.now();
  const clocked = new AuthManager(storage, () => now);
  const t2 = await clocked.grant({ name: "expiry", scopes: ["*"] });
  await clocked.verify(t2.token);
  now += 61_000;
  const runsBefore = clocked.argonRuns;
  const s0 = performance.now();
  await Promise.all(Array.from({ length: 200 }, (_, i) => clocked.verify(t2.token, `198.51.100.${i}`)));
  const stallMs = performance.now() - s0;
  const expiryRuns = clocked.argonRuns - runsBefore;
  void sink;

  return [
    row("security", "security check per request", ourNs / 1000, "µs", "rate-limiter-flexible RateLimiterMemory.consume", consumeNs / 1000, "<= 1x"),
    row("security", "security check per request", checkNs / 1000, "µs", "Map.get", mapNs / 1000, "(reference)"),
    row("security", "argon2 runs for 200 concurrent requests after a cache expiry", expiryRuns, "runs", "runs wanted", 1, "1"),
    row("security", "time until all 200 are answered", stallMs, "ms", "one argon2id verify", argonMs, "about 1x"),
    row("security", "verify a cached token (await included)", verifyNs / 1000, "µs", "await Map.get", mapAsyncNs / 1000, "<= 10 µs"),
    row("security", "argon2id verify (19 MiB, t=2, p=1)", argonMs, "ms", "await Map.get", mapAsyncNs / 1e6, "as measured"),
  ];
}
