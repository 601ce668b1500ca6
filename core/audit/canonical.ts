// Canonical JSON for hashing: object keys sorted (UTF-16 order, as Array.prototype.sort), no
// whitespace, and only values JSON can carry. Anything else is refused rather than coerced, so two
// hosts can never hash the same event differently (Date, Map, class instances, NaN, bigint...).
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError(`canonical JSON cannot hold the number ${v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonical JSON holds only plain objects, not a ${proto?.constructor?.name ?? "non-plain object"}`);
    }
    const o = v as Record<string, unknown>;
    // undefined members are left out, as JSON.stringify does.
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof v}`);
}
