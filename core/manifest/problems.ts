// How manifest problems are collected and reported: every error names the file, the JSON path
// and what was expected.
import { HostError } from "../errors.js";

export interface ManifestProblem {
  path: string;
  message: string;
}

export function manifestError(file: string, problems: ManifestProblem[]): HostError {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
  return new HostError("manifest_invalid", `${file}: ${first.path || "/"}: ${first.message}${more}`, {
    details: { file, problems },
  });
}
