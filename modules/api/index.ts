// The api system module. It offers the `surface:api` service, which `warden serve` starts: the
// server listens only in a serving host, never in a one-shot CLI process.
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { ModuleContext } from "../../sdk/context.js";
import type {} from "../../sdk/system/services.js";
import { buildServer, type ApiDeps, type ApiSettings } from "./server.js";
import { Traffic } from "./traffic.js";
import { WardenError } from "../../sdk/errors.js";
import { isLoopbackHost } from "../../sdk/system/bound-addresses.js";

/** The server this activation listens with: closed when the module is deactivated (reload, disable). */
let running: FastifyInstance | undefined;

export async function deactivate() {
  const a = running;
  running = undefined;
  await a?.close();
}

export async function activate(ctx: ModuleContext<ApiSettings>) {
  const security = ctx.services.use("security");
  const consoleService = ctx.services.use("console");
  const traffic = new Traffic();
  const auth = ctx.services.use("auth");
  let settings = await ctx.config.get();
  let app: FastifyInstance | undefined;
  let invalidate: (() => void) | undefined;
  let scheme: "http" | "https" = "http";

  // Modules installed, removed or reloaded while serving: the routes follow the bus at once.
  await ctx.events.on("commands.changed", () => app && invalidate?.());
  await ctx.config.watch((s) => void (settings = s));

  const deps: ApiDeps = {
    settings: () => settings,
    security,
    auth,
    dispatch: (call) => ctx.commands.dispatch(call),
    catalogue: () => ctx.commands.catalogue(),
    version: ctx.module.version,
    ready: async () => {
      if (!settings.enabled) return "the API is disabled (api.enabled is false)";
      // Ready means REST can dispatch: a revoked commands.dispatch answers 403 to every call.
      try {
        await ctx.commands.catalogue();
        return undefined;
      } catch (e) {
        const code = (e as { code?: string }).code;
        return code === "capability_denied"
          ? "the api module may not dispatch commands (commands.dispatch was revoked); run `warden module approve api`"
          : `the command catalogue cannot be read: ${(e as Error).message}`;
      }
    },
    log: (level, msg, data) => ctx.log[level](msg, data),
    console: consoleService,
    consoleDir: join(ctx.module.dir ?? missingDir(), "console"),
    traffic,
  };
  ctx.commands.register("traffic", ({ seconds, step }: { seconds?: number; step?: number }) => traffic.series(seconds, step));
  const access = ctx.services.host("log:access");
  if (access) deps.access = access;

  /**
   * On a newcomer's first run: one REST token for exactly the example (user module) commands: each
   * command's own permission, which a manifest can only name under its own id, never a wildcard.
   */
  const newcomerToken = async (): Promise<string | undefined> => {
    if (!settings.newcomer || (await ctx.storage.get("newcomer_token_issued")) !== undefined) return undefined;
    const mine = new Set(settings.newcomer_modules);
    const userCommands = (await ctx.commands.catalogue()).filter((c) => c.kind === "user" && mine.has(c.module) && c.permission.startsWith(`${c.module}.`) && !c.permission.includes("*"));
    const scopes = [...new Set(userCommands.map((c) => c.permission))];
    if (scopes.length === 0) return undefined;
    const t = await auth.grant({ name: `newcomer-${Date.now().toString(36)}`, scopes });
    await ctx.storage.set("newcomer_token_issued", new Date().toISOString());
    return t.token;
  };

  ctx.services.provide("surface:api", {
    async start(): Promise<{ url: string; lines: string[] }> {
      if (settings.require_tls && !(settings.tls_cert && settings.tls_key) && !isLoopbackHost(settings.host)) {
        throw new WardenError(
          "tls_required",
          `api.require_tls is on and api.host ${settings.host} is not loopback: REST would carry tokens in the clear. Set api.tls_cert and api.tls_key (or serve --tls-cert/--tls-key), or listen on 127.0.0.1`,
        );
      }
      const built = buildServer(deps);
      app = running = built.app;
      invalidate = built.invalidate;
      let address: string;
      try {
        // The server is made by app.ts (serverFactory), so fastify does not know it speaks TLS: the scheme is ours to say.
        address = (await app.listen({ host: settings.host, port: settings.port })).replace(/^https?:/, built.https ? "https:" : "http:");
        scheme = built.https ? "https" : "http";
      } catch (e) {
        const a = app;
        app = running = undefined;
        await a.close().catch(() => {});
        throw listenError(e, settings.host, settings.port);
      }
      const lines: string[] = [];
      if (!settings.enabled) {
        lines.push("REST API is disabled: every request gets 503 api_disabled.", "Turn it on with `warden config set api.enabled true` and restart `warden serve`.");
      } else {
        lines.push(`REST API on ${address}/api/v1/ (OpenAPI at ${address}/api/v1/openapi.json)`);
        const token = await newcomerToken();
        if (!token && settings.newcomer) {
          lines.push("The example token was printed on the first run; make another with", "  npx warden auth grant --name me --scopes 'hello.*,notes.*'");
        }
        if (token) {
          const example = (await ctx.commands.catalogue()).find((c) => c.module === "hello" && c.name === "greet");
          lines.push("", "A REST token for the example commands (shown once; keep it):", `  ${token}`, "");
          if (example) lines.push("Try:", `  curl -s -X POST ${address}/api/v1/hello/greet -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"name":"Ada"}'`);
        }
      }
      ctx.log.info("REST surface listening", { address, enabled: settings.enabled });
      if (settings.enabled && settings.console) {
        consoleService.setAddress(address);
        lines.push(`Operator console at ${address}/console/ (log in with the URL \`warden console\` prints)`);
      }
      return { url: address, lines };
    },
    async stop(): Promise<void> {
      consoleService.setAddress(undefined);
      const a = app;
      app = running = undefined;
      await a?.close();
    },
    address(): string | undefined {
      const addr = app?.server.address();
      return addr && typeof addr === "object" ? `${scheme}://${addr.address}:${addr.port}` : undefined;
    },
  });
}

/** A listen failure as a catalogued code that says what to change (EADDRINUSE above all). */
function listenError(e: unknown, host: string, port: number): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "EADDRINUSE") {
    return new WardenError("address_in_use", `the REST API cannot listen on ${host}:${port}: another process already does; stop it, or choose a free port with \`warden config set api.port N\``);
  }
  const why = code ?? (e as Error)?.message ?? String(e);
  return new WardenError("listen_failed", `the REST API cannot listen on ${host}:${port} (${why}); check api.host and api.port`, { cause: e });
}

/** System modules are always given their folder; without it the console's files cannot be found. */
function missingDir(): never {
  throw new WardenError("module_error", "the api module was activated without its folder (ctx.module.dir); it must run as a system module");
}
