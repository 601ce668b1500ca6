// Process facts for the benches: pinning to a core and CPU time from /proc.
import { readdirSync, readFileSync } from "node:fs";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

/** The servers' core and the load generator's (this machine has two). */
export const SERVER_CORE = "1";
export const LOAD_CORE = "0";
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;

/** Pins a process (and its threads, present and future) to a core, when taskset is there. */
export function pin(pid: number, core: string): void {
  if (hasTaskset) spawnSync("taskset", ["-a", "-cp", core, String(pid)], { stdio: "ignore" });
}

/** CPU time (user + system) a process has used, in ms; 10 ms resolution (clock ticks). */
export function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** A process and every descendant of it (a host and its sandbox processes). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** CPU ms of a process tree, summed (processes that exit meanwhile take their time with them). */
export function treeCpuMs(root: number): number {
  return processTree(root).reduce((s, p) => s + cpuMs(p), 0);
}

/** The command and arguments that start `argv` on `core` (through taskset, when it is there). */
export function onCore(core: string, argv: string[]): [string, string[]] {
  return hasTaskset ? ["taskset", ["-c", core, ...argv]] : [argv[0]!, argv.slice(1)];
}

/** Starts `warden serve` on the servers' core and resolves with its REST API's base URL once it serves. */
export async function serveWarden(argv: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const [cmd, args] = onCore(SERVER_CORE, [process.execPath, ...argv, "serve"]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`warden serve did not start: ${out}`)), 30_000);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /REST API on (http:\/\/[0-9.:]+)/.exec(out);
      if (m && out.includes("host serving")) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
  });
  return { child, url };
}
