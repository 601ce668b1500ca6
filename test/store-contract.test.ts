// One contract for every Store backend: the embedded SQLite home and PostgreSQL (a throwaway
// server started here). What a host relies on — values round-trip exactly, quotas hold under
// concurrency, transactions commit together or not at all, one contiguous audit chain whoever
// appends — must hold on both.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../core/audit/index.js";
import { openPostgresStore } from "../core/store/postgres-store.js";
import { openSqliteStore } from "../core/store/sqlite-store.js";
import type { ModuleRecord, Store } from "../core/store/store.js";
import { tempDir } from "./helpers/modules.js";
import { createDatabase, startPostgres, type Postgres } from "./helpers/servers.js";

let pg: Postgres | undefined;
let dbs = 0;

beforeAll(async () => {
  pg = await startPostgres();
  if (!pg) console.warn("\n*** PostgreSQL not found: the store contract runs on SQLite only. Install Debian's `postgresql` package. ***\n");
});
afterAll(async () => {
  await pg?.stop();
});

interface Backend {
  name: string;
  /**
   * A fresh, empty store; `again` opens a second handle on the same data (another host). SQLite
   * homes have one host each, so there "another host" is the same handle (two connections of one
   * process would wait on each other's write lock).
   */
  fresh(): Promise<{ store: Store; again(): Promise<Store> }>;
}

const backends: Backend[] = [
  {
    name: "sqlite",
    async fresh() {
      const file = join(tempDir(), "system.brain");
      const store = openSqliteStore(file);
      let open = true;
      const close = store.close.bind(store);
      store.close = async () => {
        open = false;
        await close();
      };
      return { store, again: async () => (open ? store : openSqliteStore(file)) };
    },
  },
  {
    name: "postgres",
    async fresh() {
      if (!pg) throw new Error("PostgreSQL is not running");
      const url = await createDatabase(pg, `contract_${process.pid}_${++dbs}`);
      return { store: await openPostgresStore(url), again: () => openPostgresStore(url) };
    },
  },
];

const record = (id: string, over: Partial<ModuleRecord> = {}): ModuleRecord => ({
  id,
  disabled: false,
  grants: null,
  approvedHash: null,
  revoked: [],
  installedPath: null,
  files: null,
  staged: null,
  provenance: null,
  seal: null,
  updatedAt: "",
  ...over,
});

