// The supply chain across a fleet of three hosts on a real PostgreSQL and Redis: one trust policy
// for every host; what was verified at install is verified again where a module is materialised,
// so a pack or file list changed in the store never runs; and the kill switch pulled through one
// host stops the module on the others at their next change poll and refuses it everywhere.
import { generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../core/supply/signature.js";
import { eventually, expectOk, sqlOn, startFleet, type FleetHost } from "../helpers/fleet.js";
import { tempDir } from "../helpers/modules.js";
import { makePack } from "../helpers/packs.js";

const fleet = await startFleet(3);
const d = fleet ? describe : describe.skip;
const [a, b, c] = fleet?.hosts ?? [];
const acme = generateKeyPairSync("ed25519");
let appPack: { file: string; sha: string } | undefined;
const pubFile = join(tempDir("warden-keys-"), "acme.pub");
writeFileSync(pubFile, acme.publicKey.export({ type: "spki", format: "pem" }));

const sql = <T>(fn: (c: pg.Client) => Promise<T>) => sqlOn(fleet!.storeUrl, fn);

const json = (h: FleetHost, args: string[]) => expectOk(h.cli([...args, "--json"])).json;
const refusal = (h: FleetHost, args: string[]) => {
  const r = h.cli([...args, "--json"]);
  expect(r.code, r.stdout).not.toBe(0);
  return JSON.parse(r.stderr || r.stdout).error as { code: string; message: string };
};
type Listed = { id: string; state: string; publisher?: string; error?: { code: string } };
const moduleOn = (h: FleetHost, id: string) => (json(h, ["module", "list"]) as Listed[]).find((m) => m.id === id);
/** Every file under a host's copy of a module, as text. */
const filesOf = (h: FleetHost, id: string): string => {
  const dir = join(h.home, "modules", id);
  const walk = (p: string): string[] => (statSync(p).isDirectory() ? readdirSync(p).flatMap((n) => walk(join(p, n))) : [readFileSync(p, "utf8")]);
  try {
    return walk(dir).join("\n");
  } catch {
    return "";
  }
};

d("the supply chain across a fleet", () => {
  it("trust changes made through A reach B and C; signatures required through A hold on B and C", async () => {
    expect(json(a!, ["trust", "add", pubFile, "--name", "acme", "--ids", "acme-*"])).toMatchObject({ name: "acme" });
    expectOk(a!.cli(["config", "set", "modules.require_signature", "true"]));
    for (const h of [b!, c!]) {
      await eventually(() => (json(h, ["trust", "list"]) as { keys: Array<{ name: string }> }).keys.some((k) => k.name === "acme") || undefined, "the key reached the host");
      expect(json(h, ["trust", "list"])).toMatchObject({ require_signature: true });
    }
    const unsigned = await makePack("acme-unsigned", "1.0.0", null);
    expect(refusal(c!, ["module", "install", unsigned.file]).code).toBe("signature_missing");
  });

  it("a signed module installed through A runs on B and C, with its publisher shown there", async () => {
    const p = (appPack = await makePack("acme-app", "1.0.0", acme.privateKey));
    expect(json(a!, ["module", "install", p.file])).toMatchObject({ publisher: "acme", pack: p.sha });
    for (const h of [b!, c!]) {
      await eventually(() => (h.cli(["acme-app", "version", "--json"]).code === 0 ? true : undefined), "the module answers on the host");
      expect(moduleOn(h, "acme-app")).toMatchObject({ publisher: "acme", state: "active" });
    }
  });

  it("a file list pointed at a changed blob in the store (a valid sha256 of evil code) never runs on B, C or a host started after", async () => {
    const p = await makePack("acme-victim", "1.0.0", acme.privateKey);
    json(a!, ["module", "install", p.file]);
    await eventually(() => (b!.cli(["acme-victim", "version", "--json"]).code === 0 ? true : undefined), "the module answers on B");
    const evil = Buffer.from(`export function activate(ctx) { ctx.commands.register("version", async () => "EVIL"); }\n`);
    await sql(async (q) => {
      await q.query("INSERT INTO blobs (hash, content) VALUES ($1, $2) ON CONFLICT DO NOTHING", [sha256Hex(evil), evil]);
      const row = (await q.query<{ files: string }>("SELECT files FROM modules WHERE id = 'acme-victim'")).rows[0]!;
      const files = { ...JSON.parse(row.files), "index.js": sha256Hex(evil) };
      await q.query("UPDATE modules SET files = $1 WHERE id = 'acme-victim'", [JSON.stringify(files)]);
      await q.query("UPDATE fleet_state SET counter = counter + 1");
    });
    for (const h of [b!, c!]) {
      await eventually(() => (moduleOn(h, "acme-victim")?.error?.code === "integrity_failed" ? true : undefined), "the host stopped the module");
      expect(h.cli(["acme-victim", "version", "--json"]).stdout).not.toContain("EVIL");
      expect(filesOf(h, "acme-victim")).not.toContain("EVIL");
    }
    const late = await fleet!.start();
    expect(moduleOn(late, "acme-victim")).toBeUndefined();
    expect(filesOf(late, "acme-victim")).not.toContain("EVIL");
    expect(late.cli(["acme-victim", "version", "--json"]).code).not.toBe(0);
    expect(readFileSync(join(late.home, "logs", "host.log"), "utf8")).toMatch(/"module":"acme-victim","code":"integrity_failed".*not sealed/);
  });

  it("a pack whose bytes were replaced in the store is not materialised by a host that starts after", async () => {
    const p = await makePack("acme-packed", "1.0.0", acme.privateKey);
    json(a!, ["module", "install", p.file]);
    const other = await makePack("acme-packed", "1.0.0", null, { body: `export function activate(ctx) { ctx.commands.register("version", async () => "EVIL"); }` });
    await sql((q) => q.query("UPDATE blobs SET content = $1 WHERE hash = $2", [readFileSync(other.file), p.sha]));
    const late = await fleet!.start();
    expect(moduleOn(late, "acme-packed")).toBeUndefined();
    expect(filesOf(late, "acme-packed")).toBe("");
    expect(readFileSync(join(late.home, "logs", "host.log"), "utf8")).toMatch(/"module":"acme-packed","code":"integrity_failed".*pack does not match its sha256/);
  });

  it("module block through A stops the module on B and C at their next change poll and refuses it everywhere; unblock through C lets it run", async () => {
    const sha = (moduleOn(a!, "acme-app") as Listed & { pack: string }).pack;
    const blocked = json(a!, ["module", "block", sha, "--reason", "exfiltrates tokens", "--yes"]);
    expect(blocked).toMatchObject({ modules: ["acme-app"], stopped: ["acme-app"] });
    for (const h of [b!, c!]) {
      await eventually(() => (moduleOn(h, "acme-app")?.error?.code === "module_blocked" ? true : undefined), "the host stopped the blocked module");
      expect(refusal(h, ["acme-app", "version"]).code).toBe("module_blocked");
    }
    expect(appPack!.sha).toBe(sha);
    for (const h of [a!, b!, c!]) expect(refusal(h, ["module", "install", appPack!.file]).code).toBe("module_blocked");
    const events = json(b!, ["audit", "tail", "-n", "50"]) as Array<{ action: string; target: string; data: { modules?: string[] } }>;
    expect(events.find((e) => e.action === "module.block" && e.target === sha)?.data.modules).toEqual(["acme-app"]);
    expect(json(c!, ["trust", "export"])).toMatchObject({ blocked: [{ sha256: sha, reason: "exfiltrates tokens" }] });
    json(c!, ["module", "unblock", sha]);
    for (const h of [a!, b!]) await eventually(() => (h.cli(["acme-app", "version", "--json"]).code === 0 ? true : undefined), "the module runs again");
  });

  it("a key removed through B is untrusted on A and C: a pack it signs is refused there", async () => {
    json(b!, ["trust", "remove", "acme", "--yes"]);
    const p = await makePack("acme-next", "1.0.0", acme.privateKey);
    for (const h of [a!, c!]) {
      await eventually(() => ((json(h, ["trust", "list"]) as { keys: unknown[] }).keys.length === 0 ? true : undefined), "the removal reached the host");
      expect(refusal(h, ["module", "install", p.file])).toMatchObject({ code: "publisher_untrusted", message: expect.stringContaining("removed") });
    }
  });
});
