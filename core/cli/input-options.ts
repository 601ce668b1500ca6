// Maps a command's input schema to CLI arguments: the manifest's `args` become positionals, every
// other property a typed flag (`--name Bob`, `--count 3`, `--force`/`--no-force`, `--tags a,b`,
// JSON for objects), and `--input JSON` supplies the whole input.
import { Command, Option } from "commander";
import type { CommandInfo } from "../../sdk/context.js";
import { HostError } from "../base/errors.js";

export const RESERVED_FLAGS = new Set(["json", "home", "modules", "store", "redis", "input", "help", "version"]);

type PropSchema = { type?: string | string[]; description?: string; items?: PropSchema; enum?: unknown[]; default?: unknown };

function typeOf(s: PropSchema | undefined): string | undefined {
  if (!s) return undefined;
  return Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
}

export function coerce(name: string, raw: string, schema: PropSchema | undefined): unknown {
  const t = typeOf(schema);
  const fail = (expected: string) => new HostError("input_invalid", `--${name}: expected ${expected}, got '${raw}'`, { details: { problems: [{ path: `/${name}`, message: `must be ${expected}` }] } });
  switch (t) {
    case "integer":
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n) || (t === "integer" && !Number.isInteger(n))) throw fail(t === "integer" ? "an integer" : "a number");
      return n;
    }
    case "boolean":
      if (raw === "true") return true;
      if (raw === "false") return false;
      throw fail("true or false");
    case "array":
      return raw === "" ? [] : raw.split(",").map((part) => coerce(name, part.trim(), schema?.items));
    case "object":
      try {
        return JSON.parse(raw);
      } catch {
        throw fail("a JSON object");
      }
    case "string":
      return raw;
    default:
      // Untyped values take JSON when it parses, text otherwise.
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
  }
}

interface Mapping {
  positionals: string[];
  flags: Array<{ prop: string; attribute: string }>;
}

/**
 * `given`: the flags this command line passes; --input, or a positional's own flag (`--name Bob`),
 * may supply a required positional too.
 */
export function addInputOptions(cmd: Command, info: CommandInfo, given: ReadonlySet<string> = new Set()): Mapping {
  const props = ((info.input as { properties?: Record<string, PropSchema> }).properties ?? {}) as Record<string, PropSchema>;
  const required = new Set(((info.input as { required?: string[] }).required ?? []) as string[]);
  const positionals = info.args.filter((a) => a in props);
  for (const a of positionals) {
    const desc = props[a]?.description ?? "";
    // Shown and parsed as required when the schema requires it, unless --input may supply it (the
    // schema check then names whatever is still missing).
    const supplied = given.has("input") || given.has(a.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    cmd.argument(required.has(a) && !supplied ? `<${a}>` : `[${a}]`, desc);
  }
  const flags: Mapping["flags"] = [];
  for (const [prop, schema] of Object.entries(props)) {
    if (RESERVED_FLAGS.has(prop) || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(prop)) continue;
    // camelCase properties get conventional kebab-case flags (allowDowngrade -> --allow-downgrade).
    const flag = prop.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const t = typeOf(schema);
    const description = [schema.description, schema.enum ? `one of: ${schema.enum.join(", ")}` : "", required.has(prop) && !positionals.includes(prop) ? "(required)" : ""].filter(Boolean).join(" ");
    if (t === "boolean") {
      const opt = new Option(`--${flag}`, description);
      cmd.addOption(opt);
      // Accepted (scripts may need an explicit false) but not listed: it only restates the flag.
      cmd.addOption(new Option(`--no-${flag}`).hideHelp());
      flags.push({ prop, attribute: opt.attributeName() });
    } else {
      const placeholder = t === "array" ? "a,b" : t === "object" ? "json" : (t ?? "value");
      // A one-letter property is a short flag only, as in `warden audit tail -n 50`.
      const opt = new Option(flag.length === 1 ? `-${flag} <${placeholder}>` : `--${flag} <${placeholder}>`, description);
      // A list may be given as a,b or by repeating the flag (--role viewer --role approver).
      if (t === "array") opt.argParser((v: string, prev: unknown) => [...(Array.isArray(prev) ? (prev as string[]) : []), v]);
      cmd.addOption(opt);
      flags.push({ prop, attribute: opt.attributeName() });
    }
  }
  cmd.addOption(new Option("--input <json>", "the whole input as a JSON object (flags override its fields)"));
  return { positionals, flags };
}

export function buildInput(info: CommandInfo, mapping: Mapping, positionalValues: unknown[], opts: Record<string, unknown>): Record<string, unknown> {
  const props = ((info.input as { properties?: Record<string, PropSchema> }).properties ?? {}) as Record<string, PropSchema>;
  let input: Record<string, unknown> = {};
  if (typeof opts.input === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(opts.input);
    } catch (e) {
      throw new HostError("input_invalid", `--input is not valid JSON: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new HostError("input_invalid", "--input must be a JSON object");
    input = parsed as Record<string, unknown>;
  }
  mapping.positionals.forEach((name, i) => {
    const v = positionalValues[i];
    if (typeof v === "string") input[name] = coerce(name, v, props[name]);
  });
  for (const { prop, attribute } of mapping.flags) {
    const v = opts[attribute];
    if (v === undefined) continue;
    if (Array.isArray(v)) input[prop] = v.flatMap((part) => coerce(prop, String(part), props[prop]) as unknown[]);
    else input[prop] = typeof v === "string" ? coerce(prop, v, props[prop]) : v;
  }
  return input;
}
