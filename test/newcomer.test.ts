// `npm start` (serve --modules modules/examples --enable-api) prints a first-run REST token that
// covers exactly the example modules' commands: each command's own permission, never a wildcard,
// and nothing of a module installed in the home.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXAMPLES } from "./helpers/api.js";
import { serveInBackground, warden, type Serving } from "./helpers/cli.js";
import { tempDir, writeModule } from "./helpers/modules.js";

let serving: Serving | undefined;
afterEach(async () => {
  await serving?.stop();
  serving = undefined;
});

describe("the newcomer token", () => {
  it("gets exactly the example commands' permissions", async () => {
    const home = tempDir("warden-newcomer-");
    const other = tempDir();
    writeModule(other, { id: "extra", commands: { run: { description: "r", input: { type: "object" } } } });
    expect(warden(["--home", home, "config", "set", "api.port", "0"]).code).toBe(0);
    expect(warden(["--home", home, "module", "install", join(other, "extra")]).code).toBe(0);
    serving = await serveInBackground(["--home", home, "--modules", EXAMPLES], {}, ["--enable-api"]);
    const token = /\n {2}(wdn_[A-Za-z0-9]+)\n/.exec(serving.output())?.[1];
    expect(token, serving.output()).toBeDefined();
    const tokens = warden(["--home", home, "auth", "list", "--json"]).json as Array<{ name: string; scopes: string[] }>;
    const newcomer = tokens.find((t) => t.name.startsWith("newcomer-"))!;
    expect(newcomer.scopes.sort()).toEqual(["hello.greet", "hello.remember", "notes.add", "notes.delete", "notes.get", "notes.list"]);
  }, 60_000);
});
