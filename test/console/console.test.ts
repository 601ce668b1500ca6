// The operator console in a real browser (Debian's chromium through playwright-core) against a live
// `warden serve`: login through the one-time URL, approvals, tokens, lockdown, the audit trail with
// the session as actor, sessions that end, cross-site attempts, accessibility, screenshots.
import { createServer, type Server } from "node:http";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import Database from "better-sqlite3";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { serveInBackground, warden, type Serving } from "../helpers/cli.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { EXAMPLES, serveConsoleHost } from "../helpers/console-host.js";
import { makePack } from "../helpers/packs.js";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
// The screenshots in docs/console/ are retaken with WARDEN_UPDATE_SCREENSHOTS=1; otherwise to a temp folder.
const SHOTS = process.env.WARDEN_UPDATE_SCREENSHOTS === "1" ? join(__dirname, "../../docs/console") : tempDir("warden-shots-");
const PAGES = ["overview", "modules", "tokens", "security", "audit"] as const;

let browser: Browser | undefined;
let serving: Serving;
let home: string;
let base: string;
let context: BrowserContext;
let page: Page;
let restToken = "";
const cspViolations: string[] = [];

const cli = (...args: string[]) => warden(["--home", home, "--modules", EXAMPLES, "--json", ...args]);
const loginUrl = (): string => {
  const r = cli("console");
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.json.url as string;
};

