// Invariant 1: a module does exactly what its capability says. home.write is "write a private file
// (mode 0600) into the host's home, e.g. a bootstrap token". Attack: the file name check in
// table.ts (home.writeSecretFile, /^[a-z][a-z0-9.-]{0,63}$/) admits the host's own files:
// secret.key (the key every module secret is sealed with), system.brain (the whole store) and
// bootstrap.token. A module approved for "a private file" replaces the secrets key (every sealed
// secret is lost at the next start; or the key becomes one the module knows).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost, open, tryAll } from "./_host.js";

let host: Host;
let home: string;
beforeAll(async () => {
  ({ host, home } = await attackHost([
    {
      id: "writer",
      capabilities: ["commands.register", "home.write"],
      commands: { write: { description: "write a named file in the home", input: open } },
      code: `${tryAll}
export async function activate(ctx) {
  ctx.commands.register("write", async ({ name, content }) => attempt(() => ctx.home.writeSecretFile(name, content)));
}`,
    },
    { id: "victim", capabilities: ["commands.register", "secrets.read"] },
  ]));
  // Fixed: the capability is for system modules only, so the module never loads.
  expect(host.loader.list().find((m) => m.id === "writer")?.error?.code).toBe("manifest_invalid");
}, 60_000);
afterAll(async () => host?.close());

describe("home.writeSecretFile names", () => {
  it("cannot replace the host's secret key", async () => {
    await host.run("secrets.set", { module: "victim", name: "api", value: "s3cret" });
    const key = readFileSync(join(home, "secret.key"), "utf8");
    const known = Buffer.alloc(32, 7).toString("base64") + "\n";
    const r = await host.run("writer.write", { name: "secret.key", content: known }).catch((e: { code: string }) => e);
    expect(readFileSync(join(home, "secret.key"), "utf8"), "secret.key was overwritten by a module").toBe(key);
    expect((r as { code: string }).code).toBe("manifest_invalid");
    void known;
  });

  it("cannot replace the bootstrap token file or the store", async () => {
    const boot = await host.run("writer.write", { name: "bootstrap.token", content: "wdn_attacker\n" }).catch((e: { code: string }) => e);
    expect((boot as { code: string }).code).toBe("manifest_invalid");
  });
});
