// Console sign-in with OpenID Connect, in Chromium, against a real OpenID provider (oidc-provider)
// on loopback: an operator signs in and what they do is audited under their name; a wrong state,
// a replayed code, an ID token for another audience (signed by the provider's own key) and an
// identity no operator has are each refused with their code and shown on the login page.
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, importJWK, SignJWT } from "jose";
import Provider from "oidc-provider";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { warden } from "../helpers/cli.js";
import { serveConsoleHost, type ConsoleHost } from "../helpers/console-host.js";

let host: ConsoleHost;
let browser: Browser | undefined;
let idp: Server;
let issuer = "";
/** Set by a test: the provider's token endpoint answers with an ID token for this audience instead. */
let tamperAudience: string | undefined;

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256", use: "sig" };

beforeAll(async () => {
  host = await serveConsoleHost("warden-oidc-", { "security.rate_limit": "100000" });
  idp = createServer();
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "warden-console",
        client_secret: "s3cret-of-the-console",
        redirect_uris: [`${host.base}/console/oidc/callback`],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, email: `${id}@example.com`, email_verified: true }) }),
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    jwks: { keys: [jwk] },
    cookies: { keys: ["a-test-cookie-key"] },
    features: { devInteractions: { enabled: true } },
  });
  const signer = await importJWK(jwk, "RS256");
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (tamperAudience !== undefined && ctx.path === "/token" && body?.id_token) {
      const claims = decodeJwt(body.id_token);
      ctx.body = { ...body, id_token: await new SignJWT({ ...claims, aud: tamperAudience }).setProtectedHeader({ alg: "RS256", kid: "test-key" }).sign(signer) };
    }
  });
  idp.on("request", provider.callback());

  expect(host.cli("operator", "add", "alice", "--role", "operator", "--email", "alice@example.com").code).toBe(0);
  expect(host.cli("config", "set", "console.oidc.issuer", issuer).code).toBe(0);
  expect(host.cli("config", "set", "console.oidc.client_id", "warden-console").code).toBe(0);
  expect(warden(["--home", host.home, "secrets", "set", "console", "oidc_client_secret"], {}, "s3cret-of-the-console\n").code).toBe(0);
  browser = await launchChromium();
  if (!browser) {
    if (process.env.CI === "true") throw new Error("the OIDC console test needs chromium in CI");
    console.warn("\n*** OIDC console test skipped: install Debian's chromium ***\n");
  }
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await host?.serving.stop();
  idp?.close();
});

/** Requests the browser makes that start with `prefix` (redirects included, which routes do not see). */
function watch(context: BrowserContext, prefix: () => string): () => string {
  let seen = "";
  context.on("request", (r) => {
    if (r.url().startsWith(prefix())) seen = r.url();
  });
  return () => seen;
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser!.newContext();
  // The provider's development pages name a web font elsewhere: nothing leaves loopback.
  await context.route("**/*", (route) => (new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort()));
  return context;
}

/** From the console's login page through the provider's own login and consent, as `who`; the callback URL it came back with. */
async function signIn(context: BrowserContext, who: string): Promise<{ page: Page; callback: string }> {
  const callback = watch(context, () => `${host.base}/console/oidc/callback`);
  const page = await context.newPage();
  await page.goto(`${host.base}/console/`);
  await page.click("#sso");
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', who);
  // The provider's development login takes any password.
  await page.fill('input[name="password"]', "any");
  await page.click('button:has-text("Sign-in")');
  const consent = page.locator('button:has-text("Continue")');
  await consent.waitFor({ timeout: 10_000 }).then(
    () => consent.click(),
    () => undefined,
  );
  await expect.poll(callback, { timeout: 20_000 }).not.toBe("");
  return { page, callback: callback() };
}

/** A sign-in started in this browser (its state cookie set), never taken to the provider: its state. */
async function startOnly(context: BrowserContext): Promise<string> {
  // The context's own request API shares the browser's cookies, and stops at the redirect.
  const r = await context.request.get(`${host.base}/console/oidc/start`, { maxRedirects: 0 });
  expect(r.status()).toBe(303);
  return new URL(r.headers()["location"]!).searchParams.get("state")!;
}

