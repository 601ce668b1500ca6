// The CLI as a newcomer meets it: help, required arguments, flags, exit codes, problems' shape,
// and a mistyped --home that must not silently become a new home.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { warden } from "../helpers/cli.js";
import { tempDir, writeModule } from "../helpers/modules.js";

describe("the CLI", () => {
  it("prints help on stdout with exit 0 when called with nothing", () => {
    const r = warden(["--home", tempDir()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: warden/);
    expect(r.stderr).toBe("");
  });

  it("shows required arguments as required, no --no-flag noise, and one-letter properties as short flags only", () => {
    const home = tempDir();
    const approve = warden(["--home", home, "module", "approve", "--help"]);
    expect(approve.stdout).toMatch(/approve \[options\] <id>/);
    const remove = warden(["--home", home, "module", "remove", "--help"]);
    expect(remove.stdout).toContain("--purge");
    expect(remove.stdout).not.toContain("--no-purge");
    const tail = warden(["--home", home, "audit", "tail", "--help"]);
    expect(tail.stdout).toMatch(/-n <integer>/);
    expect(tail.stdout).not.toContain("--n ");
  });

  it("refuses a --home that does not exist instead of creating it, and says how to create one", () => {
    const missing = join(tempDir(), "typo-home");
    const r = warden(["--home", missing, "module", "list", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.error.message).toContain(`warden init --home ${missing}`);
    expect(warden(["--home", missing, "init"]).code).toBe(0);
    expect(warden(["--home", missing, "module", "list", "--json"]).code).toBe(0);
  });

  it("gives config_invalid problems the same {path, message} shape as input_invalid", () => {
    const r = warden(["--home", tempDir(), "config", "set", "security.rate_limit", "-5", "--json"]);
    expect(r.json.error.code).toBe("config_invalid");
    expect(r.json.error.details.problems).toEqual([expect.objectContaining({ path: "/rate_limit", message: expect.any(String) })]);
  });

  it("exits non-zero when module reload leaves the module failed", () => {
    const home = tempDir();
    const mods = tempDir();
    const dir = writeModule(mods, { id: "flaky" });
    expect(warden(["--home", home, "--modules", mods, "module", "reload", "flaky"]).code).toBe(0);
    require("node:fs").writeFileSync(join(dir, "module.json"), "{ broken");
    const r = warden(["--home", home, "--modules", mods, "module", "reload", "flaky", "--json"]);
    expect(r.json.state).toBe("failed");
    expect(r.code).toBe(2); // manifest_invalid's exit code
  });

  it("asks for --yes before auth reset when stdin is not a terminal", () => {
    const home = tempDir();
    const r = warden(["--home", home, "auth", "reset", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/add --yes/);
    expect(warden(["--home", home, "auth", "reset", "--yes", "--json"]).json).toMatchObject({ revoked: 1 });
  });
});
