// argv -> command bus. The command tree is generated from the manifests: every module command is
// `warden <module> <command> [args] [--flags]`; host-owned namespaces (module, config, audit) are
// built the same way. No business logic lives here.
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import type { CommandInfo } from "../../sdk/context.js";
import { HostError, toHostError } from "../errors.js";
import { Host } from "../host.js";
import { HOST_VERSION } from "../paths.js";
import { scanGlobalOptions, type GlobalOptions } from "./argv.js";
import { addInputOptions, buildInput } from "./input-options.js";
import { printError, printResult, type Io } from "./output.js";
import { catalogueOf, registerServe } from "./serve.js";
import { registerAuthorCommands } from "./author.js";
import { deliverResult, fillInput } from "./fill-input.js";
import { controlRequest, responseError } from "../control/client.js";

const stdio: Io = {
  out: (s) => process.stdout.write(s.endsWith("\n") ? s : s + "\n"),
  err: (s) => process.stderr.write(s.endsWith("\n") ? s : s + "\n"),
};

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const globals = scanGlobalOptions(argv);
  let host: Host | undefined;
  try {
    host = await Host.open({ ...(globals.home ? { home: globals.home } : {}), modulePaths: globals.modules });
    const result = { code: 0 };
    // A serving host's commands (its --modules may differ from this call's) shape the command tree.
    const served = await controlRequest(host.home, { op: "catalogue" }).catch(() => undefined);
    const catalogue = served?.ok ? (served.result as ReturnType<typeof catalogueOf>) : undefined;
    const program = buildProgram(host, globals, io, result, catalogue);
    await program.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) return commanderExit(e, io, globals);
    // Logged to the home's host.log (when the host opened) under the id the message prints.
    const err = toHostError(e, host?.kernel.log, "the CLI");
    return printError(io, err, globals.json);
  } finally {
    await host?.close();
  }
}

function buildProgram(host: Host, globals: GlobalOptions, io: Io, result: { code: number }, served?: ReturnType<typeof catalogueOf>): Command {
  const program = new Command("warden")
    .description("Warden: a plugin host for capability-scoped modules")
    .version(HOST_VERSION)
    .option("--home <dir>", "host home (default: $WARDEN_HOME or ./.warden)")
    .option("--modules <dir>", "extra folder of user modules (repeatable)")
    .option("--json", "print results and errors as JSON")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => (globals.json ? undefined : io.err(s)) });

  const byNamespace = new Map<string, CommandInfo[]>();
  for (const c of served?.commands ?? host.kernel.bus.list()) {
    if (!byNamespace.has(c.module)) byNamespace.set(c.module, []);
    byNamespace.get(c.module)!.push(c);
  }
  for (const [ns, commands] of byNamespace) {
    const entry = host.loader.entry(ns);
    const group = program
      .command(ns)
      .description(served?.descriptions[ns] ?? entry?.loaded?.manifest.description ?? `host ${ns} commands`)
      .exitOverride();
    for (const info of commands) {
      const cmd = group.command(info.name).description(info.description).exitOverride();
      const mapping = addInputOptions(cmd, info);
      cmd.action(async (...actionArgs: unknown[]) => {
        const self = actionArgs[actionArgs.length - 1] as Command;
        const positionals = actionArgs.slice(0, mapping.positionals.length);
        const input = buildInput(info, mapping, positionals, self.opts());
        // Paths given to host commands are the caller's, relative to this shell, wherever the host runs.
        if (info.kind === "host" && typeof input.source === "string") input.source = resolve(input.source);
        if (info.kind === "host") await fillInput(info.command, input, (c, i) => runCommand(host, c, i), io);
        const out = await runCommand(host, info.command, input);
        if (info.kind === "host") deliverResult(info.command, input, out, io);
        result.code = printResult(io, out, globals.json);
      });
    }
  }
  registerServe(program, host, io, globals.modules);
  registerAuthorCommands(program, program.commands.find((c) => c.name() === "module"), globals, io, result);
  program
    .command("status")
    .description("say whether a host is serving this home (commands then run there) or the CLI runs in-process")
    .action(async () => {
      const r = await controlRequest(host.home, { op: "status" });
      const out = r?.ok ? r.result : { mode: "in-process", home: host.home, note: "no host is serving this home; each command runs in this process" };
      if (r && !r.ok) throw responseError(r);
      result.code = printResult(io, out, globals.json);
    });
  return program;
}

/** Through the serving host's control socket when there is one, otherwise in this process. */
async function runCommand(host: Host, command: string, input: unknown): Promise<unknown> {
  const r = await controlRequest(host.home, { op: "call", command, input });
  if (r) {
    if (!r.ok) throw responseError(r);
    return r.result;
  }
  // `module list` answers with real states, so it activates what can be activated.
  if (command === "module.list") await host.activateAll();
  return host.run(command, input);
}

function commanderExit(e: CommanderError, io: Io, globals: GlobalOptions): number {
  if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
  const unknown = e.code === "commander.unknownCommand" || e.code === "commander.executeSubCommandAsync";
  const err = new HostError(unknown ? "command_not_found" : "usage", e.message.replace(/^error: /, ""));
  if (globals.json) return printError(io, err, true);
  return err.spec.exit;
}
