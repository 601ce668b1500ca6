// ctx.net.fetch: HTTP(S) to the hosts a module's net.fetch grant lists, and nowhere else.
// - the URL's host (and port, when the pattern names one) must match an allowed pattern;
// - redirects are not followed (a 3xx is returned as it is), so a listed host cannot bounce the
//   module to an unlisted one;
// - a host listed by name must not resolve to a loopback, private or link-local address (DNS
//   rebinding, SSRF into the host's own network): to reach such an address, list the IP itself;
//   every address a name resolves to is checked, and the connection goes only to checked ones;
// - bodies are capped both ways and every request has a time limit.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { CapabilityError, HostError } from "../base/errors.js";
import { isInternalAddress } from "./internal-addresses.js";

export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 10_000;

export interface FetchRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface FetchResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function hostMatches(pattern: string, hostname: string, port: string): boolean {
  const [rawHost, pPort] = pattern.split(/:(?=\d+$)/) as [string, string | undefined];
  const pHost = rawHost.replace(/^\[|\]$/g, "");
  if (pPort !== undefined && pPort !== port) return false;
  if (pHost.startsWith("*.")) return hostname.endsWith(pHost.slice(1)) && hostname.length > pHost.length - 1;
  return pHost === hostname;
}

/**
 * What carries a request once every check has passed. The real one is the network; a module
 * author's test host answers instead (`createTestHost({ fetch })`), so the checks are the same.
 */
export type NetTransport = (request: { url: string; method: string; headers: Record<string, string>; body?: string }) => Promise<FetchResponse>;

export async function netFetch(moduleId: string, allowed: readonly string[], url: unknown, init: unknown, transport?: NetTransport): Promise<FetchResponse> {
  if (typeof url !== "string") throw new HostError("input_invalid", "net.fetch: url must be a string");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HostError("input_invalid", `net.fetch: '${url.slice(0, 200)}' is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new HostError("input_invalid", "net.fetch: only http and https URLs");
  if (u.username || u.password) throw new HostError("input_invalid", "net.fetch: credentials in the URL are not allowed; send a header");
  const hostname = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  if (!allowed.some((p) => hostMatches(p.toLowerCase(), hostname, port))) {
    throw new CapabilityError(moduleId, "net.fetch", `host '${hostname}:${port}' is not among its allowed hosts (${allowed.join(", ")})`);
  }
  const o = (init ?? {}) as FetchRequest;
  const method = (o.method ?? "GET").toUpperCase();
  if (!/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/.test(method)) throw new HostError("input_invalid", `net.fetch: method ${method} is not allowed`);
  const body = o.body === undefined ? undefined : String(o.body);
  if (body !== undefined && Buffer.byteLength(body) > MAX_REQUEST_BYTES) throw new HostError("quota_exceeded", `net.fetch: request body over ${MAX_REQUEST_BYTES} bytes`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (/^(host|connection|transfer-encoding|content-length|proxy-.*)$/i.test(k)) continue;
    headers[k] = String(v);
  }
  if (transport) return answered(await transport({ url: u.href, method, headers, ...(body !== undefined ? { body } : {}) }));
  const literal = isIP(hostname) !== 0;
  // A name must not lead into the host's own network unless that very address is listed (an IP
  // literal was listed on purpose). Every address the name has is checked, and node is answered in
  // the shape it asked for (Node 20 asks for all of them, to try each family in turn).
  const listed = new Set(
    allowed.map((p) =>
      p
        .toLowerCase()
        .replace(/:(\d+)$/, "")
        .replace(/^\[|\]$/g, ""),
    ),
  );
  const lookup = (host: string, opts: { all?: boolean }, cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void) =>
    dnsLookup(host, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err, "", 0);
      const inside = literal ? undefined : addresses.find((a) => isInternalAddress(a.address) && !listed.has(a.address));
      if (inside) return cb(new Error(`'${host}' resolves to the internal address ${inside.address}; list that IP in net.fetch hosts to allow it`), "", 0);
      if (addresses.length === 0) return cb(new Error(`'${host}' has no address`), "", 0);
      if (opts.all) return cb(null, addresses);
      cb(null, addresses[0]!.address, addresses[0]!.family);
    });

  return new Promise<FetchResponse>((resolve, reject) => {
    // No shared agent: a pooled connection (keep-alive) would skip the lookup and its check, and
    // hand one module a connection another module's grant opened.
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, { method, headers, lookup: lookup as never, timeout: TIMEOUT_MS, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy();
          reject(new HostError("quota_exceeded", `net.fetch: response over ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
        resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", (e) => reject(new HostError("module_error", `net.fetch: ${e.message}`)));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", (e) => reject(new HostError("module_error", `net.fetch ${hostname}: ${e.message}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A transport's answer, held to what the network path holds a response to. */
function answered(r: FetchResponse): FetchResponse {
  const body = typeof r.body === "string" ? r.body : "";
  if (Buffer.byteLength(body) > MAX_RESPONSE_BYTES) throw new HostError("quota_exceeded", `net.fetch: response over ${MAX_RESPONSE_BYTES} bytes`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return { status: Number.isInteger(r.status) ? r.status : 0, headers, body };
}
