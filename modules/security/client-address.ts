// Who a client is: IPv4-mapped IPv6 addresses fold to IPv4, IPv6 clients are keyed by their /64
// (one host usually owns the whole /64), and lists of addresses and CIDRs are matched with
// node's BlockList rather than hand-written prefix arithmetic.
import { BlockList, isIP } from "node:net";

export function foldMapped(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m?.[1] ?? ip;
}

function expandV6(ip: string): number[] | undefined {
  const zone = ip.indexOf("%");
  const addr = zone >= 0 ? ip.slice(0, zone) : ip;
  let tail: number[] = [];
  let head = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr)?.[1];
  if (v4) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    head = addr.slice(0, -v4.length).replace(/:$/, "") || "";
    if (head.endsWith(":")) head += ":";
  }
  const [l, r] = head.split("::") as [string, string | undefined];
  const left = l ? l.split(":").map((h) => parseInt(h, 16)) : [];
  const right = r !== undefined && r !== "" ? r.split(":").map((h) => parseInt(h, 16)) : [];
  const fill = 8 - left.length - right.length - tail.length;
  if (fill < 0 || (r === undefined && fill !== 0)) return undefined;
  return [...left, ...new Array(fill).fill(0), ...right, ...tail];
}

/** An IPv6 address in RFC 5952's canonical text: lowercase, the longest run of zero groups as "::". */
function canonicalV6(groups: number[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/**
 * The key that windows and blocks are kept under, in the form the CLI prints. Any valid way of
 * writing a client gives the same key: an IPv6 address or its /64 (`fd00:77::/64`,
 * `fd00:77:0:0::/64`, `fd00:77::1`) all key as `fd00:77::/64`.
 */
export function clientKey(ip: string): string {
  if (!ip.includes(":")) return ip.trim(); // IPv4: the address itself (the common, hot case)
  let text = ip.trim();
  const slash = text.indexOf("/");
  if (slash >= 0 && text.slice(slash) === "/64") text = text.slice(0, slash);
  const folded = foldMapped(text);
  if (isIP(folded) === 6) {
    const groups = expandV6(folded);
    if (!groups) return folded;
    return `${canonicalV6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
  }
  return folded;
}

export class AddressList {
  readonly #list = new BlockList();
  readonly entries: string[];
  /** Entries that are not addresses: they match nothing, but an allow list holding one stays closed. */
  readonly invalid: string[] = [];

  /** `strict`: throw on the first invalid entry (checking an operator's input) instead of keeping it aside. */
  constructor(entries: readonly string[], o: { strict?: boolean } = {}) {
    this.entries = [...entries];
    for (const e of entries) {
      try {
        const [addr, bits] = String(e).split("/") as [string, string | undefined];
        const a = foldMapped(addr);
        const family = isIP(a) === 6 ? "ipv6" : "ipv4";
        if (!isIP(a) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw new Error(`'${e}' is not an IP address or CIDR`);
        if (bits === undefined) this.#list.addAddress(a, family);
        else this.#list.addSubnet(a, Number(bits), family);
      } catch (err) {
        if (o.strict) throw new Error(`'${e}' is not an IP address or CIDR`, { cause: err });
        this.invalid.push(String(e));
      }
    }
  }

  has(ip: string): boolean {
    if (this.entries.length === 0) return false;
    const a = foldMapped(ip);
    const family = isIP(a);
    if (!family) return false;
    return this.#list.check(a, family === 6 ? "ipv6" : "ipv4");
  }
}

export function validateAddressList(entries: readonly string[]): string | undefined {
  try {
    new AddressList(entries, { strict: true });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
