// Module secrets: set by the operator from stdin, read only by their module, encrypted at rest
// with a key outside system.brain, and absent from every output the host produces.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { warden } from "./helpers/cli.js";
import { tempDir } from "./helpers/modules.js";

const MODULES = join(__dirname, "fixtures/secrets");
const SECRET = "s3cr3t-Value-123";

function everyFile(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? everyFile(join(dir, d.name)) : [join(dir, d.name)]));
}

describe("secrets", () => {
  it("are set from stdin, read by their owner only, encrypted at rest and shown nowhere", () => {
    const home = tempDir("warden-secrets-");
    const common = ["--home", home, "--modules", MODULES];
    const set = warden([...common, "secrets", "set", "keeper", "api_token", "--json"], {}, `${SECRET}\n`);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json).toEqual({ module: "keeper", name: "api_token", set: true });
    expect(set.stdout + set.stderr).not.toContain(SECRET);

    expect(warden([...common, "keeper", "reveal", "api_token", "--json"]).json).toEqual({ length: SECRET.length, first: "s", matches: true });
    const peek = warden([...common, "other", "peek", "api_token", "--json"]);
    expect(peek.json).toEqual({ api_token: null, "keeper/api_token": "input_invalid", "keeper.api_token": null, "../keeper/api_token": "input_invalid" });

    const outputs = [
      warden([...common, "secrets", "list", "--json"]),
      warden([...common, "secrets", "list", "keeper", "--json"]),
      warden([...common, "config", "list", "--json"]),
      warden([...common, "audit", "tail", "-n", "100", "--json"]),
      warden([...common, "module", "inspect", "keeper", "--json"]),
      warden([...common, "keeper", "fail", "--json"]),
      warden([...common, "secrets", "set", "keeper", "bad name", "--json"], {}, SECRET),
    ];
    for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(SECRET);
    expect(outputs[0]!.json.secrets).toEqual([expect.objectContaining({ module: "keeper", name: "api_token" })]);
    expect(outputs[3]!.json.map((e: { action: string }) => e.action)).toContain("secret.set");

    // At rest: neither system.brain (with its WAL) nor the logs hold the value; the key file is 0600.
    for (const file of everyFile(home)) expect(readFileSync(file).includes(Buffer.from(SECRET)), file).toBe(false);
    expect(statSync(join(home, "secret.key")).mode & 0o777).toBe(0o600);

    // Without the key the value does not open: a clear refusal, not a wrong value.
    const noKey = warden([...common, "keeper", "reveal", "api_token", "--json"], { WARDEN_SECRET_KEY: "ab".repeat(32) });
    expect(noKey.json.error.code).toBe("secret_unavailable");

    expect(warden([...common, "secrets", "delete", "keeper", "api_token", "--json"]).json).toEqual({ module: "keeper", name: "api_token", deleted: true });
    expect(warden([...common, "keeper", "reveal", "api_token", "--json"]).json).toBeNull();
    expect(warden([...common, "secrets", "delete", "keeper", "api_token", "--json"]).json.error.code).toBe("not_found");
    expect(warden([...common, "secrets", "set", "nobody", "x", "--json"], {}, "v").json.error.code).toBe("module_not_found");
  }, 60_000);
});
