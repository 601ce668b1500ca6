// Sandbox processes start with an allow-listed environment: nothing named WARDEN_*, no secret the
// host was given in its environment. Read from /proc, as an escaped module would.
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

let host: Host;
const saved = { ...process.env };
beforeAll(async () => {
  process.env.WARDEN_SECRET_KEY = "a".repeat(64);
  process.env.AWS_SECRET_ACCESS_KEY = "cloud-secret-in-the-host-environment";
  const root = tempDir("warden-env-");
  writeModule(root, { id: "plain", commands: { ping: { description: "p", input: { type: "object" } } }, code: `export function activate(ctx) { ctx.commands.register("ping", async () => "pong"); }` });
  host = await testHost({ home: tempDir("warden-env-home-"), modulePaths: [root], logger: silentLogger() });
}, 60_000);
afterAll(async () => {
  await host?.close();
  process.env = saved;
});

/** The environments of this process's children that run the sandbox's script. */
function sandboxEnvironments(): string[][] {
  const out: string[][] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--max-old-space-size=512")) continue;
      out.push(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("sandbox processes", () => {
  it("start with an allow-listed environment: no WARDEN_* and none of the host's secrets", async () => {
    expect(await host.run("plain.ping")).toBe("pong");
    const envs = sandboxEnvironments();
    expect(envs.length).toBeGreaterThan(0);
    for (const env of envs) {
      expect(env.filter((v) => v.startsWith("WARDEN_") && !v.startsWith("WARDEN_SANDBOX_SPIN_US="))).toEqual([]);
      expect(env.join("\n")).not.toContain("cloud-secret-in-the-host-environment");
    }
    expect(await host.run("plain.ping")).toBe("pong"); // still serving
  });
});
