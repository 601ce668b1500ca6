import ts from "typescript";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, resolve, relative } from "node:path";
const ROOT = process.cwd();
function walk(d, out = []) { for (const n of readdirSync(d)) { const p = join(d, n); if (statSync(p).isDirectory()) { if (n !== "node_modules" && n!=="console") walk(p, out); } else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p); } return out; }
const files = ["core", "modules", "sdk"].flatMap((d) => walk(join(ROOT, d)));
const folder = (f) => dirname(relative(ROOT, f));
for (const f of files) {
  const src = readFileSync(f, "utf8");
  const info = ts.preProcessFile(src, true, true);
  for (const i of info.importedFiles) {
    if (!i.fileName.startsWith(".")) continue;
    const target = relative(ROOT, resolve(dirname(f), i.fileName.replace(/\.js$/, ".ts")));
    const a = folder(f), b = dirname(target);
    if (a === b) continue;
    const typeOnly = new RegExp(`import type [^;]*from "${i.fileName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"|export type [^;]*from "${i.fileName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`).test(src);
    if (b === "core" || (a === "sdk" && b.startsWith("core"))) console.log(relative(ROOT, f), "->", target, typeOnly ? "(type)" : "");
  }
}
