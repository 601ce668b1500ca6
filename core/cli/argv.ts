// Options that decide how the host is opened must be known before the command tree (which comes
// from the manifests) can be built, so they are read from argv first.
export interface GlobalOptions {
  home?: string;
  /** --store: a fleet's PostgreSQL URL. */
  store?: string;
  /** --redis: a fleet's Redis URL. */
  redis?: string;
  /** --addr (or WARDEN_ADDR): run every command against this host over REST, as the signed-in operator. */
  addr?: string;
  /** --insecure: plain HTTP to a host that is not on loopback. */
  insecure: boolean;
  modules: string[];
  json: boolean;
  /** --input is given: it may supply required positionals. */
  input: boolean;
  /** Every `--flag` on the command line (a flag may supply a required positional). */
  flags: Set<string>;
}

export function scanGlobalOptions(argv: readonly string[]): GlobalOptions {
  const out: GlobalOptions = { modules: [], json: false, input: false, insecure: false, flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") break;
    if (a.startsWith("--")) out.flags.add(a.slice(2).split("=")[0] ?? "");
    if (a === "--json") out.json = true;
    else if (a === "--input" || a.startsWith("--input=")) out.input = true;
    else if (a === "--home" && i + 1 < argv.length) out.home = argv[++i];
    else if (a.startsWith("--home=")) out.home = a.slice(7);
    else if (a === "--store" && i + 1 < argv.length) out.store = argv[++i];
    else if (a.startsWith("--store=")) out.store = a.slice(8);
    else if (a === "--redis" && i + 1 < argv.length) out.redis = argv[++i];
    else if (a.startsWith("--redis=")) out.redis = a.slice(8);
    else if (a === "--insecure") out.insecure = true;
    else if (a === "--addr" && i + 1 < argv.length) out.addr = argv[++i];
    else if (a.startsWith("--addr=")) out.addr = a.slice(7);
    else if (a === "--modules" && i + 1 < argv.length) out.modules.push(argv[++i] ?? "");
    else if (a.startsWith("--modules=")) out.modules.push(a.slice(10));
  }
  return out;
}

/** The command words of argv (what is left once the global options and their values are taken out). */
export function commandWords(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") break;
    if (a === "--home" || a === "--modules" || a === "--store" || a === "--redis" || a === "--addr") {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    out.push(a);
    if (out.length === 2) break;
  }
  return out;
}
