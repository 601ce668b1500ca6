import { describe, expect, it } from "vitest";
import { resolveDependencies, type Node } from "../core/loader/resolve.js";

const n = (id: string, dependencies: Record<string, string> = {}, version = "1.0.0", host = "^0.1.0"): Node => ({ id, version, host, dependencies });

describe("dependency resolution", () => {
  it("orders dependencies before dependents", () => {
    const r = resolveDependencies([n("app", { db: "^1.0.0", log: "^1.0.0" }), n("db", { log: "^1.0.0" }), n("log")], "0.1.0");
    expect(r.failures.size).toBe(0);
    expect(r.order.indexOf("log")).toBeLessThan(r.order.indexOf("db"));
    expect(r.order.indexOf("db")).toBeLessThan(r.order.indexOf("app"));
  });

  it("reports a missing dependency with both ids", () => {
    const r = resolveDependencies([n("app", { ghost: "^1.0.0" })], "0.1.0");
    const err = r.failures.get("app")!;
    expect(err.code).toBe("dependency_unresolved");
    expect(err.message).toContain("'app'");
    expect(err.message).toContain("'ghost'");
  });

  it("reports an unsatisfied range with the version found", () => {
    const r = resolveDependencies([n("app", { db: "^2.0.0" }), n("db", {}, "1.4.0")], "0.1.0");
    const err = r.failures.get("app")!;
    expect(err.code).toBe("dependency_unresolved");
    expect(err.message).toMatch(/\^2\.0\.0.*1\.4\.0/);
    expect(r.order).toEqual(["db"]);
  });

  it("reports an incompatible host range", () => {
    const r = resolveDependencies([n("future", {}, "1.0.0", "^2.0.0")], "0.1.0");
    expect(r.failures.get("future")!.code).toBe("host_incompatible");
    expect(r.failures.get("future")!.message).toContain("^2.0.0");
  });

  it("names every module of a cycle", () => {
    const r = resolveDependencies([n("a", { b: "*" }), n("b", { c: "*" }), n("c", { a: "*" }), n("free")], "0.1.0");
    for (const id of ["a", "b", "c"]) {
      const err = r.failures.get(id)!;
      expect(err.code).toBe("dependency_cycle");
      expect(err.message).toContain("a -> b -> c -> a");
    }
    expect(r.order).toEqual(["free"]);
  });

  it("cascades a failure to dependents only", () => {
    const r = resolveDependencies([n("base", {}, "1.0.0", "^9.0.0"), n("mid", { base: "*" }), n("top", { mid: "*" }), n("other"), n("uses-other", { other: "*" })], "0.1.0");
    expect(r.failures.get("base")!.code).toBe("host_incompatible");
    expect(r.failures.get("mid")!.code).toBe("dependency_unresolved");
    expect(r.failures.get("mid")!.message).toContain("'base'");
    expect(r.failures.get("top")!.message).toContain("'mid'");
    expect(r.order).toEqual(["other", "uses-other"]);
  });
});