async function rest(command: string, input: unknown, token = restToken): Promise<{ status: number; body: any }> {
  const [m, c] = command.split(".");
  const res = await fetch(`${base}/api/v1/${m}/${c}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(input) });
  return { status: res.status, body: await res.json() };
}

/** The page freshly loaded (a hash change alone would keep what is on screen until its next poll). */
async function show(p: Page, name: string): Promise<void> {
  await p.goto(`${base}/console/#/${name}`);
  await p.reload();
  await p.waitForSelector(`main[data-page="${name}"]`);
}

/** A browser's view settles after its own requests: waited for, never raced against a short timer. */
const eventually = <T>(fn: () => Promise<T> | T, o: { timeout?: number } = {}) => expect.poll(fn, { timeout: o.timeout ?? 20_000, interval: 100 });

async function loggedIn(ctx: BrowserContext): Promise<Page> {
  const p = await ctx.newPage();
  p.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await p.goto(loginUrl());
  await p.waitForSelector('main[data-page="overview"]');
  return p;
}

beforeAll(async () => {
  // The test process calls REST from the same address as the browser: room for both.
  ({ home, serving, base } = await serveConsoleHost("warden-console-", { "security.rate_limit": "10000" }));
  const extra = tempDir("warden-console-mod-");
  const dir = writeModule(extra, {
    id: "auditor",
    capabilities: ["commands.register", "audit.read"],
    commands: { count: { description: "How many audit events the module can see", input: { type: "object", properties: {}, additionalProperties: false } } },
    code: `export function activate(ctx) { ctx.commands.register("count", async () => (await ctx.audit.tail(5)).length); }\n`,
  });
  const installed = cli("module", "install", dir);
  expect(installed.code, installed.stdout + installed.stderr).toBe(0);
  browser = await launchChromium();
  if (!browser) return;
  context = await browser.newContext();
  page = await loggedIn(context);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await serving?.stop();
});

describe("the console's requests, forged outside a browser", () => {
  /** A session cookie from a login URL, as the browser would get it. */
  async function sessionCookie(): Promise<string> {
    const res = await fetch(loginUrl(), { redirect: "manual" });
    expect(res.status).toBe(303);
    return /warden_session=([^;]+)/.exec(res.headers.get("set-cookie")!)![1]!;
  }
  const post = (path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  it("takes the cookie only with the console's header, from the console's own origin", async () => {
    const cookie = `warden_session=${await sessionCookie()}`;
    const own = { cookie, origin: base, "sec-fetch-site": "same-origin" };
    expect((await post("/api/v1/console/whoami", { ...own, "x-warden-console": "1" })).status).toBe(200);
    // Without the header (a form or a simple fetch cannot add it): refused, whatever the origin.
    const bare = await post("/api/v1/console/whoami", own);
    expect(bare.status).toBe(403);
    expect(bare.body.error.reason).toBe("cross_site");
    // From another site, or another port of this one, with everything else right: refused.
    for (const [origin, site] of [
      ["http://evil.example", "cross-site"],
      [base.replace(/:\d+$/, ":1"), "same-site"],
    ] as const) {
      const r = await post("/api/v1/security/lockdown", { cookie, origin, "sec-fetch-site": site, "x-warden-console": "1" });
      expect(r.status).toBe(403);
      expect(r.body.error.reason).toBe("cross_site");
    }
    // The preflight a page elsewhere would need for that header is refused too.
    const pre = await fetch(`${base}/api/v1/security/lockdown`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "x-warden-console" },
    });
    expect(pre.status).toBe(403);
    expect(cli("security", "status").json.lockdown.active).toBe(false);
  });

  it("a token with console.login opens a session with its own scopes; one without is refused; no code reaches a log", async () => {
    const login = (token: string) =>
      fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json", origin: base, "sec-fetch-site": "same-origin" }, body: JSON.stringify({ token }) });
    const withScope = cli("auth", "grant", "--name", "console-viewer", "--scopes", "console.login,audit.read").json.token as string;
    const without = cli("auth", "grant", "--name", "no-console", "--scopes", "audit.read").json.token as string;
    const ok = await login(withScope);
    expect(ok.status).toBe(200);
    const cookie = /warden_session=([^;]+)/.exec(ok.headers.get("set-cookie")!)![1]!;
    const as = (command: string) => post(`/api/v1/${command.replace(".", "/")}`, { cookie: `warden_session=${cookie}`, "x-warden-console": "1" });
    expect((await as("audit.verify")).status).toBe(200);
    const refused = await as("security.status"); // beyond the token's scopes
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("console session may not call security.status");
    const no = await login(without);
    expect(no.status).toBe(403);
    expect(((await no.json()) as any).error.message).toContain("console.login");
    // The one-time code of a login URL is kept out of the access log.
    const url = loginUrl();
    await fetch(url, { redirect: "manual" });
    const code = new URL(url).searchParams.get("code")!;
    const log = join(home, "logs", "host.log");
    await eventually(() => readFileSync(log, "utf8").includes("/console/login?code=***")).toBe(true);
    expect(readFileSync(log, "utf8")).not.toContain(code);
  });

  it("a token that may open login URLs gets a session with its own scopes, never the operator's", async () => {
    // The attack: console.manage alone, minting a login URL to become an all-scopes session.
    const minter = cli("auth", "grant", "--name", "minter", "--scopes", "console.manage").json.token as string;
    const made = await rest("console.open", {}, minter);
    expect(made.status).toBe(200);
    expect(made.body.scopes).toEqual(["console.manage"]);
    const res = await fetch(made.body.url, { redirect: "manual" });
    const cookie = /warden_session=([^;]+)/.exec(res.headers.get("set-cookie")!)![1]!;
    const as = (command: string) => post(`/api/v1/${command.replace(".", "/")}`, { cookie: `warden_session=${cookie}`, "x-warden-console": "1" });
    for (const command of ["auth.grant", "security.lockdown", "module.list", "audit.tail"]) expect((await as(command)).status).toBe(403);
    const sessions = cli("console", "sessions").json as Array<{ scopes: string[]; via: string }>;
    expect(sessions.find((s) => s.via.startsWith("code:token:"))!.scopes).toEqual(["console.manage"]);
  });

  it("a forged or unknown cookie opens nothing, and the console is off unless api.console is on", async () => {
    const forged = await post("/api/v1/console/whoami", { cookie: `warden_session=0123456789abcdef.${"A".repeat(43)}`, "x-warden-console": "1" });
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe("session_expired");
    const other = tempDir("warden-console-off-");
    expect(warden(["--home", other, "init"]).code).toBe(0);
    const off = await serveInBackground(["--home", other], {}, ["--enable-api"]);
    try {
      const url = /REST API on (http:\/\/[0-9.:]+)/.exec(off.output())![1]!;
      const r = await fetch(`${url}/console/`);
      expect(r.status).toBe(404);
      expect(((await r.json()) as any).error.message).toContain("api.console true");
      const open = warden(["--home", other, "--json", "console"]);
      expect(open.json.error.code).toBe("module_unavailable");
    } finally {
      await off.stop();
    }
  });
});

