// The entry points other parts of the host already use; the bundler itself is core/bundle.ts.
import { DIST_DIR, FROM_SOURCE } from "../base/paths.js";
import { bundleModule, inside } from "./bundle.js";

export interface Bundle {
  code: string;
  hash: string;
}

/** A user module's entry as one script for its isolate. */
export async function bundleForIsolate(entryFile: string, dir: string): Promise<Bundle> {
  const { code, hash } = await bundleModule(entryFile, dir, "isolate");
  return { code, hash };
}

/** A trusted system module's entry as one ESM file for node; resolves to the file's path. */
export async function bundleForNode(entryFile: string, dir: string): Promise<string> {
  // The system modules an installed package ships are already built, one file each.
  if (!FROM_SOURCE && entryFile.endsWith(".mjs") && inside(DIST_DIR, entryFile)) return entryFile;
  return (await bundleModule(entryFile, dir, "node")).file;
}
