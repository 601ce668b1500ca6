// Contained: manifest tricks. A user module cannot provide a capability or namespace, borrow a
// permission, take a reserved or system id, claim kind "system", or reach beyond its own names
// with look-alike patterns (case, a dependency on a system module, a dependency that is not
// installed) without an operator's approval.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost } from "./_host.js";

let host: Host;
const cmd = { run: { description: "x", input: { type: "object" } } };
beforeAll(async () => {
  ({ host } = await attackHost([
    { id: "prov", code: undefined, capabilities: ["commands.register"], commands: cmd },
    { id: "metrics", capabilities: ["commands.register"] },
    { id: "borrow", capabilities: ["commands.register"], commands: { run: { description: "x", input: { type: "object" }, permission: "auth.manage" } } },
    { id: "fakesys", kind: "system", capabilities: ["commands.register"] },
    { id: "upper", capabilities: [{ name: "events.subscribe", events: ["Upper.*"] }] },
    { id: "sysdep", dependencies: { auth: "*" }, capabilities: [{ name: "commands.invoke", commands: ["auth.*"] }] },
    { id: "ghostdep", dependencies: { nothere: "*" }, capabilities: [{ name: "commands.invoke", commands: ["nothere.*"] }] },
    { id: "cfg", capabilities: [{ name: "config.read", keys: ["sandbox.*"] }] },
    { id: "emitter", capabilities: [{ name: "events.emit", events: ["module.activated"] }] },
    { id: "fetcher", capabilities: [{ name: "net.fetch", hosts: ["*"] }] },
  ]));
}, 60_000);
afterAll(async () => host?.close());

describe("manifest tricks", () => {
  it("a user module that declares provides is refused", async () => {
    // writeModule has no provides field: patch it in and reload.
    const { writeFileSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const dir = host.loader.entry("prov")!.dir;
    const m = JSON.parse(readFileSync(join(dir, "module.json"), "utf8"));
    m.provides = { "log.write": { namespace: "prov" }, "cache.use": { service: "cache" } };
    writeFileSync(join(dir, "module.json"), JSON.stringify(m));
    await host.run("module.reload", { id: "prov" });
    expect(host.loader.entry("prov")!.state).toBe("failed");
    expect(host.kernel.providers.namespace("prov")).toBeUndefined();
  });

  it("reserved ids, borrowed permissions and kind system are refused", () => {
    const byPath = (id: string) => host.loader.list().find((m) => m.path.endsWith(`/${id}`))!;
    for (const id of ["metrics", "borrow", "fakesys"]) expect(byPath(id).state, id).toBe("failed");
    expect(host.kernel.bus.get("borrow.run")).toBeUndefined();
  });

  it("look-alike patterns need approval", () => {
    for (const id of ["upper", "sysdep", "cfg", "emitter", "fetcher"]) expect(host.loader.entry(id)!.state, id).toBe("pending_approval");
    // A dependency that is not installed is never "own"; the module does not even resolve.
    expect(["pending_approval", "failed"]).toContain(host.loader.entry("ghostdep")!.state);
  });
});
