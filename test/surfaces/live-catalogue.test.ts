// Against a real `warden serve`: modules installed and removed through the control socket appear
// in and vanish from REST and OpenAPI at once, while requests run; and a CLI call through a serving
// host opens nothing of the home itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { raw } from "../helpers/api.js";
import { serveInBackground, warden, type Serving } from "../helpers/cli.js";
import { tempDir, writeModule } from "../helpers/modules.js";

let serving: Serving | undefined;
afterEach(async () => {
  await serving?.stop();
  serving = undefined;
});

function apiBase(out: string): URL {
  const m = /REST API on (http:\/\/[0-9.:]+)/.exec(out);
  if (!m) throw new Error(`no API address in: ${out}`);
  return new URL(m[1]!);
}

describe("the live catalogue", () => {
  it("serves a module installed while serving, and forgets one removed, without a restart", async () => {
    const home = tempDir("warden-live-");
    const common = ["--home", home];
    expect(warden([...common, "init"]).code).toBe(0);
    expect(warden([...common, "config", "set", "api.enabled", "true"]).code).toBe(0);
    serving = await serveInBackground(common);
    const base = apiBase(serving.output());
    const token = warden([...common, "auth", "grant", "--name", "t", "--scopes", "*", "--json"]).json.token as string;
    const call = (path: string) => raw(base, { method: "POST", path, headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: "{}" });
    const doc = async () => (await raw(base, { path: "/api/v1/openapi.json", headers: { authorization: `Bearer ${token}` } })).json as { paths: Record<string, unknown> };

    // Requests keep running the whole time.
    let stop = false;
    const background = (async () => {
      let n = 0;
      while (!stop) {
        const r = await raw(base, { path: "/api/v1/health/live" });
        expect(r.status).toBe(200);
        n++;
      }
      return n;
    })();

    expect((await call("/api/v1/fresh/hello")).status).toBe(404);
    const src = tempDir();
    writeModule(src, {
      id: "fresh",
      commands: { hello: { description: "h", input: { type: "object" } } },
      code: `export function activate(ctx) { ctx.commands.register("hello", async () => "hi"); }`,
    });
    expect(warden([...common, "module", "install", join(src, "fresh")]).code).toBe(0);
    const r = await call("/api/v1/fresh/hello");
    expect(r.status, r.text).toBe(200);
    expect(r.json).toBe("hi");
    expect(Object.keys((await doc()).paths)).toContain("/api/v1/fresh/hello");

    expect(warden([...common, "module", "remove", "fresh", "--yes"]).code).toBe(0);
    expect((await call("/api/v1/fresh/hello")).status).toBe(404);
    expect(Object.keys((await doc()).paths)).not.toContain("/api/v1/fresh/hello");
    stop = true;
    expect(await background).toBeGreaterThan(0);
  }, 90_000);

  it("runs a CLI call through the serving host's socket without opening the home in the CLI process", async () => {
    const home = tempDir("warden-sock-");
    const examples = join(__dirname, "../../modules/examples");
    serving = await serveInBackground(["--home", home, "--modules", examples]);
    const r = warden(["--home", home, "hello", "greet", "Ada", "--json"]);
    expect(r.json).toEqual({ message: "hello Ada" });
    const opened = readFileSync(join(home, "logs", "host.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes('"msg":"home opened"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
    expect(opened).toContain(serving.proc.pid);
    expect(opened).not.toContain(r.pid);
  }, 60_000);
});
