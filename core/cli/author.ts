// Commands for module authors that work on a folder rather than through the bus: module new,
// check, types, test, pack, learn, and dev.
import { existsSync, readFileSync, rmSync, watch } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { spawnSync } from "node:child_process";
import { HostError, internalError } from "../base/errors.js";
import { DIST_DIR, FROM_SOURCE, ROOT } from "../base/paths.js";
import type { CheckProblem } from "../authoring/check.js";
import { printResult, type Io } from "./output.js";
// What each command needs is loaded when it runs: the CLI starts without the host, the bundler,
// TypeScript or the manifest validator (a call through a serving host needs none of them).

export function registerAuthorCommands(program: Command, moduleGroup: Command | undefined, globals: { json: boolean; home?: string }, io: Io, result: { code: number }): void {
  const group = moduleGroup ?? program.command("module").description("write modules (new, check, types, test, pack, learn); with a home, also install and manage them");
  group
    .command("new")
    .description("create a TypeScript module skeleton (module.json, typed index.ts, a test, a README)")
    .argument("<id>", "the new module's id")
    .option("--dir <dir>", "parent folder (default: the current folder)")
    .option("--sdk <tarball-or-folder>", "depend on this @warden/sdk (a tarball from `npm pack` or a folder) instead of the published version, for offline work")
    .action(async (id: string, opts: { dir?: string; sdk?: string }) => {
      const { scaffoldModule } = await import("../authoring/scaffold.js");
      const out = scaffoldModule(id, opts.dir ?? process.cwd(), opts.sdk !== undefined ? { sdk: opts.sdk } : {});
      result.code = printResult(io, globals.json ? out : `created ${out.dir}: ${out.files.join(", ")}\nnext: cd ${out.dir} && npm install, then warden module check .`, globals.json);
    });

  group
    .command("check")
    .description("validate a module folder: manifest, bundle, types (problems point at file and line)")
    .argument("[dir]", "the module folder", ".")
    .action(async (dir: string) => {
      const { checkModule } = await import("../authoring/check.js");
      const report = await checkModule(resolve(dir));
      if (globals.json) printResult(io, report, true);
      else io.out(report.ok ? `ok: ${report.id} (bundle ${report.bundle_bytes} bytes)` : formatProblems(report.problems));
      result.code = report.ok ? 0 : 2;
    });

  group
    .command("types")
    .description("write module-types.ts: the settings' and each command's input and output types, from module.json's schemas")
    .argument("[dir]", "the module folder", ".")
    .action(async (dir: string) => {
      const [{ readManifest }, { writeModuleTypes }] = await Promise.all([import("../manifest/index.js"), import("../authoring/module-types.js")]);
      const { manifest, dir: abs } = readManifest(resolve(dir), { allowSystem: false });
      const out = writeModuleTypes(abs, manifest);
      result.code = printResult(io, globals.json ? out : `${out.changed ? "wrote" : "unchanged:"} ${out.file}`, globals.json);
    });

  group
    .command("test")
    .description("run the module folder's own tests (*.test.ts) with its vitest, the module in the real sandbox")
    .argument("[dir]", "the module folder", ".")
    .action(async (dir: string) => {
      const { vitestFor } = await import("../authoring/tools.js");
      const abs = resolve(dir);
      const vitest = vitestFor(abs);
      if (!vitest) throw new HostError("usage", `vitest is not installed in ${abs}; run npm install there (the module's package.json lists it)`);
      const r = spawnSync(process.execPath, [vitest, "run", "--root", abs, "--config", moduleTestConfig()], { stdio: "inherit" });
      result.code = r.status ?? 1;
    });

  group
    .command("pack")
    .description("check the module and write <id>-<version>.tgz, the archive `warden module install` takes (only the module: see --list)")
    .argument("[dir]", "the module folder", ".")
    .option("--out <dir>", "where to write the archive (default: the current folder; made if missing)")
    .option("--list", "print what the pack would hold, and write nothing")
    .option("--sign <keyfile>", "also write <pack>.sig, a detached signature by this private key (`warden keys new`)")
    .action(async (dir: string, opts: { out?: string; list?: boolean; sign?: string }) => {
      const { dropStaleSignature, packList, packModule, signPackFile } = await import("../authoring/pack.js");
      if (opts.list) {
        const files = packList(resolve(dir));
        result.code = printResult(io, globals.json ? { files } : files.map((f) => `${String(f.bytes).padStart(8)}  ${f.path}`).join("\n"), globals.json);
        return;
      }
      // The key is read before anything is packed: a wrong --sign leaves no unsigned pack behind.
      const signer = opts.sign !== undefined ? (await import("../supply/signature.js")).readPrivateKey(resolve(opts.sign)) : undefined;
      const out = await packModule(resolve(dir), opts.out ? resolve(opts.out) : process.cwd());
      const signed = signer ? signPackFile(out, signer) : undefined;
      // A signature left beside the pack from an earlier build no longer matches it: it would make install refuse the pack.
      const dropped = signer ? undefined : dropStaleSignature(out);
      const text = `packed ${out.file} (${out.files.length} files, sha256 ${out.sha256})${signed ? `\nsigned ${signed.file} with key ${signed.keyId}` : ""}${dropped ? `\nremoved ${dropped}: it signed an earlier build` : ""}; install it with \`warden module install ${out.file}\``;
      result.code = printResult(io, globals.json ? { ...out, ...(signed ? { signature: signed.file, keyId: signed.keyId } : {}) } : text, globals.json);
    });

  program
    .command("keys")
    .description("publisher signing keys (for `module pack --sign`)")
    .command("new")
    .description("make an Ed25519 key pair: FILE (the private key, mode 0600; keep it secret) and FILE.pub (give it to operators for `warden trust add`)")
    .requiredOption("--out <file>", "where to write the private key (FILE.pub is written beside it)")
    .action(async (opts: { out: string }) => {
      const { newKeyPair } = await import("../supply/signature.js");
      const k = newKeyPair(resolve(opts.out));
      result.code = printResult(
        io,
        globals.json
          ? k
          : `wrote ${k.privateFile} (private: keep it secret) and ${k.publicFile}\nkey id ${k.keyId}\nsign with \`warden module pack --sign ${k.privateFile}\`; operators trust it with \`warden trust add ${k.publicFile} --name <publisher>\``,
        globals.json,
      );
    });

  group
    .command("learn")
    .description("run a module and record which capabilities it really uses (least privilege)")
    .argument("<dir>", "the module folder")
    .option("--calls <file>", "a JSON array of {command, input} to run instead of waiting for Ctrl-C")
    .action(async (dir: string, opts: { calls?: string }) => {
      const report = await session(resolve(dir), globals, io, { calls: opts.calls, learn: true, watch: false });
      result.code = printResult(io, report, globals.json);
    });

  program
    .command("dev")
    .description("run a module in a host, reload it when its files change, print each command and capability call")
    .argument("<dir>", "the module folder")
    .action(async (dir: string) => {
      await session(resolve(dir), globals, io, { learn: false, watch: true });
    });
}

