// The effects table is complete: every host command and every system module's command is either an
// effect (listed once, with the permission its manifest declares) or a read; every setting of the
// kernel and the system modules has exactly one permission, its owner's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EFFECTS, READS, type EffectName } from "../../core/authority/effects.js";
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

let host: Host;
beforeAll(async () => {
  host = await testHost({ home: tempDir("warden-effects-"), modulePaths: [], logger: silentLogger() });
}, 60_000);
afterAll(async () => {
  await host?.close();
});

describe("the effects table", () => {
  it("lists every host and system command exactly once, with the permission the command declares", () => {
    const commands = host.kernel.bus.list().filter((c) => c.kind !== "user");
    expect(commands.length).toBeGreaterThan(40);
    for (const c of commands) {
      const effects = (Object.entries(EFFECTS) as Array<[EffectName, (typeof EFFECTS)[EffectName]]>).filter(([, e]) => (e.commands as readonly string[]).includes(c.command));
      const reads = (READS as readonly string[]).filter((r) => r === c.command);
      expect(effects.length + reads.length, `${c.command} must be listed once (an effect or a read)`).toBe(1);
      if (effects.length === 0) continue;
      const [name, e] = effects[0]!;
      if (e.permission === "OWNER") {
        // config.set reaches every owner's settings (and then needs that owner's permission);
        // an owner's own command carries its owner's permission.
        const expected = c.command === "config.set" ? "config.set" : host.kernel.config.permissionFor(`${c.module}.enabled`);
        expect(c.permission, `${c.command} (${name})`).toBe(expected);
      } else {
        expect(c.permission, `${c.command} (${name})`).toBe(e.permission);
      }
    }
    // And nothing in the table names a command that does not exist.
    const known = new Set(commands.map((c) => c.command));
    for (const [name, e] of Object.entries(EFFECTS)) for (const c of e.commands) expect(known.has(c), `${name}: ${c}`).toBe(true);
    for (const r of READS) expect(known.has(r), r).toBe(true);
  });

  it("gives every setting of the kernel and the system modules exactly one permission, its owner's", () => {
    const owners: Record<string, string> = {
      security: "security.manage",
      cache: "cache.manage",
      console: "console.manage",
      modules: "modules.trust",
      roles: "operators.manage",
      approvals: "operators.manage",
    };
    const settings = host.kernel.config.list();
    expect(settings.length).toBeGreaterThan(30);
    for (const { key } of settings) {
      const owner = key.slice(0, key.indexOf("."));
      expect(host.kernel.config.permissionFor(key), key).toBe(owners[owner] ?? "config.set");
    }
  });
});
