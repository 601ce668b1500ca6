// What the CLI prints for people: nested values indented beneath their key, tables that fit the
// terminal, colour only on a terminal and never with NO_COLOR, shell completion that knows the
// commands.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatHuman, table } from "../core/cli/output.js";
import { BIN, warden } from "./helpers/cli.js";
import { tempDir } from "./helpers/modules.js";

const ESC = "\u001b[";

describe("CLI output", () => {
  it("prints nested values readably: objects beneath their key, lists of objects as items, never raw JSON", () => {
    const text = formatHuman({ id: "greeter", limits: { memoryMb: 32, timeoutMs: 1000 }, grants: [{ name: "net.fetch", hosts: ["a.example", "b.example"] }], tags: ["x", "y"], empty: {} });
    expect(text.split("\n")).toEqual([
      "id      greeter",
      "limits",
      "  memoryMb   32",
      "  timeoutMs  1000",
      "grants",
      "  - name   net.fetch",
      "    hosts  a.example,b.example",
      "tags    x,y",
      "empty   (none)",
    ]);
    expect(text).not.toMatch(/[{}"]/);
  });

  it("fits a table to the terminal's width (and only there): the widest columns give way", () => {
    const rows = [{ id: "a-very-long-module-identifier", state: "active", error: "nothing went wrong at all today, nothing at all" }];
    const wide = table(rows);
    expect(wide.split("\n")[1]).toContain("nothing went wrong at all today, nothing at all");
    const narrow = table(rows, undefined, { out: () => {}, err: () => {}, columns: 40 });
    for (const line of narrow.split("\n")) expect(line.length).toBeLessThanOrEqual(40);
    expect(narrow).toContain("…");
  });

  it("uses colour on a terminal, none with NO_COLOR or through a pipe", () => {
    const home = join(tempDir(), "nohome");
    const onTerminal = (env: Record<string, string>) =>
      spawnSync("script", ["-qec", `${process.execPath} ${BIN} --home ${home} module new Bad_Id`, "/dev/null"], { encoding: "utf8", env: { ...process.env, ...env, TERM: "xterm" } });
    const coloured = onTerminal({ NO_COLOR: "" });
    expect(coloured.stdout).toContain(`${ESC}31merror [usage]`);
    expect(onTerminal({ NO_COLOR: "1" }).stdout).not.toContain(ESC);
    const piped = warden(["--home", home, "module", "new", "Bad_Id"], { NO_COLOR: "" });
    expect(piped.stderr).toMatch(/^error \[usage\]/);
    expect(piped.stderr).not.toContain(ESC);
  });

  it("completes commands in bash from the command tree, with no home needed", () => {
    const home = join(tempDir(), "nohome");
    const complete = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `warden() { "${process.execPath}" "${BIN}" --home "${home}" "$@"; }; source <(warden completion bash); COMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _warden; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.split("\n");
    expect(complete(["warden", "mod"])).toEqual(["module", ""]);
    expect(complete(["warden", "module", ""])).toEqual(expect.arrayContaining(["check", "new", "pack", "test", "types"]));
    expect(complete(["warden", "module", "pack", "--l"])).toEqual(["--list", ""]);
    for (const shell of ["zsh", "fish"]) expect(warden(["--home", home, "completion", shell]).stdout).toContain("__complete");
    expect(warden(["--home", home, "completion", "tcsh"]).stderr).toMatch(/bash, zsh or fish/);
  });
});
