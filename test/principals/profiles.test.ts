// Security profiles: `warden init --profile strict` writes the strict settings; each is enforced
// where it is read (signatures, two-person approval, TLS off loopback, no newcomer token, no learn
// mode); `warden security profile` lists where a host departs from its profile.
import { describe, expect, it } from "vitest";
import { warden } from "../helpers/cli.js";
import { emptyInput, tempDir, writeModule } from "../helpers/modules.js";

describe("security profiles", () => {
  it("init --profile strict writes the strict settings, and security profile lists each departure", () => {
    const home = tempDir("warden-strict-");
    const cli = (...args: string[]) => warden(["--home", home, "--json", ...args]);
    const init = cli("init", "--profile", "strict");
    expect(init.code, init.stderr).toBe(0);
    expect(init.json.settings).toMatchObject({ "modules.require_signature": true, "approvals.required": 2, "api.require_tls": true, "modules.allow_learn": false, "host.profile": "strict" });
    expect(cli("security", "profile").json).toMatchObject({ profile: "strict", departures: [] });
    // The home's holder may change a setting (break-glass); the report says where it now departs.
    expect(cli("config", "set", "modules.require_signature", "false").code).toBe(0);
    expect(cli("security", "profile").json.departures).toEqual([{ key: "modules.require_signature", expected: true, actual: false }]);
    expect(cli("security", "profile", "--as", "dev").json.departures.map((d: { key: string }) => d.key)).toEqual(["approvals.required", "api.require_tls", "modules.allow_learn"]);
    expect(cli("init", "--profile", "lax").stderr + cli("init", "--profile", "lax").stdout).toContain("no profile 'lax'");
  });

  it("strict refuses REST on a non-loopback address without TLS, and learn mode on the home", () => {
    const home = tempDir("warden-strict-");
    expect(warden(["--home", home, "init", "--profile", "strict"]).code).toBe(0);
    expect(warden(["--home", home, "config", "set", "api.host", "0.0.0.0"]).code).toBe(0);
    const serve = warden(["--home", home, "serve", "--enable-api"], { WARDEN_API_PORT: "0" });
    expect(serve.code).not.toBe(0);
    expect(serve.stdout + serve.stderr).toContain("api.require_tls is on");
    const dir = writeModule(tempDir("warden-mod-"), {
      id: "learner",
      capabilities: ["commands.register"],
      commands: { go: { description: "d", input: emptyInput } },
      code: `export function activate(ctx) { ctx.commands.register("go", async () => "ok"); }`,
    });
    const learn = warden(["--home", home, "module", "learn", dir]);
    expect(learn.code).not.toBe(0);
    expect(learn.stdout + learn.stderr).toContain("learn mode is off");
  });
});
