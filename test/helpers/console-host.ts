// A fresh home serving the REST API and the operator console (`warden serve --enable-api
// --console`), with the example modules, for the console's tests.
import { join } from "node:path";
import { expect } from "vitest";
import { serveInBackground, warden, type CliResult, type Serving } from "./cli.js";
import { tempDir } from "./modules.js";

export const EXAMPLES = join(__dirname, "../../modules/examples");

export interface ConsoleHost {
  home: string;
  serving: Serving;
  /** Where REST and the console listen: http://127.0.0.1:<port>. */
  base: string;
  /** `warden --home <home> --modules <examples> --json ...` */
  cli(...args: string[]): CliResult;
}

/** `config` is set before the host starts (e.g. a rate limit with room for the test's own calls). */
export async function serveConsoleHost(prefix: string, config: Record<string, string> = {}): Promise<ConsoleHost> {
  const home = tempDir(prefix);
  expect(warden(["--home", home, "init"]).code).toBe(0);
  const cli = (...args: string[]) => warden(["--home", home, "--modules", EXAMPLES, "--json", ...args]);
  for (const [k, v] of Object.entries(config)) expect(cli("config", "set", k, v).code).toBe(0);
  const serving = await serveInBackground(["--home", home, "--modules", EXAMPLES], {}, ["--enable-api", "--console"]);
  const base = /Operator console at (http:\/\/[0-9.:]+)\/console\//.exec(serving.output())![1]!;
  return { home, serving, base, cli };
}
