// How manifest problems are collected and reported: every error names the file, the JSON path
// and what was expected.
import type { ErrorObject } from "ajv";
import { HostError } from "../base/errors.js";

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

/** A JSON pointer (RFC 6901) from path segments: pointer("commands", "a/b") is "/commands/a~1b". */
export function pointer(...segments: Array<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

/**
 * ajv's errors as `{path, message}`, the one shape every surface reports (input_invalid,
 * output_invalid, config_invalid, manifest_invalid): the JSON pointer ("/" for the whole value) and
 * what was expected, in words.
 */
export function ajvProblems(errors: readonly ErrorObject[] | null | undefined): ManifestProblem[] {
  return (errors ?? []).map((e) => ({ path: e.instancePath || "/", message: describeAjvError(e) }));
}

/** The problems in one line: "/a must be integer; / missing required property 'b'". */
export function problemSummary(problems: readonly ManifestProblem[]): string {
  return problems.map((p) => `${p.path} ${p.message}`).join("; ");
}

/** What an ajv error expected, in words (its own message, or a clearer one for the common keywords). */
export function describeAjvError(e: Pick<ErrorObject, "keyword" | "message" | "params" | "propertyName" | "parentSchema">): string {
  const base = describe(e);
  return e.propertyName === undefined ? base : `name '${e.propertyName}' ${base}`;
}

function describe(e: Pick<ErrorObject, "keyword" | "message" | "params" | "parentSchema">): string {
  switch (e.keyword) {
    case "additionalProperties": {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return `unknown property '${e.params.additionalProperty}'${known.length ? `; allowed: ${known.join(", ")}` : ""}`;
    }
    case "required":
      return `missing required property '${e.params.missingProperty}'`;
    case "enum":
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "minLength":
      return e.params.limit === 1 ? "must not be empty" : `must be at least ${e.params.limit} characters`;
    case "maxLength":
      return `must be at most ${e.params.limit} characters`;
    case "type":
      return `must be ${[e.params.type].flat().join(" or ")}`;
    default:
      return e.message ?? "is invalid";
  }
}