describe("the operator console in chromium", () => {
  it("logs in through the one-time URL with a strict cookie and a strict CSP; the URL works once", async (t) => {
    if (!browser) return t.skip();
    expect(page.url()).toBe(`${base}/console/#/overview`);
    const cookie = (await context.cookies()).find((c) => c.name === "warden_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    const res = await fetch(`${base}/console/`);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(await res.text()).not.toMatch(/<script>|<style|style="/); // nothing inline to allow
    // Fingerprinted files are cached for good.
    const asset = /src="(\/console\/assets\/app\.[0-9a-f]{12}\.js)"/.exec(await (await fetch(`${base}/console/`)).text())![1]!;
    expect((await fetch(`${base}${asset}`)).headers.get("cache-control")).toContain("immutable");

    const url = loginUrl();
    const first = await browser!.newContext();
    const p1 = await first.newPage();
    await p1.goto(url);
    await p1.waitForSelector('main[data-page="overview"]');
    const second = await browser!.newContext();
    const p2 = await second.newPage();
    await p2.goto(url); // the same URL again
    await eventually(async () => p2.locator("main [role=alert]").textContent()).toContain("already used");
    await first.close();
    await second.close();
  });

  it("approves a pending module, which then runs and shows as active", async (t) => {
    if (!browser) return t.skip();
    await show(page, "modules");
    const row = page.locator('tr[data-module="auditor"]');
    await eventually(() => row.textContent()).toContain("pending_approval");
    expect(await row.textContent()).toContain("audit.read (elevated)");
    await row.getByRole("button", { name: "Approve auditor" }).click();
    await eventually(() => page.locator("#notice").textContent()).toContain("approve auditor: done");
    const ran = cli("auditor", "count");
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    await show(page, "modules");
    await eventually(() => page.locator('tr[data-module="auditor"] .state').textContent()).toBe("active");
  });

  it("shows each module's verified publisher, and says which modules a blocked pack stopped", async (t) => {
    if (!browser) return t.skip();
    const keys = generateKeyPairSync("ed25519");
    const pub = join(tempDir("warden-keys-"), "acme.pub");
    writeFileSync(pub, keys.publicKey.export({ type: "spki", format: "pem" }));
    expect(cli("trust", "add", pub, "--name", "acme").code).toBe(0);
    const p = await makePack("acme-shown", "1.0.0", keys.privateKey);
    expect(cli("module", "install", p.file).code).toBe(0);
    await show(page, "modules");
    await eventually(() => page.locator('tr[data-module="acme-shown"]').textContent()).toContain("acme");
    expect(await page.locator('tr[data-module="hello"]').textContent()).toContain("unverified");
    expect(await page.locator("main").textContent()).not.toContain("null");
    expect(cli("module", "block", p.sha, "--reason", "a test of the kill switch", "--yes").code).toBe(0);
    await show(page, "modules");
    await eventually(() => page.locator('[data-notice="blocked"]').textContent()).toContain("acme-shown");
    expect(await page.locator('[data-notice="blocked"]').textContent()).toContain("a test of the kill switch");
    await show(page, "overview");
    await eventually(() => page.locator("main").textContent()).toContain("module.block");
    expect(cli("module", "unblock", p.sha).code).toBe(0);
    expect(cli("module", "remove", "acme-shown", "--yes").code).toBe(0);
  });

  it("grants a token (its secret shown once) that then calls a command over REST", async (t) => {
    if (!browser) return t.skip();
    await show(page, "tokens");
    await page.getByLabel("Name").fill("browser-made");
    await page.getByLabel("Scopes (comma-separated)").fill("hello.*");
    await page.getByRole("button", { name: "Grant token" }).click();
    await page.waitForSelector("#secret");
    restToken = (await page.locator("#secret").textContent())!;
    expect(restToken).toMatch(/^wdn_/);
    const r = await rest("hello.greet", { name: "Ada" });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.body)).toContain("Ada");
    await eventually(() => page.locator('tr[data-token="browser-made"]').count()).toBe(1);
  });

  it("asks before a destructive action: declined, the token stays; accepted, it is revoked", async (t) => {
    if (!browser) return t.skip();
    await show(page, "tokens");
    const row = page.locator('tr[data-token="browser-made"]');
    const asked: string[] = [];
    let answer = false;
    const onDialog = (d: import("playwright-core").Dialog) => {
      asked.push(d.message());
      void (answer ? d.accept() : d.dismiss());
    };
    page.on("dialog", onDialog);
    try {
      await row.getByRole("button", { name: "Revoke browser-made" }).click();
      await eventually(() => page.locator("#notice").textContent()).toContain("not done");
      expect(asked[0]).toMatch(/revoke a token/);
      expect((await rest("hello.greet", { name: "still" })).status).toBe(200);
      answer = true;
      await row.getByRole("button", { name: "Revoke browser-made" }).click();
      await eventually(() => page.locator("#notice").textContent()).toContain("revoke browser-made: done");
      expect((await rest("hello.greet", { name: "gone" })).status).toBe(401);
      // The tests after this one call REST with a live token.
      restToken = cli("auth", "grant", "--name", "browser-made-2", "--scopes", "hello.*").json.token as string;
    } finally {
      page.off("dialog", onDialog);
    }
  });

  it("locks down: the banner counts down, REST answers 503; Unlock ends it", async (t) => {
    if (!browser) return t.skip();
    await show(page, "security");
    await page.getByLabel("Lockdown seconds").fill("300");
    await page.getByRole("button", { name: "Lock down" }).click();
    const banner = page.locator("#lockdown");
    await eventually(() => banner.isVisible()).toBe(true);
    const left = async () => Number(/for (\d+) more s/.exec((await banner.textContent()) ?? "")?.[1]);
    const before = await left();
    expect(before).toBeGreaterThan(200);
    await eventually(left).toBeLessThan(before); // it ticks
    const refused = await rest("hello.greet", { name: "Ada" });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe("locked_down");
    await page.screenshot({ path: join(mkdirp(SHOTS), "lockdown.png") });
    await banner.getByRole("button", { name: "Unlock" }).click();
    await eventually(() => banner.isVisible()).toBe(false);
    expect((await rest("hello.greet", { name: "Ada" })).status).toBe(200);
  });

  it("verifies the audit chain and shows the console's actions with the session as actor", async (t) => {
    if (!browser) return t.skip();
    const session = /session ([a-f0-9]{16})/.exec((await page.locator("#who").textContent())!)![1]!;
    await show(page, "audit");
    await page.getByRole("button", { name: "Verify chain" }).click();
    await eventually(() => page.locator(".verify.ok").textContent()).toContain("intact");
    await page.getByLabel("Filter by actor, action or target").fill(`console:${session}`);
    await page.getByRole("button", { name: "Filter" }).click();
    await eventually(async () => page.locator("tbody tr").count()).toBeGreaterThanOrEqual(4);
    const rows = await page.locator("tbody tr").allTextContents();
    const actions = rows.join("\n");
    for (const action of ["module.approve", "token.grant", "security.lockdown", "security.unlock"]) expect(actions).toContain(action);
    const tail = cli("audit", "tail", "-n", "200").json as Array<{ actor: string; action: string }>;
    expect(tail.filter((e) => e.actor === `console:${session}`).map((e) => e.action)).toEqual(expect.arrayContaining(["module.approve", "token.grant", "security.lockdown", "security.unlock"]));
  });

  it("refuses cross-site attempts against the console's state-changing requests", async (t) => {
    if (!browser) return t.skip();
    // Another origin in the same browser, which holds a console session: one cross-site
    // (localhost) and one same-site on another port (127.0.0.1), where SameSite alone would not help.
    const evil = await startEvilSite(base);
    try {
      for (const origin of [`http://localhost:${evil.port}`, `http://127.0.0.1:${evil.port}`]) {
        const p = await context.newPage();
        await p.goto(`${origin}/`);
        await p.waitForFunction('document.title === "done"', undefined, { timeout: 15_000 });
        const results = JSON.parse((await p.locator("#results").textContent())!) as Record<string, string>;
        // The preflighted call (custom header, JSON) never reaches the command; the simple ones are refused.
        expect(results.preflighted).toBe("blocked");
        await p.close();
      }
      const status = cli("security", "status").json;
      expect(status.lockdown.active).toBe(false);
      expect(status.blocked.map((b: { client: string }) => b.client)).not.toContain("10.6.6.6");
      const tail = cli("audit", "tail", "-n", "50").json as Array<{ action: string; target: string }>;
      expect(tail.some((e) => e.action === "security.block" && e.target === "10.6.6.6")).toBe(false);
      expect(evil.seen.some((s) => s.includes("lockdown"))).toBe(false);
    } finally {
      evil.server.close();
    }
  });

  it("has no serious or critical accessibility violation on any page, and screenshots every page", async (t) => {
    if (!browser) return t.skip();
    // axe is injected by the test, so only this context waives the CSP (the page never does).
    const axeContext = await browser!.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const p = await loggedIn(axeContext);
    const problems: string[] = [];
    const check = async (name: string) => {
      await p.addScriptTag({ path: AXE });
      const r = (await p.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as { violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> };
      for (const v of r.violations) if (v.impact === "serious" || v.impact === "critical") problems.push(`${name}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      await p.screenshot({ path: join(mkdirp(SHOTS), `${name}.png`), fullPage: true });
    };
    for (const name of PAGES) {
      await show(p, name);
      await check(name);
    }
    await p.getByRole("button", { name: "Log out" }).click();
    await p.waitForSelector("text=Log in to the Warden console");
    await check("login");
    expect(problems).toEqual([]);
    await axeContext.close();
    expect(cspViolations).toEqual([]);
  });

  it("Verify names and highlights the first broken event of a tampered chain", async (t) => {
    if (!browser) return t.skip();
    const approved = (cli("audit", "tail", "-n", "500").json as Array<{ seq: number; action: string }>).find((e) => e.action === "module.approve")!;
    const db = new Database(join(home, "system.brain"));
    db.prepare("UPDATE audit SET target = 'someone-else' WHERE seq = ?").run(approved.seq);
    db.close();
    await show(page, "audit");
    await page.getByRole("button", { name: "Verify chain" }).click();
    await eventually(() => page.locator(".verify.error").textContent()).toContain(`broken at seq ${approved.seq}`);
    await page.getByLabel("Filter by actor, action or target").fill("module.approve");
    await page.getByRole("button", { name: "Filter" }).click();
    await eventually(() => page.locator("tr.broken td").first().textContent()).toBe(String(approved.seq));
  });

  it("sends a revoked session back to the login page", async (t) => {
    if (!browser) return t.skip();
    const session = /session ([a-f0-9]{16})/.exec((await page.locator("#who").textContent())!)![1]!;
    expect((cli("console", "sessions").json as Array<{ id: string }>).map((s) => s.id)).toContain(session);
    expect(cli("console", "revoke", session).code).toBe(0);
    await page.reload(); // its first call finds the session over
    await eventually(() => page.locator("main [role=alert]").textContent()).toContain("session has ended");
    expect(await page.locator("#nav").isVisible()).toBe(false);
    // And the cookie opens nothing any more.
    const cookie = (await context.cookies()).find((c) => c.name === "warden_session")!.value;
    const res = await fetch(`${base}/api/v1/console/whoami`, {
      method: "POST",
      headers: { cookie: `warden_session=${cookie}`, "x-warden-console": "1", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("session_expired");
  });
});

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A page on another origin that tries the console's state-changing calls with the browser's cookies. */
async function startEvilSite(target: string): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const html = `<!doctype html><html lang="en"><head><title>evil</title></head><body><pre id="results"></pre>
<form id="f" method="POST" action="${target}/api/v1/security/lockdown" enctype="text/plain" target="sink"><input name='{"seconds":300,"x":"' value='"}'></form>
<iframe name="sink" title="sink"></iframe>
<script>
(async () => {
  const results = {};
  try {
    const r = await fetch("${target}/api/v1/security/lockdown", { method: "POST", credentials: "include", headers: { "content-type": "application/json", "x-warden-console": "1" }, body: '{"seconds":300}' });
    results.preflighted = "reached:" + r.status;
  } catch (e) { results.preflighted = "blocked"; }
  try {
    await fetch("${target}/api/v1/security/block", { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: '{"client":"10.6.6.6"}' });
    results.simple = "sent";
  } catch (e) { results.simple = "blocked"; }
  try {
    await fetch("${target}/console/logout", { method: "POST", mode: "no-cors", credentials: "include", body: "{}" });
  } catch (e) {}
  document.getElementById("f").submit();
  await new Promise((r) => setTimeout(r, 500));
  document.getElementById("results").textContent = JSON.stringify(results);
  document.title = "done";
})();
</script></body></html>`;
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}
