// Installing from a .tgz: extracted into a fresh temporary folder with tar's own protections
// (no absolute paths, no `..`), regular files and folders only.
import { mkdtempSync, readdirSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tar from "tar";
import { HostError } from "../errors.js";

export async function unpackArchive(file: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "warden-unpack-"));
  let entries = 0;
  try {
    await tar.x({
      file,
      cwd: dir,
      strict: true,
      preservePaths: false,
      filter: (_path, entry) => {
        entries++;
        const type = (entry as { type?: string }).type;
        return entries <= 5000 && (type === "File" || type === "Directory" || type === "OldFile");
      },
    });
  } catch (e) {
    throw new HostError("manifest_invalid", `${file} is not a readable .tgz archive: ${(e as Error).message}`);
  }
  if (existsSync(join(dir, "module.json"))) return dir;
  // npm pack puts everything under package/; accept any single top folder.
  const top = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
  if (top.length === 1 && existsSync(join(dir, top[0]!, "module.json"))) return join(dir, top[0]!);
  throw new HostError("manifest_invalid", `${file}: no module.json at the archive's top level (or in its single top folder)`);
}
