// A module author's test host (`@warden/sdk/testing`): secrets set as an operator would, net.fetch
// answered by a fake after the host's own checks, a clock the budgets run on, the module's log
// lines. Each case runs the module in the real sandbox.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openTestHost, type HostTestHost } from "../core/authoring/testing.js";
import { tempDir, writeModule } from "./helpers/modules.js";

const open: HostTestHost[] = [];
afterAll(async () => {
  for (const h of open) await h.close();
});

const root = tempDir("warden-testhost-");
const fetcher = writeModule(root, {
  id: "fetcher",
  capabilities: ["commands.register", { name: "net.fetch", hosts: ["api.example.com"] }, "secrets.read", "log.write"],
  commands: {
    call: { description: "fetch the allowed host with the secret", input: { type: "object", properties: { path: { type: "string" } }, additionalProperties: false } },
    stray: { description: "fetch a host the grant does not list", input: { type: "object", properties: {}, additionalProperties: false } },
  },
  code: `export async function activate(ctx) {
  ctx.commands.register("call", async ({ path }) => {
    const token = await ctx.secrets.get("token");
    ctx.log.info("calling " + (path ?? "/"));
    return ctx.net.fetch("https://api.example.com" + (path ?? "/"), { headers: { authorization: "Bearer " + token } });
  });
  ctx.commands.register("stray", async () => ctx.net.fetch("https://elsewhere.example.net/"));
}
`,
});

describe("createTestHost", () => {
  it("sets secrets, answers net.fetch with a fake after the host's checks, records log lines", async () => {
    const t = await openTestHost({
      module: fetcher,
      secrets: { token: "s3cret" },
      fetch: (req) => ({ status: 201, headers: { "X-Seen": req.headers.authorization ?? "none" }, body: `you asked for ${req.method} ${req.url}` }),
    });
    open.push(t);
    expect(await t.call("call", { path: "/x" })).toEqual({ status: 201, headers: { "x-seen": "Bearer s3cret" }, body: "you asked for GET https://api.example.com/x" });
    expect(t.fetches).toEqual([{ url: "https://api.example.com/x", method: "GET", headers: { authorization: "Bearer s3cret" } }]);
    expect(t.logs).toEqual([{ level: "info", message: "calling /x" }]);
    // A host the grant does not list is refused before the fake is asked.
    await expect(t.call("stray")).rejects.toMatchObject({ code: "capability_denied" });
    expect(t.fetches).toHaveLength(1);
    await t.setSecret("token", "rotated");
    await t.call("call");
    expect(t.fetches[1]!.headers.authorization).toBe("Bearer rotated");
  }, 60_000);

  it("moves the host's clock: a per-minute budget spent now is available again a minute later, with no waiting", async () => {
    const t = await openTestHost({ module: fetcher, secrets: { token: "t" }, fetch: () => ({ status: 200 }) });
    open.push(t);
    await t.host.run("config.set", { key: "net.max_requests_per_minute", value: 2 });
    // The window is the minute the clock is in; start at a minute's beginning so two calls share it.
    t.clock.advance(60_000 - (t.clock.now() % 60_000));
    await t.call("call");
    await t.call("call");
    await expect(t.call("call")).rejects.toMatchObject({ code: "rate_limited" });
    t.clock.advance(60_000);
    await expect(t.call("call")).resolves.toMatchObject({ status: 200 });
    expect(() => t.clock.advance(-1)).toThrow(/forward/);
  }, 60_000);

  it("without a fake fetch, the network path is the real one (its checks refuse an unlisted host the same way)", async () => {
    const t = await openTestHost({ module: join(root, "fetcher") });
    open.push(t);
    await expect(t.call("stray")).rejects.toMatchObject({ code: "capability_denied" });
    expect(t.fetches).toEqual([]);
  }, 60_000);
});

describe("@warden/sdk in a sandboxed module", () => {
  const mod = (id: string, code: string) => writeModule(root, { id, commands: { hi: { description: "hi", input: { type: "object", properties: {}, additionalProperties: false } } }, code });

  it("defineModule and the error catalogue are the one package a sandboxed module may import (the host's own copy)", async () => {
    const dir = mod(
      "defined",
      `import { defineModule, ERROR_CATALOGUE } from "@warden/sdk";
export default defineModule({ activate(ctx) { ctx.commands.register("hi", async () => "hi, " + Object.keys(ERROR_CATALOGUE).includes("capability_denied")); } });
`,
    );
    const t = await openTestHost({ module: dir });
    open.push(t);
    expect(await t.call("hi")).toBe("hi, true");
  }, 60_000);

  it.each([
    ["the test harness", "@warden/sdk/testing"],
    ["a path through the SDK's name", "@warden/sdk/../../core/host.js"],
    ["a look-alike", "@warden/sdkx"],
  ])(
    "%s is still a bundle error: %s",
    async (_what, specifier) => {
      const dir = mod(`bad${Math.abs(specifier.length * 7919) % 10000}`, `import * as x from "${specifier}";\nexport function activate(ctx) { ctx.commands.register("hi", async () => typeof x); }\n`);
      const t = await openTestHost({ module: dir });
      open.push(t);
      await expect(t.call("hi")).rejects.toMatchObject({ code: "bundle_failed" });
    },
    60_000,
  );
});
