// Acknowledged means durable: `warden serve` is killed with SIGKILL 20 ms after each acknowledged
// block, lockdown, unlock and deny-list change, five rounds each; every one survives the restart.
import { afterEach, describe, expect, it } from "vitest";
import { serveInBackground, warden, type Serving } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";

let serving: Serving | undefined;
afterEach(async () => {
  serving?.proc.kill("SIGKILL");
  serving = undefined;
});

async function killSoon(s: Serving): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
  const exited = new Promise((r) => s.proc.once("exit", r));
  s.proc.kill("SIGKILL");
  await exited;
}

describe("security actions survive kill -9 right after they are acknowledged", () => {
  it("blocks, lockdowns, unlocks and deny-list changes, five rounds each", async () => {
    const home = tempDir("warden-kill9-");
    const common = ["--home", home];
    const status = () => warden([...common, "security", "status", "--json"]).json;
    for (let round = 1; round <= 5; round++) {
      // block
      serving = await serveInBackground(common);
      const ip = `198.51.100.${round}`;
      expect(warden([...common, "security", "block", ip, "600"]).code).toBe(0);
      await killSoon(serving);
      expect(
        status().blocked.map((b: { client: string }) => b.client),
        `round ${round}: block`,
      ).toContain(ip);

      // lockdown
      serving = await serveInBackground(common);
      expect(warden([...common, "security", "lockdown", "600"]).code).toBe(0);
      await killSoon(serving);
      expect(status().lockdown.active, `round ${round}: lockdown`).toBe(true);

      // unlock
      serving = await serveInBackground(common);
      expect(warden([...common, "security", "unlock"]).code).toBe(0);
      await killSoon(serving);
      expect(status().lockdown.active, `round ${round}: unlock`).toBe(false);

      // deny list
      serving = await serveInBackground(common);
      const deny = `203.0.113.${round}`;
      expect(warden([...common, "security", "config", "--set", `deny=${deny}`]).code).toBe(0);
      await killSoon(serving);
      expect(warden([...common, "config", "get", "security.deny", "--json"]).json.value, `round ${round}: deny`).toEqual([deny]);
    }
    serving = undefined;
  }, 180_000);
});
