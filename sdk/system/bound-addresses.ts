// Credentials bound to where they may be used (Vault's token_bound_cidrs): a token or console
// session with a bind list is refused from any client address outside it. IPv4 and IPv6 CIDRs (an
// address alone is its /32 or /128); an IPv4-mapped IPv6 client (::ffff:10.1.2.3) counts as its
// IPv4 address. Matching is node's BlockList, not hand-written prefix arithmetic.
import { BlockList, isIP } from "node:net";
import { WardenError } from "../errors.js";

export const MAX_BIND = 32;

/** The bind list in one form (`10.0.0.0/8`, `fd00::/8`), or input_invalid naming what is not a CIDR. */
export function parseBind(entries: readonly string[]): string[] {
  if (entries.length === 0) throw new WardenError("input_invalid", "--bind names no address; give CIDRs like 10.0.0.0/8 or fd00::/8, or leave it out");
  if (entries.length > MAX_BIND) throw new WardenError("input_invalid", `--bind takes at most ${MAX_BIND} CIDRs`);
  return [
    ...new Set(
      entries.map((raw) => {
        const text = raw.trim();
        const [addr = "", bits] = text.split("/");
        const family = isIP(addr);
        const max = family === 4 ? 32 : 128;
        const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
        if (family === 0 || !(prefix >= 0 && prefix <= max)) throw new WardenError("input_invalid", `--bind '${text.slice(0, 64)}' is not an IPv4 or IPv6 CIDR (10.0.0.0/8, 192.168.1.7, fd00::/8)`);
        return `${addr.toLowerCase()}/${prefix}`;
      }),
    ),
  ];
}

/** Whether a host name or address is one only this machine reaches (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || (isIP(h) === 4 && h.startsWith("127."));
}

/** Whether `client` (an address as the REST surface sees it) is inside the bind list. */
export function bindAllows(bind: readonly string[], client: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(client)?.[1];
  const addr = mapped ?? client;
  const family = isIP(addr);
  if (family === 0) return false;
  const list = new BlockList();
  for (const entry of bind) {
    const [net = "", bits = "0"] = entry.split("/");
    const type = isIP(net) === 4 ? "ipv4" : "ipv6";
    list.addSubnet(net, Number(bits), type);
  }
  return list.check(addr, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Which refusals to audit: one event per credential and address a minute, from at most `max`
 * pairs remembered. A stolen bound token replayed from elsewhere is on record without every
 * retry becoming an event (its failures also fill the client's failed-authentication window).
 */
export class RefusalNotes {
  readonly #last = new Map<string, number>();
  readonly #max: number;
  readonly #everyMs: number;
  constructor(o: { max?: number; everyMs?: number } = {}) {
    this.#max = o.max ?? 10_000;
    this.#everyMs = o.everyMs ?? 60_000;
  }
  /** Whether this refusal is to be audited now. */
  note(credential: string, client: string, now: number): boolean {
    const key = `${credential}\0${client}`;
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#everyMs) return false;
    this.#last.delete(key);
    if (this.#last.size >= this.#max) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(key, now);
    return true;
  }
}

/** Whether every CIDR of `inner` lies inside one of `outer`'s (a derived credential's bind within its asker's). */
export function bindWithin(outer: readonly string[], inner: readonly string[]): boolean {
  return inner.every((cidr) => {
    const [net = "", bits = "0"] = cidr.split("/");
    return outer.some((o) => Number(o.split("/")[1]) <= Number(bits) && isIP(o.split("/")[0] ?? "") === isIP(net) && bindAllows([o], net));
  });
}
