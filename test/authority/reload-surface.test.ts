// No one-click way to break the host: after `module reload api`, or disable and enable, REST serves
// again (the surface follows its module) and one SIGINT stops `warden serve` within its drain time.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { serveInBackground, warden, type Serving } from "../helpers/cli.js";
import { tempDir } from "../helpers/modules.js";

let serving: Serving | undefined;
afterEach(async () => {
  if (serving && serving.proc.exitCode === null) serving.proc.kill("SIGKILL");
  serving = undefined;
});

const address = (s: Serving) => /REST API on (http:\/\/[0-9.:]+)/.exec(s.output())![1]!;
/** Readiness from the API's own address (any answer at all means it listens). */
const ready = async (base: string) => (await fetch(`${base}/api/v1/health/ready`).catch(() => undefined))?.status;

describe("the REST surface follows its module", () => {
  it.each([
    ["module reload api", [["module", "reload", "api"]]],
    [
      "module disable api, then enable",
      [
        ["module", "disable", "--yes", "api"],
        ["module", "enable", "api"],
      ],
    ],
  ])(
    "after %s REST answers again, and one SIGINT stops the host",
    async (_name, steps) => {
      const home = tempDir("warden-reload-");
      expect(warden(["--home", home, "init"]).code).toBe(0);
      expect(warden(["--home", home, "config", "set", "api.enabled", "true"]).code).toBe(0);
      serving = await serveInBackground(["--home", home]);
      const base = address(serving);
      expect(await ready(base)).toBe(200);
      for (const step of steps) {
        const r = warden(["--home", home, ...step]);
        expect(r.code, r.stderr).toBe(0);
      }
      // Serving again (on a port of its own choosing: this test's api.port is 0), as its log says.
      const listening = () =>
        readFileSync(join(home, "logs", "host.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes("REST surface listening"))
          .map((l) => JSON.parse(l).data.address as string);
      await expect.poll(() => listening().length, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(2);
      expect(await ready(listening().at(-1)!)).toBe(200);
      const exited = new Promise<number | null>((r) => serving!.proc.once("exit", (code) => r(code)));
      serving.proc.kill("SIGINT");
      expect(await exited).toBe(0);
    },
    60_000,
  );
});
