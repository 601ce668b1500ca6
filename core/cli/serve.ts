// `warden serve`: a long-running host. Until the api module lands this activates every module,
// says what is active and how to call it, and waits for SIGINT/SIGTERM to stop cleanly.
import type { Command } from "commander";
import type { Host } from "../host.js";
import { table, type Io } from "./output.js";

export function registerServe(program: Command, host: Host, io: Io): void {
  program
    .command("serve")
    .description("run the host until interrupted")
    .option("--enable-api", "enable the REST API for this run only (not persisted)")
    .action(async () => {
      await host.activateAll();
      const modules = host.loader.list();
      io.out(table(modules as unknown as Record<string, unknown>[], ["id", "version", "kind", "state", "error"]));
      const examples = host.kernel.bus.list().filter((c) => host.loader.entry(c.module)?.kind === "user" && host.loader.entry(c.module)?.state === "active");
      if (examples.length) {
        io.out("\nCall a command from another terminal, for example:");
        for (const c of examples.slice(0, 5)) io.out(`  npx warden ${c.module} ${c.name}${c.args.map((a) => ` <${a}>`).join("")} --modules <same --modules as here>`);
      }
      io.out(`\nhost ready (home ${host.home}); press Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      io.out("stopping");
    });
}
