import { importGraph, folderCycles, edgesBetween } from "./test/architecture/import-graph.js";
const g = importGraph(process.cwd());
for (const c of folderCycles(g)) { console.log("ALL CYCLE", c.join(" ")); for (const e of edgesBetween(g, c)) if (e.includes("(type)")) {} ; }