/** The login page the browser was sent back to names the refusal's code, and says what happened in words. */
const SAYS: Record<string, string> = {
  oidc_state_invalid: "did not start in this browser",
  oidc_code_invalid: "already used or is not valid",
  oidc_token_invalid: "did not verify",
  oidc_operator_unknown: "no operator here signs in as you",
};
async function refusedWith(context: BrowserContext, code: string, act: () => Promise<Page>): Promise<void> {
  const landed = watch(context, () => `${host.base}/console/?error=`);
  const page = await act();
  await expect.poll(landed, { timeout: 20_000 }).toContain(`error=${code}`);
  await expect
    .poll(
      async () =>
        (await page
          .locator('main p.error[role="alert"]')
          .textContent()
          .catch(() => "")) ?? "",
      { timeout: 20_000 },
    )
    .toContain(SAYS[code]!);
}

describe("console sign-in with OpenID Connect", () => {
  it("an operator signs in with the identity provider, and what they do is audited under their name", async (t) => {
    if (!browser) return t.skip();
    const context = await newContext();
    const { page } = await signIn(context, "alice");
    await page.waitForSelector('main[data-page="overview"]');
    const status = await page.evaluate(async () => {
      const r = await fetch("/api/v1/module/disable", { method: "POST", headers: { "content-type": "application/json", "x-warden-console": "1" }, body: JSON.stringify({ id: "hello" }) });
      return r.status;
    });
    expect(status).toBe(200);
    host.cli("module", "enable", "hello");
    const events = host.cli("audit", "tail", "-n", "20").json as Array<{ action: string; actor: string; data: Record<string, unknown> }>;
    expect(events.find((e) => e.action === "console.login" && e.data.via === "oidc")?.data).toMatchObject({ operator: "alice", email: "alice@example.com" });
    expect(events.find((e) => e.action === "module.disable")?.actor).toBe("operator:alice");
    await context.close();
  });

  it("a callback whose state is not this browser's is refused with oidc_state_invalid", async (t) => {
    if (!browser) return t.skip();
    const context = await newContext();
    const page = await context.newPage();
    await startOnly(context);
    await refusedWith(context, "oidc_state_invalid", async () => {
      await page.goto(`${host.base}/console/oidc/callback?code=anything&state=not-the-state-this-browser-started&iss=${encodeURIComponent(issuer)}`);
      return page;
    });
    await context.close();
  });

  it("a code used once already is refused with oidc_code_invalid", async (t) => {
    if (!browser) return t.skip();
    const context = await newContext();
    const first = await signIn(context, "alice");
    await first.page.waitForSelector('main[data-page="overview"]');
    // A new sign-in in the same browser (its own state), answered with the code already spent.
    const page = await context.newPage();
    const state = await startOnly(context);
    const replay = new URL(first.callback);
    replay.searchParams.set("state", state);
    await refusedWith(context, "oidc_code_invalid", async () => {
      await page.goto(replay.href);
      return page;
    });
    await context.close();
  });

  it("an ID token for another audience, though signed by the provider, is refused with oidc_token_invalid", async (t) => {
    if (!browser) return t.skip();
    tamperAudience = "another-client";
    try {
      const context = await newContext();
      await refusedWith(context, "oidc_token_invalid", async () => (await signIn(context, "alice")).page);
      await context.close();
    } finally {
      tamperAudience = undefined;
    }
  });

  it("an identity no operator has is refused with oidc_operator_unknown, and audited", async (t) => {
    if (!browser) return t.skip();
    const context = await newContext();
    await refusedWith(context, "oidc_operator_unknown", async () => (await signIn(context, "mallory")).page);
    const events = host.cli("audit", "tail", "-n", "10").json as Array<{ action: string; data: Record<string, unknown> }>;
    expect(events.find((e) => e.action === "console.oidc_refused")?.data).toMatchObject({ value: "mallory@example.com" });
    await context.close();
  });
});
