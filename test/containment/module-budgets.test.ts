// Budgets on what a module can make the host hold or write: log bytes, net.fetch sockets, cache
// bytes; and what an operator's .tgz can make the host unpack. Each attack is refused with a
// stable code, the ledger counts it, and a well-behaved module keeps answering.
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import * as tar from "tar";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Host } from "../../core/host.js";
import { approval } from "../helpers/approval.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

const any = { type: "object", additionalProperties: true };
const hosts: Host[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});
afterAll(() => {
  for (const s of servers) s.close();
});

async function hostWith(specs: Parameters<typeof writeModule>[1][], config: Record<string, unknown> = {}): Promise<{ host: Host; home: string }> {
  const root = tempDir();
  for (const s of specs) writeModule(root, s);
  writeModule(root, { id: "good", commands: { ping: { description: "p", input: any } }, code: `export function activate(ctx) { ctx.commands.register("ping", async () => "pong"); }` });
  const home = tempDir("warden-budget-");
  const host = await testHost({ realLog: true, home, modulePaths: [root] });
  // Budgets, not the call's time limit, are under test: a busy machine must not turn them into timeouts.
  for (const [k, v] of Object.entries({ "sandbox.maxTimeoutMs": 30_000, "sandbox.defaultTimeoutMs": 30_000, ...config })) await host.run("config.set", { key: k, value: v });
  hosts.push(host);
  // Loopback in net.fetch hosts needs an operator's approval: given here, as an operator would.
  for (const m of host.loader.list()) if (m.state === "pending_approval") await host.run("module.approve", await approval(host, m.id));
  return { host, home };
}

const stats = async (h: Host, id: string) => (await h.run("module.stats", { id })) as { limits: Record<string, number> };

describe("log bytes", () => {
  it("one module's flood is cut at log.module_bytes_per_second on the host side, and the logs rotate", async () => {
    const { host, home } = await hostWith(
      [
        {
          id: "flooder",
          capabilities: ["commands.register", "log.write"],
          commands: { flood: { description: "f", input: any } },
          code: `export function activate(ctx) { ctx.commands.register("flood", async () => {
            const big = "x".repeat(4000);
            for (let i = 0; i < 2000; i++) ctx.log.info(big, { blob: "y".repeat(15000) });
            return "done";
          }); }`,
        },
      ],
      { "log.module_bytes_per_second": 65536, "log.max_file_bytes": 262144, "log.keep": 2 },
    );
    // Rotation settings are read when the logger opens: reopen the host on the same home.
    await host.close();
    hosts.length = 0;
    const h = await testHost({ realLog: true, home, modulePaths: [join(host.loader.entry("flooder")!.dir, "..")] });
    hosts.push(h);
    const before = Date.now();
    await expect(h.run("flooder.flood")).resolves.toBe("done");
    await expect(h.run("good.ping")).resolves.toBe("pong");
    const seconds = Math.max(1, Math.ceil((Date.now() - before) / 1000)) + 1;
    const logs = readdirSync(join(home, "logs")).filter((f) => f.startsWith("host.log"));
    const total = logs.reduce((n, f) => n + statSync(join(home, "logs", f)).size, 0);
    // ~40 MB were attempted; what reached the disk is the budget over the seconds it ran.
    expect(total).toBeLessThan(65536 * seconds + 3 * 262144);
    expect(total).toBeGreaterThan(32768); // what was within budget is there (rotation once lost it all)
    expect(logs.length).toBeLessThanOrEqual(3); // host.log, .1, .2
    expect((await stats(h, "flooder")).limits["log.bytes_per_second"]).toBeGreaterThan(0);
  }, 60_000);
});

