// Per-request costs of the security path: a security check and a cached token verification,
// each beside a bare Map lookup measured in the same run; argon2id verify time as measured.
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
    enabled: true, rate_limit: 1e9, block_duration: 60, global_limit: 1e12, ddos_lockdown: 60, failed_limit: 10, failed_block: 60,
    allow: [], deny: [], trusted: [], trusted_proxies: [], backend_timeout_ms: 150,
  });
  const checkNs = perOpNs(500_000, (i) => {
    sink += security.check(keys[i % 1000]!).allow ? 1 : 0;
  });

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
  void sink;

  return [
    row("security", "security check per request", checkNs / 1000, "µs", "Map.get", mapNs / 1000, "<= 2 µs"),
    row("security", "verify a cached token (await included)", verifyNs / 1000, "µs", "await Map.get", mapAsyncNs / 1000, "<= 10 µs"),
    row("security", "argon2id verify (19 MiB, t=2, p=1)", argonMs, "ms", "await Map.get", mapAsyncNs / 1e6, "as measured"),
  ];
}
