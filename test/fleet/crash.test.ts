// Hosts of a fleet killed with SIGKILL while they write: the audit chain the three of them append
// to stays one contiguous chain that verifies, and every REST write a killed host acknowledged is
// readable through another host.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serveInBackground, warden } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";
import { createDatabase } from "../helpers/servers.js";
import { eventually, expectOk, installLedger, startFleet, type FleetHost } from "../helpers/fleet.js";

const fleet = await startFleet(3, {
  before: (cli) => {
    expectOk(cli(["config", "set", "security.rate_limit", "1000000"]));
    expectOk(cli(["config", "set", "security.global_limit", "100000000"]));
  },
});
const d = fleet ? describe : describe.skip;

async function killed(h: FleetHost): Promise<void> {
  const exited = new Promise((r) => h.serving.proc.once("exit", r));
  h.serving.proc.kill("SIGKILL");
  await exited;
}

d("fleet hosts killed mid-write", () => {
  const [a, b, c] = fleet?.hosts ?? [];

  it("three hosts appending audit events while one is SIGKILLed: one contiguous chain that verifies", async () => {
    const token = expectOk(a!.cli(["auth", "grant", "--name", "auditor", "--scopes", "config.*", "--json"])).json.token as string;
    const probe = await a!.call("/api/v1/config/set", { token, body: { key: "log.keep", value: 7 } });
    expect(probe.status, probe.text).toBe(200);
    let stop = false;
    let acked = 0;
    const writer = async (h: FleetHost, i: number) => {
      let n = 0;
      while (!stop) {
        // Each config.set appends its audit event in the change's own transaction.
        const r = await h.call("/api/v1/config/set", { token, body: { key: "log.keep", value: (i * 1000 + n++) % 90 } }).catch(() => undefined);
        if (r?.status === 200) acked++;
        else if (h === c) return; // the killed one
      }
    };
    const writers = [a, b, c, a, b, c].map((h, i) => writer(h!, i));
    await eventually(() => acked >= 30, "audit appends before the kill");
    await killed(c!);
    const at = acked;
    await eventually(() => acked >= at + 30, "audit appends after the kill");
    stop = true;
    await Promise.all(writers);
    const v = expectOk(a!.cli(["audit", "verify", "--json"])).json;
    expect(v.ok, JSON.stringify(v)).toBe(true);
    expect(v.count).toBeGreaterThanOrEqual(acked);
    const tail = expectOk(b!.cli(["audit", "tail", "-n", "200", "--json"])).json as Array<{ seq: number; prev_hash: string; hash: string }>;
    for (let i = 1; i < tail.length; i++) {
      expect(tail[i]!.seq).toBe(tail[i - 1]!.seq + 1);
      expect(tail[i]!.prev_hash).toBe(tail[i - 1]!.hash);
    }
  });

  it("kill -9 of a host during acknowledged REST writes: every acknowledged write is readable through another host", async () => {
    const token = await installLedger({ ...fleet!, hosts: [a!, b!] }, a!);
    const acked = new Map<string, number>();
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const value = n++;
        const key = `w${value}`;
        const r = await a!.call("/api/v1/ledger/put", { token, body: { key, value } }).catch(() => undefined);
        if (r?.status === 200) acked.set(key, value);
        if (!r) return; // the host is gone
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    await eventually(() => acked.size >= 60, "acknowledged writes before the kill");
    await killed(a!);
    stop = true;
    await Promise.all(writers);
    for (const [key, value] of acked) {
      const r = await b!.call("/api/v1/ledger/get", { token, body: { key } });
      expect(r.status).toBe(200);
      expect(r.json, `acknowledged write ${key} lost`).toBe(value);
    }
  });

  it("two hosts started at once on a fresh database: migrations once, one bootstrap token", async () => {
    const url = await createDatabase(fleet!.pg, `fresh_${process.pid}`);
    const env = { ...fleet!.env, WARDEN_STORE_URL: url };
    const homes = [tempDir("warden-race-"), tempDir("warden-race-")];
    const servings = await Promise.allSettled(homes.map((h) => serveInBackground(["--home", h], env)));
    try {
      expect(servings.map((x) => x.status)).toEqual(["fulfilled", "fulfilled"]);
      const tokens = expectOk(warden(["--home", homes[0]!, "auth", "list", "--json"], env)).json as Array<{ revoked_at: string | null }>;
      expect(tokens.filter((t) => !t.revoked_at)).toHaveLength(1);
      expect(homes.filter((h) => existsSync(join(h, "bootstrap.token")))).toHaveLength(1);
    } finally {
      for (const x of servings) if (x.status === "fulfilled") await x.value.stop();
    }
  });
});
