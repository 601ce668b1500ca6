// The CLI against a host elsewhere: `warden login URL` approved by an operator in the console (in
// Chromium), then `warden --addr URL ...` over REST as that operator; the refresh token rotating,
// a spent one presented again revoking the whole CLI session (audited); `warden logout`; plain
// HTTP refused off loopback; the credentials file 0600.
import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostOrigin } from "../../core/cli/remote.js";
import { launchChromium } from "../helpers/browser.js";
import { raw } from "../helpers/api.js";
import { BIN, warden } from "../helpers/cli.js";
import { serveConsoleHost, type ConsoleHost } from "../helpers/console-host.js";
import { tempDir } from "../helpers/modules.js";

let host: ConsoleHost;
let browser: Browser | undefined;
let aliceToken = "";
const config = tempDir("warden-xdg-");
const env = { XDG_CONFIG_HOME: config, WARDEN_ADDR: "" };
const credentials = () =>
  JSON.parse(readFileSync(join(config, "warden", "credentials.json"), "utf8")) as {
    hosts: Record<string, { refresh_token: string; access_token: string; access_expires_at: string; operator: string }>;
  };
/** One request on a connection of its own (a pooled keep-alive socket the server closes answers "other side closed"). */
const post = (path: string, body: unknown, token?: string) =>
  raw(new URL(host.base), { method: "POST", path, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
const remote = (...args: string[]) => warden(["--addr", host.base, "--json", ...args], env);

beforeAll(async () => {
  host = await serveConsoleHost("warden-remote-", { "security.rate_limit": "100000" });
  expect(host.cli("config", "set", "roles.custom", JSON.stringify({ greeter: ["hello.*"] })).code).toBe(0);
  expect(host.cli("operator", "add", "alice", "--role", "operator,greeter").code).toBe(0);
  aliceToken = host.cli("auth", "grant", "--name", "alice-console", "--scopes", "console.login,module.list,module.disable,module.enable,hello.*,auth.pair", "--operator", "alice").json.token;
  browser = await launchChromium();
  if (!browser) {
    if (process.env.CI === "true") throw new Error("the remote CLI test needs chromium in CI");
    console.warn("\n*** remote CLI browser test skipped: install Debian's chromium ***\n");
  }
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await host?.serving.stop();
});

/** `warden login` in the background; resolves with its code once printed, and its exit later. */
function startLogin(): { code: Promise<string>; done: Promise<{ status: number | null; out: string }> } {
  const proc = spawn(process.execPath, [BIN, "login", host.base, "--json"], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let resolveCode: (c: string) => void = () => {};
  const code = new Promise<string>((r) => (resolveCode = r));
  const take = (c: Buffer) => {
    out += c.toString();
    const m = /approve the code ([A-Z]{4}-[A-Z]{4})/.exec(out);
    if (m) resolveCode(m[1]!);
  };
  proc.stdout!.on("data", take);
  proc.stderr!.on("data", take);
  const done = new Promise<{ status: number | null; out: string }>((r) => proc.on("exit", (status) => r({ status, out })));
  return { code, done };
}

/** Alice signs in to the console with her token and approves the code on the CLI sign-in page. */
async function approveInConsole(code: string): Promise<void> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${host.base}/console/#/pair?code=${code}`);
  await page.fill('input[name="token"]', aliceToken);
  await page.click('button:has-text("Log in")');
  await page.waitForSelector('main[data-page="pair"]');
  await page.click(`button:has-text("Approve ${code}")`);
  await page.waitForSelector("text=Approved: the CLI at");
  await context.close();
}

describe("the remote CLI", () => {
  it("refuses plain HTTP off loopback unless told --insecure, and sends nothing there", () => {
    const r = warden(["--addr", "http://192.0.2.10:8080", "module", "list", "--json"], env);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("refusing plain HTTP to 192.0.2.10:8080");
    expect(warden(["login", "http://warden.example:80"], env).stderr).toContain("refusing plain HTTP");
    expect(hostOrigin("http://192.0.2.10:8080/x", true)).toBe("http://192.0.2.10:8080");
    expect(hostOrigin("http://[::1]:9", false)).toBe("http://[::1]:9");
    expect(hostOrigin("https://warden.example", false)).toBe("https://warden.example");
  });

  it("warden login is approved in the console; then --addr runs module commands over REST as the operator", async (t) => {
    if (!browser) return t.skip();
    const login = startLogin();
    await approveInConsole(await login.code);
    const done = await login.done;
    expect(done.status, done.out).toBe(0);
    const saved = credentials().hosts[host.base]!;
    expect(saved.operator).toBe("alice");
    expect(statSync(join(config, "warden", "credentials.json")).mode & 0o777).toBe(0o600);

    const list = remote("module", "list");
    expect(list.code, list.stderr).toBe(0);
    expect((list.json as Array<{ id: string }>).map((m) => m.id)).toContain("hello");
    const greet = remote("hello", "greet", "--name", "remote");
    expect(greet.code, greet.stderr).toBe(0);
    expect(JSON.stringify(greet.json)).toContain("remote");
    // Alice's roles (operator) do not approve, whatever the CLI asks.
    const approve = remote("module", "approve", "hello");
    expect(approve.code).not.toBe(0);
    expect(approve.stdout + approve.stderr).toContain("forbidden");
    expect(remote("module", "disable", "hello", "--yes").code).toBe(0);
    expect(remote("module", "enable", "hello").code).toBe(0);
    const events = host.cli("audit", "tail", "-n", "30").json as Array<{ action: string; actor: string }>;
    expect(events.find((e) => e.action === "module.disable")?.actor).toBe("operator:alice");
    expect(events.some((e) => e.action === "cli.approve") && events.some((e) => e.action === "cli.login")).toBe(true);
  });

  it("an access token about to lapse is refreshed, the refresh token rotating; a spent one presented again revokes the session", async (t) => {
    if (!browser) return t.skip();
    const before = credentials().hosts[host.base]!;
    // As if ten minutes had passed: the CLI refreshes before its next call.
    const file = credentials();
    file.hosts[host.base]!.access_expires_at = new Date(Date.now() - 1000).toISOString();
    writeFileSync(join(config, "warden", "credentials.json"), JSON.stringify(file));
    expect(remote("module", "list").code).toBe(0);
    const after = credentials().hosts[host.base]!;
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.access_token).not.toBe(before.access_token);

    // Someone replays the spent refresh token: the whole family is revoked, and audited.
    const replay = await post("/api/v1/login/refresh", { refresh_token: before.refresh_token });
    expect(replay.status).toBe(401);
    expect(replay.json.error.code).toBe("refresh_reused");
    const r = remote("module", "list");
    expect(r.code).not.toBe(0);
    const events = host.cli("audit", "tail", "-n", "10").json as Array<{ action: string; data: Record<string, unknown> }>;
    expect(events.find((e) => e.action === "cli.refresh_reused")?.data).toMatchObject({ reason: "refresh_reuse" });
    // The CLI forgot what no longer works, and says how to sign in again.
    const again = remote("module", "list");
    expect(again.stdout + again.stderr).toContain("warden login");
  });

  it("warden logout ends the CLI session on the host", async (t) => {
    if (!browser) return t.skip();
    const login = startLogin();
    await approveInConsole(await login.code);
    expect((await login.done).status).toBe(0);
    const saved = credentials().hosts[host.base]!;
    const out = warden(["logout", host.base, "--json"], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ended: true });
    expect((await post("/api/v1/module/list", {}, saved.access_token)).status).toBe(401);
    expect((await post("/api/v1/login/refresh", { refresh_token: saved.refresh_token })).status).toBe(401);
    expect(credentials().hosts[host.base]).toBeUndefined();
  });
});
