// Profiles of the call path, for finding where Warden's per-call cost goes (issue 24's method):
//   WARDEN_SANDBOX_CPU_PROF=/tmp/prof taskset -c 1 node --no-node-snapshot --import tsx \
//     bench/profile-calls.ts [MODULES] [CALLS] [/tmp/prof/host.cpuprofile]
// prints calls/s and CPU µs per call of the host and each sandbox process, writes the host's
// profile of the calls alone (not the activations) and one per sandbox process (whole life); open
// them in Chrome DevTools or summarise them with `node bench/profile-summary.mjs FILE`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { openBenchHost, writeBenchModule } from "./bench-host.js";
import { cpuMs, processTree } from "./proc.js";

const modules = Number(process.argv[2] ?? 500);
const calls = Number(process.argv[3] ?? 200_000);
const profileTo = process.argv[4];
const dir = mkdtempSync(join(tmpdir(), "warden-prof-"));
for (let i = 0; i < modules; i++) writeBenchModule(dir, `m${i}`);
const { host } = await openBenchHost(dir, Number(process.env.POOL ?? 2));
for (let i = 0; i < modules; i++) await host.run(`m${i}.noop`);
let next = 0;
const session = new Session();
if (profileTo) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const tree = processTree(process.pid);
const cpu0 = tree.map(cpuMs);
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < calls) await host.run(`m${next++ % modules}.noop`);
  }),
);
const cpu = tree.map((p, i) => `${p === process.pid ? "host" : p}: ${(((cpuMs(p) - cpu0[i]!) * 1000) / calls).toFixed(1)} µs/call`);
console.log(`${modules} modules: ${Math.round(calls / ((performance.now() - t0) / 1000))} calls/s; CPU ${cpu.join(", ")}`);
if (profileTo) writeFileSync(profileTo, JSON.stringify((await session.post("Profiler.stop")).profile));
await host.close();
