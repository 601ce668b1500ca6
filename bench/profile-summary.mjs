// Summarises a V8 .cpuprofile (from bench/profile-calls.ts): self and inclusive time per function,
// top N of each, idle left out of the percentages.
//   node bench/profile-summary.mjs FILE [N]
import { readFileSync } from "node:fs";

const [file, n = "30"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const nameOf = (id) => {
  const f = byId.get(id).callFrame;
  return `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
};
const self = new Map();
const incl = new Map();
let busy = 0;
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i];
  const us = p.timeDeltas[i + 1] ?? 0;
  const own = nameOf(id);
  if (own.startsWith("(idle)")) continue;
  busy += us;
  self.set(own, (self.get(own) ?? 0) + us);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const k = nameOf(at);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
console.log(`${file}: ${(busy / 1000).toFixed(0)} ms busy\n-- self`);
for (const [k, us] of top(self)) console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`);
console.log("-- inclusive");
for (const [k, us] of top(incl)) console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`);
