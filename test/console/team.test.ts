// The console for a team, in Chromium against a live `warden serve` with two-person approval on:
// the Overview lists what waits for someone (a request with what it would change), a second
// operator approves it there and the requester cannot; the security events include token and
// operator changes with their time zone; a login during a lockdown shows a page, never JSON.
import type { Browser, Page } from "playwright-core";
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { serveConsoleHost, type ConsoleHost } from "../helpers/console-host.js";

let host: ConsoleHost;
let browser: Browser | undefined;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  host = await serveConsoleHost("warden-team-", { "security.rate_limit": "100000", "approvals.required": "2" });
  for (const [name, role] of [
    ["alice", "admin"],
    ["bob", "approver"],
  ] as const) {
    const added = host.cli("operator", "add", name, "--role", role).json as { permissions: string[] };
    tokens[name] = host.cli("auth", "grant", "--name", `${name}-console`, "--scopes", added.permissions.join(","), "--operator", name).json.token;
  }
  browser = await launchChromium();
  if (!browser) {
    if (process.env.CI === "true") throw new Error("the console team test needs chromium in CI");
    console.warn("\n*** console team test skipped: install Debian's chromium ***\n");
  }
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await host?.serving.stop();
});

async function signedIn(who: string): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${host.base}/console/#/overview`);
  await page.fill('input[name="token"]', tokens[who]!);
  await page.click('button:has-text("Log in")');
  await page.waitForSelector('main[data-page="overview"]');
  return page;
}

async function fileTrust(name: string): Promise<string> {
  const key = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;
  const res = await fetch(`${host.base}/api/v1/trust/add`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.alice}`, "content-type": "application/json" },
    body: JSON.stringify({ key, name }),
  });
  const body = (await res.json()) as { approval: string; id: string };
  expect(body.approval).toBe("requested");
  return body.id;
}

describe("the console for a team", () => {
  it("the Overview lists a two-person request with what it would change; the requester cannot approve it there, a second operator does", async (t) => {
    if (!browser) return t.skip();
    const id = await fileTrust("acme");
    const alice = await signedIn("alice");
    const row = alice.locator(`li[data-request="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("trust the publisher key 'acme'");
    await alice.click(`button:has-text("Approve ${id}")`);
    await alice.waitForSelector("text=approve refused (forbidden)");
    await alice.context().close();

    const bob = await signedIn("bob");
    await bob.locator(`li[data-request="${id}"]`).waitFor();
    await bob.click(`button:has-text("Approve ${id}")`);
    await bob.waitForSelector("text=approved: trust the publisher key 'acme'");
    expect((host.cli("trust", "list").json as { keys: Array<{ name: string }> }).keys.map((k) => k.name)).toContain("acme");
    // The security events show operator, token and approval changes, each time with its zone.
    await bob.reload();
    const events = bob.locator('section[aria-labelledby="events-h"]');
    await events.locator("text=approval.approve").first().waitFor();
    const text = (await events.textContent()) ?? "";
    expect(text).toContain("operator:bob");
    expect(text).toMatch(/UTC|GMT/);
    await bob.context().close();
  });

  it("a login during a lockdown shows a page that says what is going on, never JSON", async (t) => {
    if (!browser) return t.skip();
    const url = host.cli("console").json.url as string;
    expect(host.cli("security", "lockdown", "300").code).toBe(0);
    try {
      const context = await browser!.newContext();
      const page = await context.newPage();
      const res = await page.goto(url);
      expect(res?.headers()["content-type"]).toContain("text/html");
      await page.waitForSelector("text=This Warden host is locked down");
      expect(await page.textContent("body")).toContain("warden security unlock");
      await context.close();
    } finally {
      host.cli("security", "unlock");
    }
  });
});
