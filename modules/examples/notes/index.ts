import type { ModuleContext } from "@warden/sdk";

// A type (not an interface), so it is a JsonValue that storage.set takes as it is.
type Note = {
  title: string;
  text: string;
  savedAt: string;
};

const PREFIX = "note:";

export async function activate(ctx: ModuleContext) {
  ctx.commands.register("add", async ({ title, text }: { title: string; text: string }) => {
    const note: Note = { title, text, savedAt: new Date().toISOString() };
    await ctx.storage.set(PREFIX + title, note);
    return note;
  });

  ctx.commands.register("get", async ({ title }: { title: string }) => {
    const note = await ctx.storage.get(PREFIX + title);
    if (note === undefined) {
      const err = new Error(`no note titled '${title}'; run \`warden notes list\``) as Error & { code: string };
      err.code = "note_not_found";
      throw err;
    }
    return note;
  });

  ctx.commands.register("list", async () => {
    const keys = await ctx.storage.list(PREFIX);
    return keys.map((k) => k.slice(PREFIX.length));
  });

  ctx.commands.register("delete", async ({ title }: { title: string }) => ({
    deleted: await ctx.storage.delete(PREFIX + title),
  }));
}
