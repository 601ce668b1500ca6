// An npm registry on loopback that knows exactly the packages of this checkout's lockfile, so a
// test can `npm install` the packed host, the SDK and a module's devDependencies with no traffic
// beyond 127.0.0.1. Packuments come from npm-shrinkwrap.json (versions, dependencies, bins, engines,
// os/cpu, integrity); the tarballs come from npm's own cache, where `npm ci` put them: npm reads a
// tarball from its cache by integrity before it asks the registry. A tarball the cache lacks is
// answered 404 with what to do, and the test fails saying so.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string> | string;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  hasInstallScript?: boolean;
  license?: string;
}

export interface LocalRegistry {
  url: string;
  /** Tarballs npm asked for (it found none of them in its cache). */
  misses: string[];
  close(): Promise<void>;
}

export async function startLocalRegistry(root: string): Promise<LocalRegistry> {
  const lock = JSON.parse(readFileSync(join(root, "npm-shrinkwrap.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const byName = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || entry.link || !entry.version || !entry.integrity) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    let versions = byName.get(name);
    if (!versions) byName.set(name, (versions = new Map()));
    versions.set(entry.version, entry);
  }
  const misses: string[] = [];
  let base = "";
  const packument = (name: string, versions: Map<string, LockEntry>) => {
    const out: Record<string, unknown> = {};
    let latest = "";
    for (const [version, e] of versions) {
      const file = e.resolved ? e.resolved.slice(e.resolved.lastIndexOf("/") + 1) : `${name.split("/").pop()}-${version}.tgz`;
      out[version] = {
        name,
        version,
        ...(e.dependencies ? { dependencies: e.dependencies } : {}),
        ...(e.optionalDependencies ? { optionalDependencies: e.optionalDependencies } : {}),
        ...(e.peerDependencies ? { peerDependencies: e.peerDependencies } : {}),
        ...(e.peerDependenciesMeta ? { peerDependenciesMeta: e.peerDependenciesMeta } : {}),
        ...(e.bin ? { bin: e.bin } : {}),
        ...(e.engines ? { engines: e.engines } : {}),
        ...(e.os ? { os: e.os } : {}),
        ...(e.cpu ? { cpu: e.cpu } : {}),
        ...(e.libc ? { libc: e.libc } : {}),
        ...(e.hasInstallScript ? { hasInstallScript: true } : {}),
        dist: { tarball: `${base}/${name}/-/${file}`, integrity: e.integrity },
      };
      if (!latest || compare(version, latest) > 0) latest = version;
    }
    return { name, "dist-tags": { latest }, versions: out };
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]!.slice(1));
    if (path.includes("/-/")) {
      misses.push(path);
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: `${path} is not in npm's cache: run \`npm ci\` in the checkout first (it caches every tarball of the lockfile)` }));
      return;
    }
    const versions = byName.get(path);
    if (!versions) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: `${path} is not in this checkout's lockfile` }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument(path, versions)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, misses, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Semver order for plain x.y.z[-pre] versions (enough for picking `latest`). */
function compare(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? 1 : -1;
}
