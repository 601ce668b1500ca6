// Reading module.json safely: size checked before reading, strict UTF-8 JSON, and keys that could
// pollute prototypes refused wherever they appear.
import { readFileSync, statSync } from "node:fs";
import { manifestError } from "./problems.js";

export const MAX_MANIFEST_BYTES = 1024 * 1024;
const HAZARD_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export function readManifestBytes(file: string): Buffer {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw manifestError(file, [{ path: "", message: "module.json must be a regular file" }]);
    size = st.size;
  } catch (e) {
    if ((e as { code?: string }).code === "manifest_invalid") throw e;
    throw manifestError(file, [{ path: "", message: "module.json is missing; every module folder needs one" }]);
  }
  if (size > MAX_MANIFEST_BYTES) {
    throw manifestError(file, [{ path: "", message: `module.json is ${size} bytes, ${MAX_MANIFEST_BYTES} allowed` }]);
  }
  return readFileSync(file);
}

export function parseManifestText(text: string, file: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw manifestError(file, [{ path: "", message: `not valid JSON: ${(e as Error).message}` }]);
  }
  const hazards: string[] = [];
  walk(value, "", hazards);
  if (hazards.length) {
    throw manifestError(file, hazards.map((path) => ({ path, message: `key '${path.split("/").pop()}' is not allowed (prototype pollution)` })));
  }
  return value;
}

export function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    throw manifestError(file, [{ path: "", message: "module.json is not valid UTF-8" }]);
  }
}

function walk(v: unknown, path: string, out: string[]): void {
  if (Array.isArray(v)) {
    v.forEach((item, i) => walk(item, `${path}/${i}`, out));
  } else if (v && typeof v === "object") {
    for (const k of Object.keys(v)) {
      const p = `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (HAZARD_KEYS.has(k)) out.push(p);
      walk((v as Record<string, unknown>)[k], p, out);
    }
  }
}