for (const b of backends) {
  describe(`store contract: ${b.name}`, () => {
    const open = async () => {
      if (b.name === "postgres" && !pg) return undefined;
      return b.fresh();
    };

    it("config values round-trip as JSON; delete says whether there was one", async () => {
      const s = await open();
      if (!s) return;
      const { store } = s;
      const value = { a: [1, "two", null, { deep: true }], unicode: "é\u2028😀", n: 1.5 };
      await store.config.set("x.obj", value);
      await store.config.set("x.n", 3);
      expect(await store.config.get("x.obj")).toEqual(value);
      expect(await store.config.all()).toEqual({ "x.n": 3, "x.obj": value });
      expect(await store.config.delete("x.n")).toBe(true);
      expect(await store.config.delete("x.n")).toBe(false);
      expect(await store.config.get("x.n")).toBeUndefined();
      await store.close();
    });

    it("module records keep every field", async () => {
      const s = await open();
      if (!s) return;
      const { store } = s;
      const r = record("m1", {
        disabled: true,
        grants: ["storage.read", { name: "net.fetch", hosts: ["a.example"] }],
        approvedHash: "h".repeat(64),
        revoked: ["storage.write"],
        installedPath: "/x/modules/m1",
        files: { "index.js": "f".repeat(64) },
        staged: { dir: "/x/.staged/m1", version: "1.1.0", hash: "s".repeat(64), files: { "index.js": "e".repeat(64) }, added: ["net.fetch"], removed: [] },
      });
      await store.modules.put(r);
      await store.modules.put(record("m0"));
      const got = await store.modules.get("m1");
      expect({ ...got, updatedAt: "" }).toEqual(r);
      expect(got!.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect((await store.modules.all()).map((x) => x.id)).toEqual(["m0", "m1"]);
      expect(await store.modules.delete("m1")).toBe(true);
      expect(await store.modules.get("m1")).toBeUndefined();
      await store.close();
    });

    it("storage: exact prefix listing in code-point order, usage, quota refusal that changes nothing", async () => {
      const s = await open();
      if (!s) return;
      const { store } = s;
      for (const k of ["a%b", "a_b", "ab", "a%c", "b", "aé", "aZ"]) await store.storage.set("m", k, "1", 1e6);
      expect(await store.storage.list("m", "a%", 100)).toEqual(["a%b", "a%c"]);
      expect(await store.storage.list("m", "a_", 100)).toEqual(["a_b"]);
      expect(await store.storage.list("m", "a", 100)).toEqual(["a%b", "a%c", "aZ", "a_b", "ab", "aé"]);
      expect(await store.storage.list("m", "", 2)).toEqual(["a%b", "a%c"]);
      const before = await store.storage.usage("m");
      expect(before).toBe(["a%b", "a_b", "ab", "a%c", "b", "aé", "aZ"].reduce((n, k) => n + Buffer.byteLength(k) + 1, 0));
      await expect(store.storage.set("m", "big", JSON.stringify("x".repeat(100)), before + 50)).rejects.toMatchObject({ code: "quota_exceeded" });
      expect(await store.storage.usage("m")).toBe(before);
      expect(await store.storage.get("m", "big")).toBeUndefined();
      // Overwriting counts the new size, not both.
      await store.storage.set("m", "ab", JSON.stringify("yyyy"), 1e6);
      expect(await store.storage.usage("m")).toBe(before - 1 + 6);
      expect(await store.storage.delete("m", "ab")).toBe(true);
      expect(await store.storage.delete("m", "ab")).toBe(false);
      expect(await store.storage.usage("m")).toBe(before - 3);
      expect(await store.storage.usage("other")).toBe(0);
      expect(await store.storage.purge("m")).toBe(6);
      expect(await store.storage.usage("m")).toBe(0);
      await store.close();
    });

    it("storage quota holds exactly under concurrent writers on two handles (two hosts)", async () => {
      const s = await open();
      if (!s) return;
      const other = await s.again();
      const value = JSON.stringify("v".repeat(95)); // 97 bytes + a 3-byte key: 100 per entry
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? other : s.store).storage.set("q", `k${String(i).padStart(2, "0")}`, value, 1000)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(10);
      expect(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason.code === "quota_exceeded")).toBe(true);
      expect(await s.store.storage.usage("q")).toBe(1000);
      expect(await s.store.storage.list("q", "", 1000)).toHaveLength(10);
      await other.close();
      await s.store.close();
    });

    it("a transaction commits together or not at all, audit event included", async () => {
      const s = await open();
      if (!s) return;
      const { store } = s;
      const audit = new AuditLog(store, undefined);
      await store.transaction(async (tx) => {
        await tx.config.set("t.a", 1);
        await tx.modules.put(record("tm"));
        await audit.append({ actor: "test", action: "t.commit" }, tx);
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.config.set("t.b", 2);
          await tx.storage.set("tm", "k", "1", 1e6);
          await audit.append({ actor: "test", action: "t.rollback" }, tx);
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect(await store.config.get("t.a")).toBe(1);
      expect(await store.modules.get("tm")).toBeDefined();
      expect(await store.config.get("t.b")).toBeUndefined();
      expect(await store.storage.get("tm", "k")).toBeUndefined();
      expect(await store.storage.usage("tm")).toBe(0);
      expect((await store.audit.tail(10)).map((r) => r.action)).toEqual(["t.commit"]);
      await store.close();
    });

    it("one contiguous audit chain when two handles (two hosts) append at once", async () => {
      const s = await open();
      if (!s) return;
      const other = await s.again();
      const a = new AuditLog(s.store, undefined);
      const c = new AuditLog(other, undefined);
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : c).append({ actor: `host${i % 2}`, action: "test.append", data: { i } })));
      const rows = await s.store.audit.range(1, 1000);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
      expect(await s.store.audit.count()).toBe(60);
      expect((await a.verify()) as { ok: boolean }).toMatchObject({ ok: true });
      expect((await s.store.audit.tail(2)).map((r) => r.seq)).toEqual([59, 60]);
      expect((await s.store.audit.last())!.seq).toBe(60);
      await other.close();
      await s.store.close();
    });

    it("secrets, blobs and the manifest index", async () => {
      const s = await open();
      if (!s) return;
      const { store } = s;
      await store.secrets.put("m", "b", "sealed-b");
      await store.secrets.put("m", "a", "sealed-a");
      await store.secrets.put("n", "z", "sealed-z");
      expect(await store.secrets.get("m", "a")).toBe("sealed-a");
      expect((await store.secrets.list("m")).map((x) => x.name)).toEqual(["a", "b"]);
      expect((await store.secrets.list()).map((x) => `${x.module}/${x.name}`)).toEqual(["m/a", "m/b", "n/z"]);
      expect(await store.secrets.delete("m", "a")).toBe(true);
      expect(await store.secrets.get("m", "a")).toBeUndefined();

      const bytes = Buffer.from([0, 1, 2, 255, 0]);
      await store.blobs.put("h1", bytes);
      await store.blobs.put("h1", Buffer.from("ignored: content-addressed"));
      await store.blobs.put("h2", Buffer.from("two"));
      expect(Buffer.compare((await store.blobs.get("h1"))!, bytes)).toBe(0);
      expect(await store.blobs.have(["h2", "nope", "h1"])).toEqual(["h2", "h1"]);
      expect(await store.blobs.prune(["h1"])).toBe(1);
      expect(await store.blobs.have(["h1", "h2"])).toEqual(["h1"]);

      await store.manifestIndex.put("/m/a", "s1", "{}");
      await store.manifestIndex.put("/m/a", "s2", '{"x":1}');
      expect(await store.manifestIndex.all()).toEqual(new Map([["/m/a", { stamp: "s2", loaded: '{"x":1}' }]]));
      await store.close();
    });

    it("reopens with its data; a second open applies no migration twice", async () => {
      const s = await open();
      if (!s) return;
      await s.store.config.set("keep.me", "yes");
      await s.store.close();
      const [x, y] = await Promise.all([s.again(), s.again()]);
      expect(await x.config.get("keep.me")).toBe("yes");
      expect(await y.config.get("keep.me")).toBe("yes");
      await x.close();
      await y.close();
    });
  });
}