async function session(dir: string, globals: { home?: string }, io: Io, o: { calls?: string; learn: boolean; watch: boolean }) {
  const [
    { assertDir, checkModule },
    { CapabilityLearner },
    { freshStateHome, userStateHome },
    { startControlServer, stopControlServer },
    { Host },
    { createLogger },
    { readManifest },
    { catalogueOf },
  ] = await Promise.all([
    import("../authoring/check.js"),
    import("../authoring/learn.js"),
    import("../base/home.js"),
    import("../control/server.js"),
    import("../host.js"),
    import("../log/index.js"),
    import("../manifest/index.js"),
    import("./serve.js"),
  ]);
  assertDir(dir);
  const { manifest } = readManifest(dir, { allowSystem: false });
  // Never a predictable shared path (another local user could plant a home there first).
  const fresh = globals.home === undefined && o.learn;
  const home = globals.home ?? (o.learn ? freshStateHome("learn") : userStateHome("dev", manifest.id));
  const host = await Host.open({ home, modulePaths: [dir], logger: createLogger({ home, destination: resolve(home, "logs", "dev.log") }) });
  const id = manifest.id;
  // Learning grants a module whatever it declares: a home whose profile refuses it (strict) says so.
  if (o.learn && !host.kernel.config.get("modules.allow_learn")) {
    await host.close();
    throw new HostError("forbidden", `learn mode is off for the home ${home} (modules.allow_learn false, as the strict profile sets): run \`warden module learn\` without --home, on a throwaway home`);
  }
  // A development session grants what the manifest declares; it is the author's own machine.
  const loaded = host.loader.entry(id)?.loaded;
  if (loaded) await host.loader.records.grantForDevelopment(id, { hash: loaded.hash, capabilities: manifest.capabilities ?? [] }, [], "operator:local");
  await host.loader.reloadModule(id);
  const learner = new CapabilityLearner(host, id);
  try {
    if (o.calls) {
      const calls = JSON.parse(readFileSync(resolve(o.calls), "utf8")) as Array<{ command: string; input?: Record<string, unknown> }>;
      for (const c of calls) {
        const name = c.command.includes(".") ? c.command : `${id}.${c.command}`;
        try {
          await host.run(name, c.input ?? {});
        } catch (e) {
          io.err(`${name}: ${(e as HostError).code}: ${(e as Error).message}`);
        }
      }
      return learner.report();
    }
    if (o.learn) io.err(`recording ${id}'s capability calls: run its commands from another terminal (\`warden --home ${host.home} ${id} <command>\`), then Ctrl-C for the report`);
    host.kernel.callObservers.add((e) => io.out(`call  ${e.command}  ${e.ms.toFixed(1)} ms${e.error ? `  ${e.error.code}: ${e.error.message}` : ""}`));
    host.kernel.capabilityObservers.add((e) => e.module === id && io.out(`  cap ${e.method} (${e.capability})${e.allowed ? "" : "  DENIED"}`));
    host.kernel.logObservers.add((e) => e.module === id && io.out(`  log ${e.level.padEnd(5)} ${e.message}`));
    await host.loader.ensureActive(id).catch((e) => io.err(`activation failed: ${(e as Error).message}`));
    const control = await startControlServer(host.home, {
      call: (command, input) => host.run(command, input),
      status: () => ({ mode: "dev", pid: process.pid, home: host.home, module: id }),
      catalogue: () => catalogueOf(host),
      internal: (e) => internalError(e, host.kernel.log, "the control socket"),
    });
    let timer: NodeJS.Timeout | undefined;
    // Every reload, good or bad, is reported and the session goes on: a bad save never ends it.
    const changed = (_event: string, file: string | null) => {
      if (!file || file.split(/[\\/]/).includes("node_modules")) return;
      clearTimeout(timer);
      timer = setTimeout(async () => {
        try {
          const s = await host.loader.reloadModule(id);
          io.out(`reloaded ${id} (${s.state}${s.error ? `: ${s.error.message}` : ""})`);
          // Types too, on every save: the reload runs what esbuild accepts, which is not what tsc accepts.
          const report = await checkModule(dir);
          io.out(report.ok ? "types: ok" : formatProblems(report.problems));
        } catch (e) {
          io.err(`reload failed: ${(e as Error).message}`);
        }
      }, 150);
    };
    // The folder itself is watched at once; a recursive watch (which node sets up asynchronously on
    // Linux) adds its subfolders.
    const watchers = o.watch ? [watch(dir, changed), watch(dir, { recursive: true }, changed)] : [];
    io.out(`dev: ${id} from ${dir}; call it from another terminal with \`warden --home ${host.home} ${id} <command>\`; Ctrl-C stops`);
    await new Promise<void>((r) => {
      process.once("SIGINT", r);
      process.once("SIGTERM", r);
    });
    for (const w of watchers) w.close();
    await stopControlServer(control, host.home);
    return learner.report();
  } finally {
    await host.close();
    if (fresh) rmSync(home, { recursive: true, force: true });
  }
}

/** The vitest configuration `module test` runs with: this host's own (its SDK and harness). */
function moduleTestConfig(): string {
  const file = FROM_SOURCE ? join(ROOT, "core", "authoring", "vitest.module.config.mjs") : join(DIST_DIR, "author", "vitest.module.config.mjs");
  if (!existsSync(file)) throw new HostError("integrity_failed", `${file} is missing from this Warden installation; reinstall @warden/host`);
  return file;
}

function formatProblems(problems: CheckProblem[]): string {
  return problems.map((p) => `${p.file}${p.line ? `:${p.line}` : ""}: [${p.stage}] ${p.message}`).join("\n");
}
