// What may cross the bridge: JSON only, at most MAX_MESSAGE_BYTES per value and MAX_DEPTH levels
// of nesting. The isolate side enforces the same rules in the prelude (functions, symbols, BigInt
// and cycles are refused there, where they exist); this side checks the text that arrives, so a
// value that slipped past (or a sandbox process that misbehaves) still cannot hand the host
// something huge, deeply nested or malformed.

export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_DEPTH = 256;

export class WireViolation extends Error {}

/**
 * Parses JSON text that crossed from a sandbox. "" stands for undefined. Throws WireViolation
 * with a message naming `what` and the rule.
 */
export function parseWire(text: string, what: string): unknown {
  if (text === "") return undefined;
  // A UTF-16 length past the cap in bytes is over it in UTF-8 too; under it, count exactly.
  if (text.length > MAX_MESSAGE_BYTES || (text.length * 3 > MAX_MESSAGE_BYTES && Buffer.byteLength(text) > MAX_MESSAGE_BYTES)) {
    throw new WireViolation(`${what} is ${Buffer.byteLength(text)} bytes; ${MAX_MESSAGE_BYTES} allowed`);
  }
  const depth = nestingDepth(text, MAX_DEPTH);
  if (depth > MAX_DEPTH) throw new WireViolation(`${what} is nested more than ${MAX_DEPTH} levels deep`);
  try {
    return JSON.parse(text);
  } catch {
    throw new WireViolation(`${what} is not valid JSON`);
  }
}

/** JSON text for a value the host sends into a sandbox; undefined becomes "". */
export function toWire(value: unknown, what: string): string {
  if (value === undefined) return "";
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new WireViolation(`${what} cannot be sent to a module: ${(e as Error).message}`);
  }
  if (text === undefined) return "";
  if (text.length * 3 > MAX_MESSAGE_BYTES && Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
    throw new WireViolation(`${what} is ${Buffer.byteLength(text)} bytes; ${MAX_MESSAGE_BYTES} allowed`);
  }
  return text;
}

/**
 * The deepest nesting of arrays/objects in JSON text, counting only up to `stopAfter + 1` (the
 * scan ends as soon as the cap is passed). Text shorter than the cap cannot exceed it.
 */
export function nestingDepth(text: string, stopAfter: number): number {
  if (text.length <= stopAfter) return 0;
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max && (max = depth) > stopAfter) return max;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return max;
}
