// Settings at run time: a key no schema declares is refused (config_invalid), never answered
// `undefined` (a misspelt limit would compare false and limit nothing); ctx.config.watch applies a
// module's settings now and after every change, in both runtimes. The compile-time half (a misspelt
// key does not type-check) is in test/sdk-types.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { approve, attackHost, open, tryAll } from "../attacks/_host.js";
import { eventually } from "../helpers/eventually.js";

const spec = {
  id: "tuned",
  capabilities: ["commands.register", "config.read"],
  config: { type: "object", properties: { limit: { type: "integer", minimum: 1, default: 5 } }, additionalProperties: false },
  commands: { read: { description: "read settings", input: open }, seen: { description: "what watch applied", input: open } },
  code: `${tryAll}
let applied = [];
export async function activate(ctx) {
  await ctx.config.watch((s) => { applied.push(s.limit); });
  ctx.commands.register("read", async () => ({
    own: await attempt(() => ctx.config.get("limit")),
    misspelt: await attempt(() => ctx.config.get("limt")),
    all: await attempt(() => ctx.config.get()),
  }));
  ctx.commands.register("seen", async () => applied);
}`,
};

for (const runtime of ["sandbox", "inprocess"] as const) {
  describe(`settings at run time (${runtime})`, () => {
    let host: Host;
    beforeAll(async () => {
      ({ host } = await attackHost([spec], { inProcess: runtime === "inprocess" }));
      await approve(host, "tuned");
      await host.loader.ensureActive("tuned");
    }, 60_000);
    afterAll(async () => host?.close());

    it("a declared setting reads with its default; a misspelt one is refused with config_invalid", async () => {
      const r = (await host.run("tuned.read")) as Record<string, { ok: boolean; v?: unknown; code?: string; message?: string }>;
      expect(r.own).toEqual({ ok: true, v: 5 });
      expect(r.all).toEqual({ ok: true, v: { limit: 5 } });
      expect(r.misspelt).toMatchObject({ ok: false, code: "config_invalid" });
      expect(r.misspelt!.message).toContain("tuned.limit");
    });

    it("watch applied the settings at activation and applies each change (the latest settings, one apply at a time)", async () => {
      const seen = async () => (await host.run("tuned.seen")) as number[];
      expect(await seen()).toEqual([5]);
      await host.run("config.set", { key: "tuned.limit", value: 9 });
      await host.run("config.set", { key: "tuned.limit", value: 11 });
      // Two quick changes may be applied as 9 then 11, or as 11 twice (each apply reads the settings as they are).
      const after = await eventually(async () => ((await seen()).at(-1) === 11 && (await seen()).length === 3 ? seen() : undefined), "watch saw both changes");
      expect(after.slice(1).every((v) => v === 9 || v === 11)).toBe(true);
      // Another owner's change is not this module's: it applies nothing.
      await host.run("config.set", { key: "sandbox.maxCallDepth", value: 20 });
      await host.run("config.set", { key: "tuned.limit", value: 12 });
      await eventually(async () => (await seen()).at(-1) === 12, "the next change of its own");
      expect(await seen()).toHaveLength(4);
    });
  });
}

describe("the host's settings at run time", () => {
  let host: Host;
  beforeAll(async () => {
    ({ host } = await attackHost([]));
  }, 60_000);
  afterAll(async () => host?.close());

  it("reading an undeclared key is refused with config_invalid naming the known keys", () => {
    expect(() => host.kernel.config.read("sandbox.poolSiz")).toThrow(expect.objectContaining({ code: "config_invalid", message: expect.stringContaining("sandbox.poolSize") }));
    expect(() => host.kernel.config.read("nosuchowner.x")).toThrow(expect.objectContaining({ code: "config_invalid" }));
    expect(host.kernel.config.get("sandbox.poolSize")).toBe(2);
  });
});
