// The import graph of core/, modules/ and sdk/, read with TypeScript's own pre-processor, and the
// rules it must keep (docs/architecture.md, "Layers and import rules"). Checked by
// test/architecture/imports.test.ts in `npm test`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export interface ImportEdge {
  /** Both repository-relative, e.g. core/hostapi/table.ts -> core/base/errors.ts. */
  from: string;
  to: string;
  /** A package or builtin (`fastify`, `node:fs`), when the import is not a file of ours. */
  external?: string;
  /** `import type` / `export type`: erased at run time. */
  typeOnly: boolean;
}

const SOURCE_ROOTS = ["core", "modules", "sdk"];

/** The TypeScript sources (tests excluded) of core/, modules/ and sdk/, repository-relative. */
export function sourceFiles(root: string): string[] {
  return SOURCE_ROOTS.flatMap((d) => sources(root, d));
}

function sources(root: string, dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) sources(root, rel, out);
    else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts") && !rel.endsWith(".test.ts")) out.push(rel);
  }
  return out;
}

export function importGraph(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    const typeOnlyTargets = new Set([...text.matchAll(/(?:import|export) type [^;]*?from "([^"]+)"/g)].map((m) => m[1]));
    const valueTargets = new Set([...text.matchAll(/(?:import|export) (?!type )[^;]*?from "([^"]+)"|import "([^"]+)"|import\("([^"]+)"\)/g)].map((m) => m[1] ?? m[2] ?? m[3]));
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      const typeOnly = typeOnlyTargets.has(fileName) && !valueTargets.has(fileName);
      if (!fileName.startsWith(".")) {
        edges.push({ from: file, to: fileName, external: fileName, typeOnly });
        continue;
      }
      const to = relative(root, resolve(root, dirname(file), fileName.replace(/\.js$/, ".ts")));
      edges.push({ from: file, to, typeOnly });
    }
  }
  return edges;
}

/** The folder a file belongs to for the layering rules: core/loader, modules/api, sdk/system... */
export function folderOf(file: string): string {
  return dirname(file);
}

/** Strongly connected groups of folders (Tarjan): each group of two or more is a cycle. */
export function folderCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.external) continue;
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)?.add(b);
    if (!next.has(b)) next.set(b, new Set());
  }
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** Which edges between two folders of a cycle make it (for the failure message). */
export function edgesBetween(edges: readonly ImportEdge[], group: readonly string[]): string[] {
  const inGroup = new Set(group);
  return edges
    .filter((e) => !e.external && folderOf(e.from) !== folderOf(e.to) && inGroup.has(folderOf(e.from)) && inGroup.has(folderOf(e.to)))
    .map((e) => `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}`);
}
