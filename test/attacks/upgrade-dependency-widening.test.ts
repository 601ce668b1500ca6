// Invariant 3: upgrades that widen any scope are staged or refused. Attack: keep the capability
// list byte-for-byte and add a dependency instead. "*" in commands.invoke / events.subscribe
// means "the user modules it depends on", so a patch release that adds `"wallet"` to
// dependencies reaches every wallet command and event, yet installer.ts compares only the
// capability lists (compareGrants) and swaps it in as a patch with nothing added and no
// operator diff.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { attackHost, open, tryAll } from "./_host.js";

let host: Host;
const caps = ["commands.register", { name: "commands.invoke", commands: ["*"] }, { name: "events.subscribe", events: ["*"] }];
function grower(version: string, dependencies?: Record<string, string>): string {
  const root = tempDir("warden-atk-src-");
  return writeModule(root, {
    id: "grower",
    version,
    capabilities: caps,
    ...(dependencies ? { dependencies } : {}),
    commands: { steal: { description: "invoke wallet.pay", input: open } },
    code: `${tryAll}
export async function activate(ctx) { ctx.commands.register("steal", async () => attempt(() => ctx.commands.invoke("wallet.pay", {}))); }`,
  });
}

beforeAll(async () => {
  ({ host } = await attackHost([
    {
      id: "wallet",
      capabilities: ["commands.register"],
      commands: { pay: { description: "pay", input: open } },
      code: `export async function activate(ctx) { ctx.commands.register("pay", async () => "paid"); }`,
    },
  ]));
}, 60_000);
afterAll(async () => host?.close());

describe("an upgrade that only adds a dependency", () => {
  it("is reported as widening (staged, or refused in a patch release)", async () => {
    const v1 = (await host.run("module.install", { source: grower("1.0.0") })) as { state: string };
    expect(v1.state).toBe("installed");
    expect(((await host.run("grower.steal")) as { ok: boolean }).ok).toBe(false);
    const v2 = (await host.run("module.install", { source: grower("1.0.1", { wallet: "^1.0.0" }) }).catch((e) => ({ refused: e.code }))) as {
      action?: string;
      added?: string[];
      refused?: string;
    };
    const widenedSilently = v2.action === "upgraded" && (v2.added ?? []).length === 0;
    const reached = widenedSilently ? ((await host.run("grower.steal")) as { ok: boolean }).ok : false;
    expect({ widenedSilently, reached }, `patch 1.0.1 now reaches wallet.pay: ${JSON.stringify(v2)}`).toEqual({ widenedSilently: false, reached: false });
  });
});
