// The console's files, read once per server and fingerprinted: each asset is served at
// /console/assets/<name>.<sha256 prefix>.<ext>, cached for a year (a new build is a new name), and
// the page names them through {{name}} placeholders filled in here. No build step: the page is
// plain ES modules and CSS; uPlot comes as published in node_modules.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8", svg: "image/svg+xml" };

/** Logical name -> file, in dependency order (a module is fingerprinted after what it imports). */
function sources(HERE: string): Record<string, string> {
  const uplot = dirname(createRequire(import.meta.url).resolve("uplot/package.json"));
  return {
    "api.js": join(HERE, "api.js"),
    "waiting.js": join(HERE, "waiting.js"),
    "pages.js": join(HERE, "pages.js"),
    "pair.js": join(HERE, "pair.js"),
    "app.js": join(HERE, "app.js"),
    "console.css": join(HERE, "console.css"),
    "uPlot.js": join(uplot, "dist", "uPlot.iife.min.js"),
    "uPlot.css": join(uplot, "dist", "uPlot.min.css"),
  };
}

export interface ConsoleAssets {
  /** The page, with every asset's fingerprinted URL filled in. */
  page: Buffer;
  /** Fingerprinted file name -> asset. */
  files: Map<string, Asset>;
}

/** `dir`: the console's folder (the api module's `console/`). */
export function loadConsoleAssets(dir: string): ConsoleAssets {
  const files = new Map<string, Asset>();
  const urls = new Map<string, string>();
  for (const [name, file] of Object.entries(sources(dir))) {
    let body = readFileSync(file);
    const ext = name.slice(name.lastIndexOf(".") + 1);
    // The page's own modules import each other by logical name; those names are fingerprinted too.
    if (ext === "js" && !name.startsWith("uPlot")) body = Buffer.from(fillNames(body.toString("utf8"), urls));
    const fingerprinted = `${name.slice(0, name.lastIndexOf("."))}.${createHash("sha256").update(body).digest("hex").slice(0, 12)}.${ext}`;
    files.set(fingerprinted, { body, type: TYPES[ext] ?? "application/octet-stream" });
    urls.set(name, `/console/assets/${fingerprinted}`);
  }
  const page = Buffer.from(fillNames(readFileSync(join(dir, "index.html"), "utf8"), urls));
  return { page, files };
}

function fillNames(text: string, urls: Map<string, string>): string {
  return text.replace(/\{\{([A-Za-z0-9.]+)\}\}/g, (m, name: string) => {
    const url = urls.get(name);
    if (!url) throw new Error(`console asset ${name} is named before it is built (order in sources())`);
    return url;
  });
}
