// argv -> command bus. The command tree is generated from the manifests: every module command is
// `warden <module> <command> [args] [--flags]`; host-owned namespaces (module, config, audit,
// secrets) are built the same way. No business logic lives here.
//
// Socket first: when a host serves this home, its control socket gives the command tree and runs
// every call, and this process opens nothing else (no store, no modules). Only when no host serves
// does the CLI open the home itself, in-process; commands that need no home (module new/check/pack,
// status) open none.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import type { CommandInfo } from "../../sdk/context.js";
import { HostError, isErrorCode, toHostError } from "../base/errors.js";
import type { Host } from "../host.js";
import { EXAMPLES_DIR, HOST_VERSION, resolveHome } from "../base/paths.js";
import { scanGlobalOptions, commandWords, type GlobalOptions } from "./argv.js";
import { addInputOptions, buildInput } from "./input-options.js";
import { printError, printResult, terminalIo, type Io } from "./output.js";
import { catalogueOf, registerServe } from "./serve.js";
import { registerAuthorCommands } from "./author.js";
import { completions, registerCompletion } from "./completion.js";
import { deliverResult, fillInput } from "./fill-input.js";
import { controlRequest, responseError } from "../control/client.js";
import { hostOrigin, remoteCall, remoteCatalogue } from "./remote.js";
import { registerSignIn } from "./sign-in.js";
import { applyProfile, registerProfileReport } from "./profile.js";

/** Where the command tree and the calls come from: a serving host's socket, or a host opened here. */
interface Backend {
  home: string;
  commands: CommandInfo[];
  descriptions: Record<string, string>;
  run(command: string, input: unknown): Promise<unknown>;
}

/** Commands that need no home of their own (or make their own): the home is not opened for them. */
function standsAlone(words: string[]): boolean {
  const [a, b] = words;
  return (
    a === "status" ||
    a === "serve" ||
    a === "init" ||
    a === "dev" ||
    a === "completion" ||
    a === "keys" ||
    a === "login" ||
    a === "logout" ||
    (a === "module" && (b === "new" || b === "check" || b === "pack" || b === "learn" || b === "test" || b === "types"))
  );
}

export async function main(argv: string[], io: Io = terminalIo()): Promise<number> {
  const globals = scanGlobalOptions(argv);
  // `serve --examples`: the example modules this package ships, as if named with --modules.
  if (globals.flags.has("examples") && commandWords(argv)[0] === "serve") globals.modules.push(EXAMPLES_DIR);
  const home = resolveHome(globals.home);
  const words = commandWords(argv);
  // An explicit --home means this machine's home, whatever WARDEN_ADDR says.
  const addr = globals.addr ?? (globals.home === undefined ? process.env.WARDEN_ADDR || undefined : undefined);
  let host: Host | undefined;
  const openHost = async (create = false): Promise<Host> => {
    if (!host) {
      if (!create && !existsSync(home)) {
        throw new HostError("usage", `there is no Warden home at ${home}; create one with \`warden init --home ${home}\` (or \`warden serve\`), or fix --home / WARDEN_HOME`);
      }
      // Loaded only now: a call through a serving host never loads the host's code at all.
      const { Host } = await import("../host.js");
      host = await Host.open({
        home,
        modulePaths: globals.modules,
        ...(globals.store !== undefined ? { store: globals.store } : {}),
        ...(globals.redis !== undefined ? { redis: globals.redis } : {}),
      });
    }
    return host;
  };
  const result = { code: 0 };
  let backend: Backend | undefined;
  try {
    if (globals.addr !== undefined && globals.home !== undefined) throw new HostError("usage", "give --home (this machine's home) or --addr (a host elsewhere), not both");
    // Help is answered without a home (the module commands are listed once one exists).
    const helpOnly = words.length === 0 || argv.includes("--help") || argv.includes("-h") || words[0] === "help" || words[0] === "__complete";
    if (standsAlone(words) || (helpOnly && !existsSync(home))) {
      backend = {
        home,
        commands: [],
        descriptions: {},
        run: async () => {
          throw new HostError("usage", "this command needs a host");
        },
      };
    } else if (addr !== undefined) {
      const origin = hostOrigin(addr, globals.insecure);
      backend = { home: origin, commands: await remoteCatalogue(origin), descriptions: {}, run: (command, input) => remoteCall(origin, command, input) };
    } else {
      const served = await controlRequest(home, { op: "catalogue" }).catch(() => undefined);
      if (served?.ok) {
        const c = served.result as ReturnType<typeof catalogueOf>;
        backend = { home, commands: c.commands, descriptions: c.descriptions, run: (command, input) => viaSocket(home, command, input) };
      } else {
        const h = await openHost();
        const c = catalogueOf(h);
        backend = {
          home,
          ...c,
          run: async (command, input) => {
            // `module list` answers with real states, so it activates what can be activated.
            if (command === "module.list") await h.activateAll();
            return h.run(command, input);
          },
        };
      }
    }
    const program = buildProgram(backend, globals, io, result, () => openHost(true));
    if (words[0] === "__complete") {
      io.out(completions(program, argv.slice(argv.indexOf("__complete") + 1)).join("\n"));
      return 0;
    }
    if (words.length === 0) {
      // `warden` alone: the help, on stdout, as a success.
      io.out(program.helpInformation());
      return 0;
    }
    await program.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // `warden broken run` for a module whose manifest does not read: say why, not "unknown".
      const why = e.code === "commander.unknownCommand" && backend && words[0] ? await moduleFailure(backend, words[0]) : undefined;
      if (why) return printError(io, why, globals.json);
      return commanderExit(e, io, globals);
    }
    // Logged to the home's host.log (when the host opened) under the id the message prints.
    const err = toHostError(e, host?.kernel.log, "the CLI");
    return printError(io, err, globals.json);
  } finally {
    await host?.close();
  }
}

