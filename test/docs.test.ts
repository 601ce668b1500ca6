import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderManifestReference } from "../core/authoring/reference.js";
import { capabilityNames } from "../core/hostapi/catalogue.js";
import { capabilityNamesFile } from "../core/authoring/capability-names.js";

describe("docs", () => {
  it("docs/manifest-reference.md is what `npm run docs` generates from the schema (run it after changing the schema)", () => {
    expect(readFileSync(join(__dirname, "../docs/manifest-reference.md"), "utf8")).toBe(renderManifestReference());
  });

  it("manifests/capability-names.json (the editor schema's enum) is what `npm run docs` generates", () => {
    const [file, text] = capabilityNamesFile();
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("the reference lists every capability", () => {
    const text = renderManifestReference();
    for (const c of capabilityNames()) expect(text).toContain(`\`${c}\``);
  });
});
