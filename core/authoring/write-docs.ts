// `npm run docs`: regenerates docs/manifest-reference.md.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../paths.js";
import { renderManifestReference } from "./reference.js";

const file = join(ROOT, "docs", "manifest-reference.md");
writeFileSync(file, renderManifestReference());
console.log(`wrote ${file}`);
