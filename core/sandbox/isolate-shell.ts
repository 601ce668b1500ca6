// What every module's isolate starts as, made ahead of need: an isolate, its context and the
// prelude compiled and run to its factory (the setup is applied later, per module). Creating an
// isolate is most of a cold activation (about 2.5 ms of it); each sandbox process keeps one shell
// spare, made after it has answered, so an activation takes a ready one. A shell has never run
// module code and is used once.
//
// Also the compiled-code caches (V8 code cache by bundle hash, and one for the prelude), shared by
// this process's isolates and kept on disk across processes.
import { mkdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import ivm from "isolated-vm";
import { PRELUDE } from "./prelude.js";

export interface Shell {
  isolate: ivm.Isolate;
  context: ivm.Context;
  /** The prelude's factory: (bridge, setupText) -> the runtime. */
  factory: ivm.Reference;
  memoryMb: number;
}

const codeCache = new Map<string, ArrayBuffer>();
let codeCacheDir: string | undefined;

export function useCodeCacheDir(dir: string): void {
  codeCacheDir = dir;
}

/** V8 refuses a cache made by another V8 build or with other flags; keep such caches apart. */
export const CACHE_TAG = `${process.versions.v8}-${process.arch}`.replace(/[^\w.-]/g, "_");
const PRELUDE_KEY = `prelude-${CACHE_TAG}-${hashOf(PRELUDE)}`;

function cachedCode(key: string): ArrayBuffer | undefined {
  const hit = codeCache.get(key);
  if (hit || !codeCacheDir) return hit;
  try {
    const b = readFileSync(join(codeCacheDir, `${key}.bin`));
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    codeCache.set(key, ab);
    return ab;
  } catch {
    return undefined;
  }
}

/** Kept in memory at once; written to disk after, off the activation's path (a lost write only costs a recompile). */
function storeCode(key: string, data: ArrayBuffer): void {
  codeCache.set(key, data);
  const dir = codeCacheDir;
  if (!dir) return;
  const file = join(dir, `${key}.bin`);
  const tmp = `${file}.${process.pid}.tmp`;
  void (async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, Buffer.from(data));
    await rename(tmp, file);
  })().catch(() => {});
}

/** Compiles with the code cache for `key`, producing (and keeping) one when there is none. */
export function compileCached(isolate: ivm.Isolate, code: string, filename: string, key: string): ivm.Script {
  const cached = cachedCode(key);
  const script = isolate.compileScriptSync(
    code,
    cached ? { filename, cachedData: new ivm.ExternalCopy(cached) as ivm.ExternalCopy<ArrayBuffer> } : { filename, produceCachedData: true },
  ) as ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean };
  if (cached && script.cachedDataRejected) codeCache.delete(key);
  else if (!cached && script.cachedData) storeCode(key, script.cachedData.copy());
  return script;
}

function newShell(memoryMb: number): Shell {
  const isolate = new ivm.Isolate({
    memoryLimit: memoryMb,
    // V8 cannot continue after these; the supervisor restarts this process and re-activates.
    onCatastrophicError: () => process.abort(),
  });
  try {
    const context = isolate.createContextSync();
    const factory = compileCached(isolate, PRELUDE, "warden:prelude", PRELUDE_KEY).runSync(context, { reference: true }) as ivm.Reference;
    return { isolate, context, factory, memoryMb };
  } catch (e) {
    isolate.dispose();
    throw e;
  }
}

let spare: Shell | undefined;
let refill: NodeJS.Immediate | undefined;

/**
 * A shell for a module with this memory limit: the spare when its limit matches, else a new one.
 * Either way a spare with this limit is made again once the process is idle (setImmediate: after
 * the replies of this turn are written).
 */
export function takeShell(memoryMb: number): Shell {
  let shell = spare;
  spare = undefined;
  if (shell && shell.memoryMb !== memoryMb) {
    shell.isolate.dispose();
    shell = undefined;
  }
  refill ??= setImmediate(() => {
    refill = undefined;
    if (spare) return;
    try {
      spare = newShell(memoryMb);
    } catch {
      // no spare: the next activation makes its own (and says why if it cannot)
    }
  });
  return shell ?? newShell(memoryMb);
}

function hashOf(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}
