// Someone who can write the shared PostgreSQL (a leaked credential, another application on the same
// server) but not the hosts: what the store says is checked before a host acts on it. A module id
// that is a path is refused by the database and, with that constraint dropped, by every host; file
// contents that do not match their hash and file paths that climb out are never written.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { eventually, sqlOn, startFleet } from "../helpers/fleet.js";

const fleet = await startFleet(1);
const d = fleet ? describe : describe.skip;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const sql = <T>(fn: (c: pg.Client) => Promise<T>) => sqlOn(fleet!.storeUrl, fn);

/** A module record and its blobs written straight into the database, and the change counter moved. */
function plant(id: string, files: Record<string, { hash: string; content: Buffer }>) {
  return sql(async (c) => {
    const map: Record<string, string> = {};
    for (const [path, { hash, content }] of Object.entries(files)) {
      await c.query("INSERT INTO blobs (hash, content) VALUES ($1, $2) ON CONFLICT DO NOTHING", [hash, content]);
      map[path] = hash;
    }
    await c.query("INSERT INTO modules (id, disabled, revoked, installed_path, files, updated_at) VALUES ($1, false, '[]', '/nowhere', $2, $3)", [id, JSON.stringify(map), new Date().toISOString()]);
    await c.query("UPDATE fleet_state SET counter = counter + 1");
  });
}

const file = (text: string) => ({ hash: sha(Buffer.from(text)), content: Buffer.from(text) });
const hostLog = () => readFileSync(join(fleet!.hosts[0]!.home, "logs", "host.log"), "utf8");

d("a tampered shared store", () => {
  it("a module id that is a path: refused by the database, and by the host when the constraint is dropped", async () => {
    const h = fleet!.hosts[0]!;
    await expect(plant("../escaped", { "pwned.txt": file("x") })).rejects.toThrow(/modules_id_is_module_id/);
    await sql((c) => c.query("ALTER TABLE modules DROP CONSTRAINT modules_id_is_module_id"));
    const victim = join(h.home, "victim.txt");
    writeFileSync(victim, "host data\n");
    await plant("../escaped", { "pwned.txt": file("written by the store\n") });
    await plant("../victim.txt", { x: file("y") });
    await eventually(() => hostLog().includes('(\\"../victim.txt\\")'), "the host refused the record");
    expect(existsSync(join(h.home, "escaped"))).toBe(false);
    expect(readFileSync(victim, "utf8")).toBe("host data\n");
    expect(h.serving.proc.exitCode).toBeNull();
  });

  it("contents that do not match their hash, and paths that climb out, are not written", async () => {
    const h = fleet!.hosts[0]!;
    await plant("tampered", { "module.json": { hash: sha(Buffer.from("{}")), content: Buffer.from("evil") }, "index.js": file("export async function activate() {}\n") });
    await plant("climber", { "../../climbed.txt": file("z") });
    await eventually(() => hostLog().includes("climber") && hostLog().includes("tampered"), "both refusals logged");
    expect(hostLog()).toMatch(/"module":"tampered","code":"integrity_failed"/);
    expect(hostLog()).toMatch(/"module":"climber","code":"integrity_failed"/);
    expect(existsSync(join(h.home, "modules", "tampered"))).toBe(false);
    expect(existsSync(join(h.home, "climbed.txt"))).toBe(false);
  });
});
