import type { ModuleContext } from "@warden/sdk";

export async function activate(ctx: ModuleContext) {
  ctx.commands.register("greet", async ({ name, excited }: { name: string; excited?: boolean }) => ({
    message: `hello ${name}${excited ? "!" : ""}`,
  }));
  // hello declares only commands.register, so the host refuses this with capability_denied.
  ctx.commands.register("remember", async ({ name }: { name: string }) => {
    await ctx.storage.set("last", name);
    return { remembered: name };
  });
}

export async function deactivate() {}
