// Reading module.json safely: size checked before reading, strict UTF-8 JSON, and keys that could
// pollute prototypes refused wherever they appear.
import { closeSync, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { manifestError, pointer, type ManifestProblem } from "./problems.js";

export const MAX_MANIFEST_BYTES = 1024 * 1024;
const HAZARD_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * The raw bytes of module.json. It must be a regular file (not a link: a module.json linked to a
 * file elsewhere would echo that file's first bytes in the parse error) of at most 1 MiB; the size
 * is checked before reading, and the read itself is bounded in case the file grows meanwhile.
 */
export function readManifestBytes(file: string): Buffer {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st) throw manifestError(file, [{ path: "", message: "module.json is missing; every module folder needs one" }]);
  if (!st.isFile()) {
    const what = st.isSymbolicLink() ? "a symbolic link" : st.isDirectory() ? "a directory" : "not a regular file";
    throw manifestError(file, [{ path: "", message: `module.json must be a regular file, but it is ${what}` }]);
  }
  if (st.size > MAX_MANIFEST_BYTES) throw tooBig(file, st.size);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw manifestError(file, [{ path: "", message: `module.json cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_MANIFEST_BYTES) throw tooBig(file, size);
    const buf = Buffer.allocUnsafe(MAX_MANIFEST_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_MANIFEST_BYTES) throw tooBig(file, n);
    }
    return Buffer.from(buf.subarray(0, n)); // a copy: do not pin the 1 MiB scratch buffer
  } finally {
    closeSync(fd);
  }
}

function tooBig(file: string, size: number) {
  return manifestError(file, [{ path: "", message: `module.json is ${size} bytes, ${MAX_MANIFEST_BYTES} allowed` }]);
}

export function parseManifestText(text: string, file: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw manifestError(file, [{ path: "", message: `not valid JSON: ${(e as Error).message}` }]);
  }
  const problems = inspect(value);
  if (problems.length) throw manifestError(file, problems);
  return value;
}

export function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    throw manifestError(file, [{ path: "", message: "module.json is not valid UTF-8" }]);
  }
}

/** Deeper than this is refused before anything recurses over the document (ajv, structuredClone). */
export const MAX_MANIFEST_DEPTH = 64;

/**
 * Every prototype-polluting key, wherever it is (JSON.parse makes "__proto__" an own property, so
 * Object.keys sees it), and any nesting deeper than MAX_MANIFEST_DEPTH. Iterative: a 1 MiB file
 * of brackets must not overflow the stack.
 */
function inspect(root: unknown): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  const stack: Array<{ v: unknown; key: string | undefined; path: string; depth: number }> = [{ v: root, key: undefined, path: "", depth: 0 }];
  while (stack.length) {
    const { v, key, path, depth } = stack.pop()!;
    if (key !== undefined && HAZARD_KEYS.has(key)) out.push({ path, message: `key '${key}' is not allowed (prototype pollution)` });
    if (!v || typeof v !== "object") continue;
    if (depth >= MAX_MANIFEST_DEPTH) {
      out.push({ path, message: `nested deeper than ${MAX_MANIFEST_DEPTH} levels` });
      continue;
    }
    const isArray = Array.isArray(v);
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      stack.push({ v: (v as Record<string, unknown>)[k], key: isArray ? undefined : k, path: path + pointer(k), depth: depth + 1 });
    }
  }
  return out; // depth-first, in document order
}
