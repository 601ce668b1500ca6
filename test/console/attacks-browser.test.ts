// Attacks on the console in chromium (from the same review as ./attacks.test.ts): login CSRF
// through a page elsewhere, and a crafted link that would make the console flood its own API.
// (Planting a cookie from another port of the same host cannot be stopped over plain HTTP: cookies
// are not separated by port. Over TLS the cookie is a __Host- one; see console-routes.ts.)
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { warden, type Serving } from "../helpers/cli.js";
import { EXAMPLES, serveConsoleHost } from "../helpers/console-host.js";

let browser: Browser | undefined;
let serving: Serving;
let home: string;
let base: string;

const cli = (...args: string[]) => warden(["--home", home, "--modules", EXAMPLES, "--json", ...args]);
const eventually = <T>(fn: () => Promise<T> | T, timeout = 15_000) => expect.poll(fn, { timeout, interval: 100 });

async function operator(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser!.newContext();
  const page = await ctx.newPage();
  await page.goto(cli("console").json.url as string);
  await page.waitForSelector('main[data-page="overview"]');
  return { ctx, page };
}
const whoami = (page: Page) =>
  page.evaluate(async () => {
    const r = await fetch("/api/v1/console/whoami", { method: "POST", headers: { "content-type": "application/json", "x-warden-console": "1" }, body: "{}" });
    return { status: r.status, ...((await r.json()) as object) };
  }) as Promise<{ status: number; id?: string; scopes?: string[]; error?: { code: string; message: string } }>;

/** A page on another origin (host given) serving `html`. */
async function evilSite(html: () => string, headers: Record<string, string> = {}): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...headers });
    res.end(html());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port };
}

beforeAll(async () => {
  ({ home, serving, base } = await serveConsoleHost("warden-attack-browser-"));
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await serving?.stop();
});

describe("console in the operator's browser", () => {
  it("F3b: a page on another site cannot log the operator's browser into the attacker's session (login CSRF)", async (t) => {
    if (!browser) return t.skip();
    const { ctx, page } = await operator();
    expect((await whoami(page)).scopes).toEqual(["*"]);
    // The attacker: a console.manage token mints a login URL carrying only its own scopes.
    const minter = cli("auth", "grant", "--name", "csrf", "--scopes", "console.manage").json.token as string;
    const made = await fetch(`${base}/api/v1/console/open`, { method: "POST", headers: { authorization: `Bearer ${minter}`, "content-type": "application/json" }, body: "{}" });
    const url = ((await made.json()) as { url: string }).url;
    const evil = await evilSite(() => `<!doctype html><title>x</title><script>location.href = ${JSON.stringify(url)};</script>`);
    try {
      const p = await ctx.newPage();
      await p.goto(`http://localhost:${evil.port}/`); // cross-site (localhost vs 127.0.0.1)
      await p.waitForURL(/\/console\//);
      await p.waitForTimeout(1000);
      // The operator's browser must still be the operator's session (it is now the attacker's
      // console.manage-only session: whoami is refused with 403 "console session may not call").
      const after = await whoami(page);
      expect(after, JSON.stringify(after)).toMatchObject({ status: 200, scopes: ["*"] });
    } finally {
      evil.server.close();
      await ctx.close();
    }
  });

  it("F5: a crafted link (#/constructor) does not make the console flood the API and get the operator's address blocked", async (t) => {
    if (!browser) return t.skip();
    const { ctx, page } = await operator();
    let requests = 0;
    page.on("request", (r) => void (r.url().includes("/api/v1/") && requests++));
    await page.goto(`${base}/console/#/constructor`);
    await page.waitForTimeout(3000);
    const status = cli("security", "status").json;
    const blocked = (status.blocked ?? []).map((b: { client: string }) => b.client);
    cli("security", "purge", "--yes");
    await ctx.close();
    // Overview polls every 5 s (4 calls + a banner call): a handful of requests in 3 s, not hundreds.
    expect(requests, `${requests} API requests in 3 s; blocked now: ${JSON.stringify(blocked)}`).toBeLessThan(30);
    expect(blocked).not.toContain("127.0.0.1");
  });
});
