// Two host commands take what an operator should not type on the command line:
// - `module approve <id>` approves exactly what `module inspect` shows awaiting approval: the CLI
//   looks it up, prints it and passes its manifest hash, so an install racing the approval is
//   refused (approval_stale) instead of granting something the operator never saw;
// - `secrets set <module> <name>` reads the value from stdin, so it stays out of shell history;
// - `audit verify --checkpoint FILE` and `audit checkpoint --out FILE` read and write files on
//   the operator's side, whichever process serves the home.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { HostError } from "../base/errors.js";
import type { Io } from "./output.js";

type Run = (command: string, input: unknown) => Promise<unknown>;

interface Inspected {
  version: string | null;
  manifestHash: string | null;
  state: string;
  pending_approval: { version: string; hash: string } | null;
  staged_upgrade: { version: string; hash: string; added: string[]; removed: string[] } | null;
  elevated: Array<{ capability: string; reason: string }>;
}

/**
 * `confirm`: what the command does when it is destructive (its manifest's `confirm`): asked on a
 * terminal, and --yes needed otherwise, before anything is sent.
 */
export async function fillInput(command: string, input: Record<string, unknown>, run: Run, io: Io, stdin: NodeJS.ReadableStream = process.stdin, confirm?: string): Promise<void> {
  if (command === "module.approve" && input.hash === undefined) {
    const m = (await run("module.inspect", { id: input.id })) as Inspected;
    const target = m.staged_upgrade ?? m.pending_approval ?? (m.version && m.manifestHash ? { version: m.version, hash: m.manifestHash } : undefined);
    if (target) {
      input.hash = target.hash;
      input.version = target.version;
      const what = m.staged_upgrade
        ? `the staged upgrade to ${target.version}: adds ${m.staged_upgrade.added.join("; ") || "nothing"}${m.staged_upgrade.removed.length ? `, removes ${m.staged_upgrade.removed.join(", ")}` : ""}`
        : `${target.version}: ${m.elevated.map((e) => `${e.capability} (${e.reason})`).join("; ") || "no elevated capabilities"}`;
      io.err(`approving ${String(input.id)} ${what} [manifest ${target.hash.slice(0, 12)}]`);
    }
  }
  // `trust add KEY`: a .pub file on the operator's side is sent as its text.
  if (command === "trust.add" && typeof input.key === "string" && !input.key.startsWith("-----")) {
    const file = resolve(input.key);
    if (existsSync(file)) {
      if (!statSync(file).isFile() || statSync(file).size > 8192) throw new HostError("usage", `${file} is not a public key file; give the .pub file \`warden keys new\` wrote`);
      input.key = readFileSync(file, "utf8");
    } else if (/[/\\]|\.pub$/.test(input.key)) {
      throw new HostError("usage", `${input.key} does not exist; give the publisher's .pub file (or its raw key as base64)`);
    }
  }
  if (command === "audit.verify" && typeof input.checkpoint === "string") {
    const file = resolve(input.checkpoint);
    try {
      input.checkpoint = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new HostError("usage", `cannot read the checkpoint ${file}: ${(e as Error).message}`);
    }
  }
  const { yes: _yes, ...named } = input;
  const destructive =
    command === "module.remove" && input.purge === true
      ? `delete ${String(input.id)} with its storage and secrets`
      : confirm
        ? `${confirm}${
            Object.keys(named).length
              ? ` (${Object.entries(named)
                  .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
                  .join(", ")})`
              : ""
          }`
        : undefined;
  if (destructive && input.yes !== true) {
    if (!(stdin as { isTTY?: boolean }).isTTY) throw new HostError("usage", `this would ${destructive}; add --yes to confirm (stdin is not a terminal, so nothing can be asked)`);
    io.err(`this will ${destructive}. Type yes to go on:`);
    const answer = (await readLine(stdin)).trim();
    if (answer !== "yes") throw new HostError("usage", "not confirmed; nothing was changed");
    input.yes = true;
  }
  if (command === "secrets.set" && input.value === undefined) {
    if ((stdin as { isTTY?: boolean }).isTTY) io.err(`value of ${String(input.module)}/${String(input.name)} (end with Ctrl-D):`);
    input.value = (await readAll(stdin)).replace(/\r?\n$/, "");
  }
}

/** What a command's result asks of the operator's side: `audit checkpoint --out FILE` writes it. */
export function deliverResult(command: string, input: Record<string, unknown>, result: unknown, io: Io): void {
  if (command === "audit.checkpoint" && typeof input.out === "string") {
    const file = resolve(input.out);
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n", { flag: "w" });
    io.err(`checkpoint written to ${file}; keep a copy where this host cannot write`);
  }
}

async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  for await (const chunk of stream) {
    const text = typeof chunk === "string" ? chunk : (chunk as Buffer).toString("utf8");
    return text.split("\n")[0] ?? "";
  }
  return "";
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += b.length;
    if (bytes > 128 * 1024) break;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}
