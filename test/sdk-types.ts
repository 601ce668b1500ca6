// Compile-time checks of the SDK, run by `tsc --noEmit` in `npm test`: each @ts-expect-error line
// must be a type error, so a looser ModuleContext would fail the build.
import type { CommandHandler, ErrorCode, Manifest, ModuleContext } from "@warden/sdk";
import { defineModule } from "@warden/sdk";

export async function authorMistakes(ctx: ModuleContext) {
  // @ts-expect-error storage.set needs a value
  await ctx.storage.set("k");
  // @ts-expect-error keys are strings
  await ctx.storage.get(42);
  // @ts-expect-error values must be JSON
  await ctx.storage.set("k", () => 1);
  // @ts-expect-error a Date is not JSON
  await ctx.storage.set("k", { at: new Date() });
  // @ts-expect-error cache options are an object
  await ctx.cache.set("k", 1, 1000);
  // @ts-expect-error events.on takes a handler
  void ctx.events.on("x.y");
  // @ts-expect-error log data is an object
  ctx.log.info("message", "not an object");
  // @ts-expect-error commands.register needs a handler
  ctx.commands.register("greet");
  // @ts-expect-error there is no such API
  await ctx.filesystem.read("/etc/passwd");
  // @ts-expect-error the context is read-only
  ctx.storage = ctx.storage;

  // What is right compiles.
  await ctx.storage.set("k", { a: [1, "two", null] });
  const v: number | undefined = await ctx.storage.get<number>("n");
  ctx.commands.register("greet", async ({ name }: { name: string }) => ({ message: `hi ${name}` }));
  await ctx.cache.set("k", "v", { ttlMs: 1000, tags: ["t"] });
  return v;
}

export const handler: CommandHandler<{ name: string }, { message: string }> = async ({ name }) => ({ message: name });
// @ts-expect-error a handler's output must match its declared type
export const wrong: CommandHandler<{ name: string }, { message: string }> = async () => ({ msg: "x" });

export const code: ErrorCode = "capability_denied";
// @ts-expect-error not an error code
export const notACode: ErrorCode = "oops";

export const manifest: Manifest = { id: "x", version: "1.0.0", host: "^0.1.0", description: "d", entry: "index.ts" };
// @ts-expect-error a manifest needs an entry
export const incomplete: Manifest = { id: "x", version: "1.0.0", host: "^0.1.0", description: "d" };

// Settings typed from their schemas: a module's own (its generated settings.ts) and the host's.
import type { Settings as SecuritySettings } from "../modules/security/settings.js";
import type { ConfigService } from "../core/config/config-service.js";

export async function settingsMistakes(ctx: ModuleContext<SecuritySettings>, host: ConfigService) {
  const limit: number = await ctx.config.get("rate_limit");
  const lists: string[] = (await ctx.config.get()).allow;
  // @ts-expect-error a misspelt setting does not compile
  await ctx.config.get("rate_limt");
  // @ts-expect-error a setting has its schema's type
  const wrongType: string = await ctx.config.get("rate_limit");
  await ctx.config.watch((s) => {
    const n: number = s.block_duration;
    // @ts-expect-error watch hands the typed settings
    s.no_such_setting;
    return n;
  });
  const pool: number = host.get("sandbox.poolSize");
  // @ts-expect-error a misspelt host setting does not compile
  host.get("sandbox.poolSiz");
  // @ts-expect-error the host's settings are typed too
  const notText: string = host.get("sandbox.maxCallDepth");
  return [limit, lists, wrongType, pool, notText];
}

// Command types generated from a manifest (what `warden module types` writes to module-types.ts).
type GreeterCommands = {
  greet: { input: { name: string; excited?: boolean }; output: { message: string } };
  last: { input: {}; output: unknown };
};

export function typedHandlers(ctx: ModuleContext<{ greeting: string }, GreeterCommands>) {
  // @ts-expect-error the handler's input disagrees with the schema's
  ctx.commands.register("greet", async ({ name }: { name: number }) => ({ message: String(name) }));
  // @ts-expect-error the output disagrees with the schema's
  ctx.commands.register("greet", async ({ name }) => ({ message: name.length }));
  // @ts-expect-error a command the manifest does not declare
  ctx.commands.register("gret", async () => ({}));
  // What is right compiles, the input typed from the schema with no annotation.
  ctx.commands.register("greet", async ({ name, excited }) => ({ message: `${name}${excited ? "!" : ""}` }));
  ctx.commands.register("last", async () => null);
}

export const defined = defineModule<{ greeting: string }, GreeterCommands>({
  activate(ctx) {
    // @ts-expect-error typed through defineModule as well
    ctx.commands.register("greet", async ({ name }: { name: boolean }) => ({ message: "" }));
  },
});
