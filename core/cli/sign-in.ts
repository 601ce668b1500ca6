// `warden login URL` and `warden logout [URL]`: the CLI's session with a host on another machine
// (./remote.ts keeps its tokens). Neither needs a home.
import type { Command } from "commander";
import { HostError } from "../base/errors.js";
import type { GlobalOptions } from "./argv.js";
import { printResult, type Io } from "./output.js";
import { hostOrigin, login, logout, signedInHosts } from "./remote.js";

export function registerSignIn(program: Command, globals: GlobalOptions, io: Io, result: { code: number }): void {
  program
    .command("login")
    .description("sign this CLI in to a host (an operator approves the printed code in the console); then use --addr URL or WARDEN_ADDR")
    .argument("<url>", "the host's address, e.g. https://warden.example.com:8443")
    .action(async (url: string) => {
      const origin = hostOrigin(url, globals.insecure);
      const saved = await login(origin, (line) => io.err(line));
      result.code = printResult(
        io,
        globals.json
          ? { host: origin, operator: saved.operator, scopes: saved.scopes, access_expires_at: saved.access_expires_at }
          : `signed in to ${origin} as ${saved.operator}; run commands there with --addr ${origin} (or export WARDEN_ADDR=${origin})`,
        globals.json,
      );
    });
  program
    .command("logout")
    .description("end this CLI's session with a host (its refresh and access tokens stop working) and forget them")
    .argument("[url]", "the host (default: --addr or WARDEN_ADDR)")
    .action(async (url: string | undefined) => {
      const stored = signedInHosts();
      const target = url ?? globals.addr ?? (process.env.WARDEN_ADDR || undefined) ?? (stored.length === 1 ? stored[0] : undefined);
      if (!target) throw new HostError("usage", `which host? \`warden logout URL\` (signed in to: ${stored.join(", ") || "none"}), or set --addr / WARDEN_ADDR`);
      result.code = printResult(io, await logout(hostOrigin(target, globals.insecure)), globals.json);
    });
}
