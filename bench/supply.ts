// What the supply chain costs, each beside the same work without it in the same run: installing a
// signed pack (judged under the trust policy) against the same pack unsigned; the verdict on a
// pack against node's Ed25519 verify alone; and reading 500 sealed module records (as every fleet host does at
// start and on each change) against reading them unsealed.
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Host } from "../core/host.js";
import { ModuleRecords } from "../core/loader/module-records.js";
import { silentLogger } from "../core/log/index.js";
import { openSqliteStore } from "../core/store/sqlite-store.js";
import { judgePack } from "../core/supply/provenance.js";
import { Sealer } from "../core/supply/seal.js";
import type { AuditSink } from "../core/kernel.js";
import { makePack } from "../test/helpers/packs.js";
import { tempDir } from "../test/helpers/modules.js";
import { percentile, row, type BenchRow } from "./report.js";

const p50 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function timeEach(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const noAudit: AuditSink = { append: async () => undefined, tail: async () => [], verify: async () => ({}), checkpoint: async () => ({}) };

export async function run(): Promise<BenchRow[]> {
  const keys = generateKeyPairSync("ed25519");
  const n = 20;
  const signed = await Promise.all(Array.from({ length: n }, (_, i) => makePack(`signed-${i}`, "1.0.0", keys.privateKey)));
  const plain = await Promise.all(Array.from({ length: n }, (_, i) => makePack(`plain-${i}`, "1.0.0", null)));
  const host = await Host.open({ home: tempDir("warden-bench-supply-"), modulePaths: [], logger: silentLogger(), systemDir: tempDir("warden-bench-nosys-"), userRuntime: "inprocess" });
  const rows: BenchRow[] = [];
  try {
    await host.run("trust.add", { key: keys.publicKey.export({ type: "spki", format: "pem" }) as string, name: "bench" });
    await host.run("config.set", { key: "modules.require_signature", value: false });
    // Interleaved, so both see the same machine.
    const s: number[] = [];
    const u: number[] = [];
    for (let i = 0; i < n; i++) {
      s.push(...(await timeEach(1, () => host.run("module.install", { source: signed[i]!.file }))));
      u.push(...(await timeEach(1, () => host.run("module.install", { source: plain[i]!.file }))));
    }
    rows.push(row("supply", "install a signed pack (verdict included), p50", p50(s.slice(2)), "ms", "install the same pack unsigned", p50(u.slice(2)), "<= 1.1x"));

    const bytes = readFileSync(signed[0]!.file);
    const sig = readFileSync(`${signed[0]!.file}.sig`);
    const sha = createHash("sha256").update(bytes).digest("hex");
    const reps = 2000;
    const verdict = await timeEach(reps, () => judgePack({ sha256: createHash("sha256").update(bytes).digest("hex"), signature: sig, id: "signed-0", version: "1.0.0" }, host.kernel.supply));
    // The floor: node's Ed25519 verify alone, over a message of the same size.
    const message = Buffer.alloc(220, 1);
    const floorSig = sign(null, message, keys.privateKey);
    const verifyOnly = await timeEach(reps, () => verify(null, message, keys.publicKey, floorSig));
    if (judgePack({ sha256: sha, signature: sig, id: "signed-0", version: "1.0.0" }, host.kernel.supply).status !== "verified") throw new Error("the bench pack does not verify");
    rows.push(row("supply", "verdict on a pack (sha256, parse, trust lookup, Ed25519 verify), p50", p50(verdict) * 1000, "µs", "node's Ed25519 verify alone", p50(verifyOnly) * 1000, "<= 1.2x"));
  } finally {
    await host.close();
  }

  // 500 records written through the one writer, sealed or not; then read back the way a fleet host reads them.
  const records = 500;
  const reads: Record<"sealed" | "plain", number[]> = { sealed: [], plain: [] };
  for (const kind of ["sealed", "plain"] as const) {
    const store = openSqliteStore(join(tempDir(`warden-bench-records-${kind}-`), "system.brain"));
    const sealer = kind === "sealed" ? new Sealer(randomBytes(32)) : undefined;
    const writer = new ModuleRecords(store, noAudit, sealer);
    const files = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.js`, randomBytes(32).toString("hex")]));
    for (let i = 0; i < records; i++) {
      await writer.installed(`m${i}`, { installedPath: `/x/m${i}`, files, provenance: { pack: null, status: "unsigned", publisher: null, signature: null } }, undefined, "bench", {});
    }
    // Every read verifies every seal: at a host's start and on each change another host makes.
    const reader = new ModuleRecords(store, noAudit, sealer);
    reads[kind] = await timeEach(15, () => reader.load());
    if (reader.all().length !== records) throw new Error(`only ${reader.all().length} of ${records} ${kind} records read back`);
    await store.close();
  }
  rows.push(row("supply", `read ${records} sealed module records (every seal verified), p50`, p50(reads.sealed.slice(3)), "ms", "the same read unsealed", p50(reads.plain.slice(3)), "<= 3x"));
  return rows;
}
