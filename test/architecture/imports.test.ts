// The import rules of docs/architecture.md, checked on the real source tree: core/ imports no
// module; a module imports only its own files, sdk/ and packages; sdk/ imports neither; the public
// SDK never reaches sdk/system or a package (an author's editor loads no Redis types); and no two
// folders import each other's values in a cycle.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { folderCycles, folderOf, importGraph, type ImportEdge } from "./import-graph.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const graph = importGraph(ROOT);
const show = (edges: ImportEdge[]) => edges.map((e) => `${e.from} -> ${e.to}`);

describe("import rules", () => {
  it("reads the whole tree (a broken reader would pass every rule)", () => {
    expect(graph.length).toBeGreaterThan(300);
    expect(graph.some((e) => e.from === "core/host.ts" && e.to === "core/loader/module-loader.ts")).toBe(true);
    expect(graph.some((e) => e.from.startsWith("modules/api/") && e.external === "fastify")).toBe(true);
  });

  it("core/ imports no module", () => {
    expect(show(graph.filter((e) => e.from.startsWith("core/") && e.to.startsWith("modules/")))).toEqual([]);
  });

  it("a module imports only its own files, sdk/ and packages (never core/, never another module, never the host package)", () => {
    const bad = graph.filter((e) => {
      if (!e.from.startsWith("modules/")) return false;
      if (e.external) return e.external.startsWith("@warden/host");
      const own = e.from
        .split("/")
        .slice(0, e.from.startsWith("modules/examples/") ? 3 : 2)
        .join("/");
      return !(e.to.startsWith(`${own}/`) || e.to.startsWith("sdk/"));
    });
    expect(show(bad)).toEqual([]);
  });

  it("sdk/ imports neither core/ nor modules/", () => {
    expect(show(graph.filter((e) => e.from.startsWith("sdk/") && !e.external && !e.to.startsWith("sdk/")))).toEqual([]);
  });

  it("the public SDK (sdk/index.ts and what it reaches) never reaches sdk/system or a package", () => {
    const reached = new Set<string>();
    const bad: ImportEdge[] = [];
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const e of graph.filter((g) => g.from === file)) {
        if (e.external || e.to.startsWith("sdk/system/")) bad.push(e);
        else visit(e.to);
      }
    };
    visit("sdk/index.ts");
    visit("sdk/testing.ts");
    expect(reached.has("sdk/context.ts")).toBe(true);
    expect(show(bad)).toEqual([]);
  });

  it("no two folders import each other's values in a cycle (import type is erased and may point back to the interfaces a folder implements)", () => {
    const cycles = folderCycles(graph.filter((e) => !e.typeOnly));
    expect(cycles.map((c) => c.join(" <-> "))).toEqual([]);
  });

  it("the cycle check finds a cycle when there is one", () => {
    const e = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: false });
    expect(folderCycles([e("a/x.ts", "b/y.ts"), e("b/y.ts", "c/z.ts"), e("c/z.ts", "a/w.ts"), e("d/q.ts", "a/x.ts")])).toEqual([["a", "b", "c"]]);
    expect(folderOf("core/hostapi/table.ts")).toBe("core/hostapi");
  });
});
