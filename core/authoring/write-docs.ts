// `npm run docs`: regenerates what is derived from the schemas: docs/manifest-reference.md, the
// host's settings type (core/config/host-settings.ts), each system module's (settings.ts) and the
// capability names editors complete in module.json (manifests/capability-names.json).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../base/paths.js";
import { renderManifestReference } from "./reference.js";
import { generatedSettingsFiles } from "./settings-files.js";
import { capabilityNamesFile } from "./capability-names.js";

const files: Array<[string, string]> = [[join(ROOT, "docs", "manifest-reference.md"), renderManifestReference()], ...generatedSettingsFiles(), capabilityNamesFile()];
for (const [file, text] of files) {
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
