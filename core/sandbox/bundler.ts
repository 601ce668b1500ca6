// The entry points other parts of the host already use; the bundler itself is core/bundle.ts.
import { bundleModule } from "./bundle.js";

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
  return (await bundleModule(entryFile, dir, "node")).file;
}
