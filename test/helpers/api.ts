// A serving host on 127.0.0.1 (any free port) and a raw HTTP client that sends paths unnormalised.
import { request } from "node:http";
import { join } from "node:path";
import { Host } from "../../core/host.js";
import type { LogSink } from "../../core/kernel.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir } from "./modules.js";
import { testHost } from "./host.js";

export const EXAMPLES = join(__dirname, "../../modules/examples");

export interface ServingHost {
  host: Host;
  base: URL;
  grant(name: string, scopes: string[], expires?: string): Promise<{ id: string; token: string }>;
  close(): Promise<void>;
}

export async function serveHost(config: Record<string, unknown> = {}, home = tempDir("warden-api-"), logger: LogSink = silentLogger(), clock?: () => number): Promise<ServingHost> {
  const host = await testHost({ home, modulePaths: [EXAMPLES], userRuntime: "inprocess", logger, overrides: { "api.enabled": true, "api.port": 0 }, ...(clock ? { clock } : {}) });
  for (const [k, v] of Object.entries(config)) await host.run("config.set", { key: k, value: v });
  await host.activateAll();
  await host.startSurfaces();
  const address = (host.kernel.services.get("surface:api") as { address(): string }).address();
  return {
    host,
    base: new URL(address),
    grant: async (name, scopes, expires) => (await host.run("auth.grant", { name, scopes, ...(expires ? { expires } : {}) })) as { id: string; token: string },
    close: () => host.close(),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function raw(base: URL, o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; from?: string }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // A connection of its own each time: a pooled keep-alive socket the server is closing (api.keep_alive_timeout_ms)
    // answers "socket hang up" to whichever request it is handed next.
    const req = request(
      { host: base.hostname, port: base.port, method: o.method ?? "GET", path: o.path, headers: o.headers ?? {}, agent: false, ...(o.from ? { localAddress: o.from } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}
