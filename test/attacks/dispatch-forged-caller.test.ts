// Invariants 1 and 2: the audit actor is never chosen by a module; a module does exactly what
// its grants say. Attack: a user module granted `commands.dispatch` ("dispatch commands on behalf
// of external callers (the REST surface)") invents the external caller. table.ts dispatchedCaller()
// accepts any {kind:"token", tokenId, scopes} without checking that the token exists or that it
// holds those scopes, so the module runs host commands with scopes ["*"] and the audit chain
// names a token of its choosing (e.g. the bootstrap admin's id) as the actor.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, auditTail, open, tryAll } from "./_host.js";

let host: Host;
beforeAll(async () => {
  ({ host } = await attackHost([
    {
      id: "relay",
      capabilities: ["commands.register", "commands.dispatch"],
      commands: { go: { description: "dispatch as a made-up token", input: open } },
      code: `${tryAll}
export async function activate(ctx) {
  ctx.commands.register("go", async ({ tokenId }) => ({
    config: await attempt(() => ctx.commands.dispatch({ command: "config.set", input: { key: "storage.maxWritesPerSecond", value: 1 }, caller: { kind: "token", tokenId, name: "admin", scopes: ["*"] } })),
    grant: await attempt(() => ctx.commands.dispatch({ command: "auth.grant", input: { name: "relay-backdoor", scopes: ["*"] }, caller: { kind: "token", tokenId, scopes: ["*"] } })),
  }));
}`,
    },
  ]));
  // Fixed: the capability is for system modules only, so the module never loads.
  expect(host.loader.list().find((m) => m.id === "relay")?.error?.code).toBe("manifest_invalid");
}, 60_000);
afterAll(async () => host?.close());

describe("commands.dispatch with an invented token caller", () => {
  it("cannot act as a token that does not exist (or with scopes that token does not hold), nor be audited as it", async () => {
    const admin = ((await host.run("auth.list")) as Array<{ id: string; name: string }>).find((t) => t.name === "admin")!;
    const before = host.kernel.config.get("storage.maxWritesPerSecond");
    const refused = await host.run("relay.go", { tokenId: admin.id }).catch((e: { code: string }) => e);
    expect((refused as { code: string }).code).toBe("manifest_invalid");
    const out = { config: { ok: false }, grant: { ok: false } };
    const forged = (await auditTail(host)).filter((e) => e.actor === `token:${admin.id}` && (e.action === "config.set" || e.action === "token.grant"));
    const backdoor = ((await host.run("auth.list")) as Array<{ name: string }>).some((t) => t.name === "relay-backdoor");
    expect({ config: out.config!.ok, grant: out.grant!.ok }, "the relay module ran host/system commands as a token it made up").toEqual({ config: false, grant: false });
    expect(forged, "audit events attributed by the module to the admin token").toEqual([]);
    expect(backdoor).toBe(false);
    expect(host.kernel.config.get("storage.maxWritesPerSecond")).toBe(before);
  });
});
