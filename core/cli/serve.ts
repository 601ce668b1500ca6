// `warden serve`: a long-running host. Activates every module, starts the surfaces (the REST API)
// and the control socket, then waits for SIGINT/SIGTERM to drain requests, flush write-behind
// state and stop sandbox processes.
import { resolve, sep } from "node:path";
import type { Command } from "commander";
import { startControlServer, stopControlServer } from "../control/server.js";
import { HostError, internalError, isErrorCode } from "../base/errors.js";
import type { Host } from "../host.js";
import type { CommandInfo } from "../../sdk/context.js";
import { table, type Io } from "./output.js";

/** What a CLI needs to build its command tree for this host. */
export function catalogueOf(host: Host): { commands: CommandInfo[]; descriptions: Record<string, string> } {
  const descriptions: Record<string, string> = {};
  for (const m of host.loader.list()) {
    const d = host.loader.entry(m.id)?.loaded?.manifest.description;
    if (d) descriptions[m.id] = d;
  }
  return { commands: host.kernel.bus.list(), descriptions };
}

export function registerServe(program: Command, openHost: () => Promise<Host>, io: Io, moduleFolders: readonly string[]): void {
  program
    .command("serve")
    .description("run the host (REST API, control socket) until interrupted")
    .option("--examples", "serve the example modules this package ships (hello, notes) beside the others")
    .option("--enable-api", "enable the REST API for this run only (not persisted); issues a token for the examples on first run")
    .option("--console", "serve the operator console for this run only (not persisted); `warden console` prints its login URL")
    .option("--api-port <port>", "this host's API port, over api.port (also $WARDEN_API_PORT); 0 picks a free one")
    .option("--api-host <address>", "this host's API address, over api.host (also $WARDEN_API_HOST)")
    .option("--tls-cert <file>", "this host's TLS certificate, over api.tls_cert (also $WARDEN_TLS_CERT)")
    .option("--tls-key <file>", "this host's TLS key, over api.tls_key (also $WARDEN_TLS_KEY)")
    .action(async (opts: { enableApi?: boolean; console?: boolean; apiPort?: string; apiHost?: string; tlsCert?: string; tlsKey?: string }) => {
      const host = await openHost();
      // Settings that belong to this host only: given per process, never written to the shared config.
      const port = opts.apiPort ?? process.env.WARDEN_API_PORT;
      const address = opts.apiHost ?? process.env.WARDEN_API_HOST;
      if (port !== undefined && port !== "") host.kernel.config.override("api.port", Number(port));
      if (address !== undefined && address !== "") host.kernel.config.override("api.host", address);
      const cert = opts.tlsCert ?? process.env.WARDEN_TLS_CERT;
      const key = opts.tlsKey ?? process.env.WARDEN_TLS_KEY;
      if (cert) host.kernel.config.override("api.tls_cert", resolve(cert));
      if (key) host.kernel.config.override("api.tls_key", resolve(key));
      if (opts.console) host.kernel.config.override("api.console", true);
      if (opts.enableApi) {
        host.kernel.config.override("api.enabled", true);
        // The first-run token covers exactly the user modules of this command line's --modules.
        const folders = moduleFolders.map((d) => resolve(d) + sep);
        const ids = host.loader
          .list()
          .filter((m) => m.kind === "user" && folders.some((f) => resolve(m.path).startsWith(f)))
          .map((m) => m.id);
        // The strict profile issues no newcomer token: every token is granted on purpose.
        if (host.kernel.config.get("host.profile") !== "strict") {
          host.kernel.config.override("api.newcomer", true);
          host.kernel.config.override("api.newcomer_modules", ids);
        }
      }
      // System modules now; user modules on their first call (lazy), so start-up does not grow
      // with the number of installed modules and idle ones cost nothing.
      await host.activateAll(["system"]);
      const startedAt = new Date().toISOString();
      // The last resort: a promise nobody awaited must not take the whole host down.
      const onUnhandled = (reason: unknown) => void internalError(reason, host.kernel.log, "an unawaited promise");
      process.on("unhandledRejection", onUnhandled);
      const control = await startControlServer(host.home, {
        call: (command, input) => host.run(command, input),
        status: async () => ({ mode: "serving", pid: process.pid, home: host.home, started_at: startedAt, backends: await host.backends() }),
        catalogue: () => catalogueOf(host),
        internal: (e) => internalError(e, host.kernel.log, "the control socket"),
        // A typo, invalid input or a denied call is the user's mistake: logged with its code.
        refused: (e) => host.kernel.log[e.spec.http >= 500 ? "warn" : "info"]({ code: e.code, msg_detail: e.message.slice(0, 300) }, "control request refused"),
      });
      let lines: string[];
      try {
        lines = await host.startSurfaces();
      } catch (e) {
        await stopControlServer(control, host.home);
        process.off("unhandledRejection", onUnhandled);
        throw startupError(e, host);
      }
      io.out(table(host.loader.list(), ["id", "version", "kind", "state", "error"], io));
      io.out("(modules shown as installed activate on their first call)\n");
      for (const line of lines) io.out(line);
      io.out(`\nhost serving (home ${host.home}, pid ${process.pid}); CLI commands for this home now run here. Ctrl-C stops it.`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      io.out("stopping: draining requests and flushing state");
      process.off("unhandledRejection", onUnhandled);
      await host.stopSurfaces();
      await stopControlServer(control, host.home);
    });
}

/** A surface that could not start says why with its own code (address_in_use, ...), logged either way. */
function startupError(e: unknown, host: Host): HostError {
  const code = (e as { code?: unknown })?.code;
  if (e instanceof HostError) return e;
  if (isErrorCode(code) && code !== "internal") {
    const err = new HostError(code, (e as Error).message, { cause: e });
    host.kernel.log.error({ code, err: err.message }, "serve could not start");
    return err;
  }
  return internalError(e, host.kernel.log, "serve start-up");
}
