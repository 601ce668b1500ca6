// `warden module pack [dir]`: the archive `warden module install` takes. The module is checked
// first (a broken module is not packed), and the archive holds the folder under package/ (as npm
// pack does) without node_modules, .git or earlier archives.
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import * as tar from "tar";
import { HostError } from "../base/errors.js";
import { checkModule } from "./check.js";

const SKIP = /(^|\/)(node_modules|\.git)(\/|$)|\.tgz$/;

export async function packModule(dir: string, outDir = process.cwd()): Promise<{ file: string; id: string; version: string }> {
  const report = await checkModule(dir);
  if (!report.ok) {
    throw new HostError(
      "manifest_invalid",
      `${dir} does not pass \`warden module check\`; fix it first: ${report.problems
        .slice(0, 3)
        .map((p) => p.message)
        .join("; ")}`,
      {
        details: { problems: report.problems },
      },
    );
  }
  const manifest = JSON.parse(readFileSync(join(dir, "module.json"), "utf8")) as { id: string; version: string };
  const file = resolve(outDir, `${manifest.id}-${manifest.version}.tgz`);
  await tar.c({ gzip: true, file, cwd: dir, prefix: "package", portable: true, filter: (path) => !SKIP.test(relative(".", path).split("\\").join("/")) }, ["."]);
  return { file, id: manifest.id, version: manifest.version };
}
