// manifests/capability-names.json: every capability name, which the SDK's build writes into the
// module.json schema it ships as an enum, so an editor completes capability names and flags a
// misspelt one (the host checks names itself, with a message that lists the known ones).
import { join } from "node:path";
import { MANIFESTS_DIR } from "../base/paths.js";
import { capabilityNames } from "../hostapi/catalogue.js";

export function capabilityNamesFile(): [string, string] {
  return [join(MANIFESTS_DIR, "capability-names.json"), JSON.stringify([...capabilityNames()].sort(), null, 2) + "\n"];
}
