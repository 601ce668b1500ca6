// Shell completion: `warden completion bash|zsh|fish` prints a script that asks `warden __complete
// <words so far>` for the next words, so completion knows this home's modules and commands (from
// the serving host's socket, or the home opened in-process) as the help does.
import type { Command } from "commander";
import { HostError } from "../base/errors.js";

const SCRIPTS: Record<string, string> = {
  bash: `# warden completion for bash: add \`source <(warden completion bash)\` to ~/.bashrc
_warden() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  COMPREPLY=( $(compgen -W "$(warden __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur") )
}
complete -o default -F _warden warden
`,
  zsh: `#compdef warden
# warden completion for zsh: add \`source <(warden completion zsh)\` to ~/.zshrc (after compinit)
_warden() {
  local -a next
  next=("\${(@f)$(warden __complete "\${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
  compadd -a next
}
compdef _warden warden
`,
  fish: `# warden completion for fish: warden completion fish > ~/.config/fish/completions/warden.fish
complete -c warden -f -a '(warden __complete (commandline -opc)[2..-1] 2>/dev/null)'
`,
};

/** Options of the program whose next word is their value, not a command. */
const TAKES_VALUE = new Set(["--home", "--modules", "--store", "--redis"]);

export function registerCompletion(program: Command, out: (s: string) => void): void {
  program
    .command("completion")
    .description("print a shell completion script: warden completion bash|zsh|fish")
    .argument("<shell>", "bash, zsh or fish")
    .action((shell: string) => {
      const script = SCRIPTS[shell];
      if (!script) throw new HostError("usage", `no completion for '${shell}'; choose bash, zsh or fish`);
      out(script);
    });
}

/** The words that may come next after `words` (commands, then options of the command reached). */
export function completions(program: Command, words: readonly string[]): string[] {
  let at = program;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (TAKES_VALUE.has(w)) {
      i++;
      continue;
    }
    if (w.startsWith("-")) continue;
    const sub = at.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub) at = sub;
  }
  const commands = at.commands.filter((c) => c.name() !== "help").map((c) => c.name());
  // The program's own options hold anywhere (but --version, which only the program answers).
  const global = at === program ? [] : program.options.filter((o) => o.long !== "--version");
  const options = [...at.options, ...global].map((o) => o.long).filter((o): o is string => typeof o === "string");
  return [...commands.sort(), ...options, "--help"];
}
