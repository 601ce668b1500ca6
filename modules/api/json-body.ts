// JSON bodies: prototype-pollution keys refused (secure-json-parse, as fastify does), nesting
// depth bounded, and only objects accepted as command input.
import sjson from "secure-json-parse";
import { WardenError } from "../../sdk/errors.js";

export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === "") return {};
  if (depthExceeds(text, maxDepth)) throw new WardenError("malformed_request", `JSON nesting deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (e) {
    const msg = (e as Error).message;
    throw new WardenError("malformed_request", /prototype|constructor/i.test(msg) ? "body contains a forbidden __proto__ or constructor key" : `body is not valid JSON: ${msg}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new WardenError("malformed_request", "body must be a JSON object");
  return value;
}

/** A scan for nesting depth before parsing, so a deep document never reaches the parser's recursion. */
function depthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}