describe("net.fetch sockets", () => {
  it("refuses requests over net.max_concurrent_per_module with rate_limited; a neighbour still fetches", async () => {
    let open = 0;
    let max = 0;
    const server = createServer((req, res) => {
      open++;
      max = Math.max(max, open);
      // Held open until the client gives up: the worst case for the host's sockets.
      setTimeout(
        () => {
          open--;
          res.end("late");
        },
        req.url === "/slow" ? 500 : 0,
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const fetchCap = { name: "net.fetch", hosts: [`127.0.0.1:${port}`] };
    const { host } = await hostWith(
      [
        {
          id: "opener",
          capabilities: ["commands.register", fetchCap],
          commands: { open: { description: "o", input: any } },
          code: `export function activate(ctx) { ctx.commands.register("open", async ({ url, n }) => {
            const calls = [];
            for (let i = 0; i < n; i++) calls.push(ctx.net.fetch(url).then(() => "ok", (e) => e.code));
            const out = {};
            for (const r of await Promise.all(calls)) out[r] = (out[r] || 0) + 1;
            return out;
          }); }`,
        },
        {
          id: "neighbour",
          capabilities: ["commands.register", fetchCap],
          commands: { get: { description: "g", input: any } },
          code: `export function activate(ctx) { ctx.commands.register("get", async ({ url }) => (await ctx.net.fetch(url)).body); }`,
        },
      ],
      { "net.max_concurrent_per_module": 8, "sandbox.defaultTimeoutMs": 20_000 },
    );
    const flood = host.run("opener.open", { url: `http://127.0.0.1:${port}/slow`, n: 300 });
    await expect(host.run("neighbour.get", { url: `http://127.0.0.1:${port}/` })).resolves.toBe("late");
    const out = (await flood) as Record<string, number>;
    expect(out.ok).toBe(8);
    expect(out.rate_limited).toBe(292);
    expect(max).toBeLessThanOrEqual(9);
    // Refused by the host's socket budget, or before crossing by the prelude's cap on pending calls.
    const limits = (await stats(host, "opener")).limits;
    expect((limits["net.concurrent_per_module"] ?? 0) + (limits["capability.pending"] ?? 0)).toBe(292);
    expect(limits["net.concurrent_per_module"]).toBeGreaterThan(0);
  }, 60_000);
});

describe("cache bytes", () => {
  it("refuses one module's cache past cache.max_bytes_per_module with quota_exceeded; others keep caching", async () => {
    const { host } = await hostWith([
      {
        id: "hog",
        capabilities: ["commands.register", "cache.use"],
        commands: { fill: { description: "f", input: any } },
        code: `export function activate(ctx) { ctx.commands.register("fill", async () => {
          const v = "z".repeat(1000000);
          const out = {};
          for (let i = 0; i < 60; i++) { try { await ctx.cache.set("k" + i, v); out.ok = (out.ok || 0) + 1; } catch (e) { out[e.code] = (out[e.code] || 0) + 1; } }
          return out;
        }); }`,
      },
      {
        id: "polite",
        capabilities: ["commands.register", "cache.use"],
        commands: { put: { description: "p", input: any } },
        code: `export function activate(ctx) { ctx.commands.register("put", async () => { await ctx.cache.set("a", 1); return ctx.cache.get("a"); }); }`,
      },
    ]);
    const out = (await host.run("hog.fill")) as Record<string, number>;
    expect(out.ok).toBeLessThanOrEqual(8); // 8 MiB per module by default, ~1 MB values
    expect(out.quota_exceeded).toBeGreaterThanOrEqual(52);
    await expect(host.run("polite.put")).resolves.toBe(1);
    const status = (await host.run("cache.status")) as { bytes: number; namespaces: Record<string, number> };
    expect(status.namespaces.hog).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect((await stats(host, "hog")).limits["cache.bytes_per_module"]).toBe(out.quota_exceeded);
  }, 60_000);
});

describe(".tgz install", () => {
  it("stops reading an archive that would unpack past the budget, and leaves no temp folder behind", async () => {
    const dir = tempDir();
    const bomb = join(dir, "bomb.tgz");
    // A 100 MB file of zeros: the archive is a few hundred KB.
    const size = 100 * 1024 * 1024;
    const header = new tar.Header({ path: "package/module.json", mode: 0o644, size, type: "File", mtime: new Date(0) });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    async function* body() {
      yield block;
      const chunk = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < size / chunk.length; i++) yield chunk;
      yield Buffer.alloc(1024);
    }
    await pipeline(Readable.from(body()), createGzip(), createWriteStream(bomb));
    expect(statSync(bomb).size).toBeLessThan(1024 * 1024);
    const { host, home } = await hostWith([]);
    const err = (await host.run("module.install", { source: bomb }).catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe("payload_too_large");
    expect(err.message).toMatch(/more than 67108864 bytes/);
    expect(existsSync(join(home, "tmp")) ? readdirSync(join(home, "tmp")) : []).toEqual([]);
    // A good archive installs, and its temp folder goes too.
    const src = tempDir();
    writeModule(src, { id: "packed" });
    const good = join(dir, "good.tgz");
    await tar.c({ gzip: true, file: good, cwd: src }, ["packed"]);
    await expect(host.run("module.install", { source: good })).resolves.toMatchObject({ id: "packed", action: "installed" });
    expect(readdirSync(join(home, "tmp"))).toEqual([]);
    void readFileSync;
  }, 60_000);
});