async function moduleFailure(backend: Backend, id: string): Promise<HostError | undefined> {
  try {
    const m = (await backend.run("module.inspect", { id })) as { state: string; error?: { code: string; message: string } };
    if (m.state === "failed" && m.error) return new HostError(isErrorCode(m.error.code) ? m.error.code : "module_unavailable", `module '${id}' cannot run: ${m.error.message}`);
  } catch {
    // not a module either
  }
  return undefined;
}

async function viaSocket(home: string, command: string, input: unknown): Promise<unknown> {
  const r = await controlRequest(home, { op: "call", command, input });
  if (!r) throw new HostError("module_unavailable", `the host serving ${home} went away; run the command again`);
  if (!r.ok) throw responseError(r);
  return r.result;
}

function buildProgram(backend: Backend, globals: GlobalOptions, io: Io, result: { code: number }, openHost: () => Promise<Host>): Command {
  const program = new Command("warden")
    .description("Warden: a plugin host for capability-scoped modules")
    .version(HOST_VERSION)
    .option("--home <dir>", "host home (default: $WARDEN_HOME or ./.warden)")
    .option("--modules <dir>", "extra folder of user modules (repeatable)")
    .option("--store <url>", "a fleet's PostgreSQL (default: $WARDEN_STORE_URL, fleet.store, else the home's system.brain)")
    .option("--redis <url>", "a fleet's Redis for limits, blocks, lockdown and cache (default: $WARDEN_REDIS_URL, fleet.redis)")
    .option("--addr <url>", "run commands against this host over REST as the operator signed in with `warden login` (default: $WARDEN_ADDR)")
    .option("--insecure", "allow plain HTTP to a host that is not on loopback")
    .option("--json", "print results and errors as JSON")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => (globals.json ? undefined : io.err(s)),
      // Held until main() knows whether it can say more (a module that failed to load).
      outputError: (s) => void (heldError.text = s),
    });

  const byNamespace = new Map<string, CommandInfo[]>();
  for (const c of backend.commands) {
    if (!byNamespace.has(c.module)) byNamespace.set(c.module, []);
    byNamespace.get(c.module)!.push(c);
  }
  for (const [ns, commands] of byNamespace) {
    const group = program
      .command(ns)
      .description(backend.descriptions[ns] ?? `host ${ns} commands`)
      .exitOverride();
    for (const info of commands) {
      const cmd = group
        .command(info.name, info.cliDefault ? { isDefault: true } : {})
        .description(info.description)
        .exitOverride();
      const mapping = addInputOptions(cmd, info, globals.flags);
      const yesInSchema = Object.prototype.hasOwnProperty.call((info.input as { properties?: object }).properties ?? {}, "yes");
      if (info.confirm && !yesInSchema) cmd.option("--yes", `confirm without asking (needed when stdin is not a terminal): this command will ${info.confirm}`);
      cmd.action(async (...actionArgs: unknown[]) => {
        const self = actionArgs[actionArgs.length - 1] as Command;
        const positionals = actionArgs.slice(0, mapping.positionals.length);
        const input = buildInput(info, mapping, positionals, self.opts());
        // Paths given to host commands are the caller's, relative to this shell, wherever the host runs.
        if (info.kind === "host") for (const k of ["source", "signature"]) if (typeof input[k] === "string") input[k] = resolve(input[k]);
        if (info.confirm && !yesInSchema && self.opts().yes === true) input.yes = true;
        await fillInput(info.command, input, (c, i) => backend.run(c, i), io, process.stdin, info.confirm);
        // --yes is the CLI's own unless the command's input takes it.
        if (!yesInSchema) delete input.yes;
        const out = await backend.run(info.command, input);
        if (info.kind === "host") deliverResult(info.command, input, out, io);
        result.code = printResult(io, out, globals.json);
      });
    }
  }
  registerServe(program, openHost, io, globals.modules);
  registerSignIn(program, globals, io, result);
  registerCompletion(program, io.out);
  registerAuthorCommands(
    program,
    program.commands.find((c) => c.name() === "module"),
    globals,
    io,
    result,
  );
  program
    .command("init")
    .description("create a Warden home (the folder, system.brain, the bootstrap token) without serving")
    .option("--profile <name>", "a security profile: strict (signatures, two-person approval, TLS off loopback, no newcomer token, no learn mode) or dev")
    .action(async (opts: { profile?: string }) => {
      const h = await openHost();
      await h.activateAll(["system"]);
      const applied = opts.profile === undefined ? undefined : await applyProfile(h, opts.profile);
      result.code = printResult(
        io,
        globals.json
          ? { home: h.home, created: true, ...(applied ? { profile: opts.profile, settings: applied } : {}) }
          : `home ready at ${h.home}${applied ? ` with the ${opts.profile} profile` : ""}; \`warden serve --home ${h.home}\` runs it`,
        globals.json,
      );
    });
  registerProfileReport(program, backend, globals, io, result);
  program
    .command("status")
    .description("say whether a host is serving this home (commands then run there) or the CLI runs in-process")
    .action(async () => {
      const r = await controlRequest(backend.home, { op: "status" });
      if (r && !r.ok) throw responseError(r);
      const out = r?.ok
        ? r.result
        : {
            mode: "in-process",
            home: backend.home,
            note: "no host is serving this home; each command runs in this process",
            backends: await (
              await import("../fleet/probe.js")
            ).probeBackends(backend.home, { ...(globals.store !== undefined ? { store: globals.store } : {}), ...(globals.redis !== undefined ? { redis: globals.redis } : {}) }),
          };
      result.code = printResult(io, out, globals.json);
    });
  return program;
}

/** Commander's own error line, printed only if nothing better is said. */
const heldError = { text: "" };

function commanderExit(e: CommanderError, io: Io, globals: GlobalOptions): number {
  if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
  const unknown = e.code === "commander.unknownCommand" || e.code === "commander.executeSubCommandAsync";
  const err = new HostError(unknown ? "command_not_found" : "usage", e.message.replace(/^error: /, ""));
  if (globals.json) return printError(io, err, true);
  if (heldError.text) io.err(heldError.text);
  return err.spec.exit;
}
