// `warden init --profile strict|dev` writes a profile's settings (audited, as the home's holder);
// `warden security profile` lists where a host's settings depart from the profile it was made with.
import type { Command } from "commander";
import { HostError } from "../base/errors.js";
import type { Host } from "../host.js";
import { departures, isProfile, PROFILES } from "../profiles.js";
import type { GlobalOptions } from "./argv.js";
import { printResult, type Io } from "./output.js";

export async function applyProfile(h: Host, name: string): Promise<Record<string, unknown>> {
  if (!isProfile(name)) throw new HostError("usage", `no profile '${name.slice(0, 32)}'; choose ${Object.keys(PROFILES).join(", ")}`);
  const settings: Record<string, unknown> = { ...PROFILES[name], "host.profile": name };
  for (const [key, value] of Object.entries(settings)) await h.run("config.set", { key, value });
  return settings;
}

export function registerProfileReport(program: Command, backend: { run(command: string, input: unknown): Promise<unknown> }, globals: GlobalOptions, io: Io, result: { code: number }): void {
  const security = program.commands.find((c) => c.name() === "security");
  if (!security) return; // no security module here: nothing to report on
  security
    .command("profile")
    .description("list where this host's settings depart from its security profile (host.profile; `warden init --profile`)")
    .option("--as <profile>", "compare with another profile: strict, dev or standard")
    .action(async (opts: { as?: string }) => {
      const list = (await backend.run("config.list", {})) as Array<{ key: string; value: unknown }>;
      const values = new Map(list.map((e) => [e.key, e.value]));
      const profile = opts.as ?? String(values.get("host.profile") ?? "standard");
      if (!isProfile(profile)) throw new HostError("usage", `no profile '${profile.slice(0, 32)}'; choose ${Object.keys(PROFILES).join(", ")}`);
      const departs = departures(profile, values);
      result.code = printResult(io, { profile, departures: departs, ...(departs.length === 0 ? { note: `every setting the ${profile} profile names is as it says` } : {}) }, globals.json);
    });
}
