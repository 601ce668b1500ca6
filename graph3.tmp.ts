import { importGraph, folderCycles, edgesBetween } from "./test/architecture/import-graph.js";
const g = importGraph(process.cwd());
const v = g.filter(e => !e.typeOnly);
for (const c of folderCycles(v)) { console.log("VALUE CYCLE", c.join(" ")); for (const e of edgesBetween(v, c)) console.log("   ", e); }
