// A user module with an approved security.manage reaches the security module's commands through
// ctx.security, in a one-shot CLI (the provider activated on demand) and under `warden serve`
// (through the control socket), audited with the module as actor both times.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { serveInBackground, warden, type Serving } from "./helpers/cli.js";
import { tempDir } from "./helpers/modules.js";

const MODULES = join(__dirname, "fixtures/provider");
let serving: Serving | undefined;
afterEach(async () => {
  await serving?.stop();
  serving = undefined;
});

function lastSecurityEvents(common: string[]): Array<{ actor: string; action: string }> {
  const tail = warden([...common, "audit", "tail", "-n", "50", "--json"]);
  expect(tail.code, tail.stderr).toBe(0);
  return (tail.json as Array<{ actor: string; action: string }>).filter((e) => e.action === "security.lockdown" || e.action === "security.unlock");
}

describe("a module with approved security.manage", () => {
  it("is pending until approved; the CLI approves exactly the manifest it shows, by hash", () => {
    const common = ["--home", tempDir("warden-guard-"), "--modules", MODULES];
    const before = warden([...common, "guard", "lock", "--json"]);
    expect(before.json.error.code).toBe("approval_required");
    const approve = warden([...common, "module", "approve", "guard", "--json"]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stderr).toMatch(/approving guard 1\.0\.0: security\.manage \(elevated capability\) \[manifest [0-9a-f]{12}\]/);
    const stale = warden([...common, "module", "approve", "guard", "--hash", "0".repeat(64), "--json"]);
    expect(stale.json.error.code).toBe("approval_stale");
    expect(stale.code).toBe(2);
  }, 60_000);

  it("locks down and unlocks in a one-shot CLI, the security module activated on demand, audited as the module", () => {
    const common = ["--home", tempDir("warden-guard-"), "--modules", MODULES];
    expect(warden([...common, "module", "approve", "guard"]).code).toBe(0);
    const lock = warden([...common, "guard", "lock", "120", "--json"]);
    expect(lock.code, lock.stderr).toBe(0);
    expect(lock.json.lockdown.active).toBe(true);
    // Durable: the next process sees it.
    expect(warden([...common, "security", "status", "--json"]).json.lockdown.active).toBe(true);
    expect(warden([...common, "guard", "unlock", "--json"]).json).toEqual({ unlocked: true });
    expect(lastSecurityEvents(common)).toEqual([
      expect.objectContaining({ action: "security.lockdown", actor: "module:guard" }),
      expect.objectContaining({ action: "security.unlock", actor: "module:guard" }),
    ]);
  }, 60_000);

  it("locks down and unlocks under serve, through the control socket, audited as the module", async () => {
    const common = ["--home", tempDir("warden-guard-"), "--modules", MODULES];
    expect(warden([...common, "module", "approve", "guard"]).code).toBe(0);
    serving = await serveInBackground(common);
    const lock = warden([...common, "guard", "lock", "30", "--json"]);
    expect(lock.code, lock.stderr).toBe(0);
    expect(warden([...common, "security", "status", "--json"]).json.lockdown.active).toBe(true);
    expect(warden([...common, "guard", "unlock", "--json"]).json).toEqual({ unlocked: true });
    expect(warden([...common, "security", "status", "--json"]).json.lockdown.active).toBe(false);
    expect(lastSecurityEvents(common)).toEqual([
      expect.objectContaining({ action: "security.lockdown", actor: "module:guard" }),
      expect.objectContaining({ action: "security.unlock", actor: "module:guard" }),
    ]);
    expect(await serving.stop()).toBe(0);
  }, 60_000);
});
