// Console sign-in with OpenID Connect (openid-client): the authorization code flow with PKCE (S256),
// state and nonce, the ID token verified with the issuer's published keys (signature, iss, aud,
// exp, nonce). The operator is the one whose `console.oidc.claim` (email, or sub) the ID token
// carries; nobody else gets in, whatever the identity provider says about them.
//
// A sign-in's state, nonce and PKCE verifier are kept in this module's storage (shared by a fleet:
// start on one host, come back to another) under a digest of the state, for ten minutes, spent
// once; the browser holds the state in a cookie too, so a callback URL pasted into another browser
// (login CSRF) opens nothing. At most MAX_PENDING sign-ins wait at once.
import { createHash } from "node:crypto";
import * as oidc from "openid-client";
import type { StorageApi } from "../../sdk/context.js";
import { WardenError } from "../../sdk/errors.js";
import { isLoopbackHost } from "../../sdk/system/bound-addresses.js";

const PENDING = "oidc:";
const PENDING_MS = 10 * 60_000;
export const MAX_PENDING = 256;
/** And per client address: one client cannot take every slot (and so everyone's sign-in). */
export const MAX_PENDING_PER_CLIENT = 8;

export interface OidcSettings {
  issuer: string;
  clientId: string;
  claim: "email" | "sub";
  secret: string | undefined;
  redirectUri: string;
}

type Pending = { verifier: string; nonce: string; expires_at: string; client: string };

const digest = (s: string) => createHash("sha256").update(s).digest("hex");

/** Plain HTTP only to an issuer on loopback (a test's, a local one); anything else must be https. */
function insecureAllowed(issuer: URL): boolean {
  return issuer.protocol === "http:" && isLoopbackHost(issuer.hostname);
}

export class OidcLogin {
  readonly #storage: StorageApi;
  readonly #now: () => number;
  #discovered: { key: string; config: Promise<oidc.Configuration> } | undefined;

  constructor(storage: StorageApi, now: () => number) {
    this.#storage = storage;
    this.#now = now;
  }

  async #config(s: OidcSettings): Promise<oidc.Configuration> {
    const key = `${s.issuer}\0${s.clientId}\0${s.secret ?? ""}`;
    if (this.#discovered?.key !== key) {
      let issuer: URL;
      try {
        issuer = new URL(s.issuer);
      } catch {
        throw new WardenError("oidc_unavailable", `console.oidc.issuer '${s.issuer.slice(0, 200)}' is not a URL`);
      }
      if (issuer.protocol !== "https:" && !insecureAllowed(issuer)) throw new WardenError("oidc_unavailable", "console.oidc.issuer must be an https URL (plain HTTP only on loopback)");
      const config = oidc
        .discovery(issuer, s.clientId, s.secret, s.secret === undefined ? oidc.None() : oidc.ClientSecretPost(s.secret), insecureAllowed(issuer) ? { execute: [oidc.allowInsecureRequests] } : {})
        .catch((e: unknown) => {
          this.#discovered = undefined; // tried again on the next sign-in
          throw new WardenError("oidc_unavailable", `the identity provider at ${s.issuer} could not be read (${(e as Error).message})`);
        });
      this.#discovered = { key, config };
    }
    return this.#discovered.config;
  }

  /** Where to send the browser, and the state its cookie keeps. */
  async start(s: OidcSettings, client: string): Promise<{ url: string; state: string }> {
    const config = await this.#config(s);
    const waiting = await this.#prune();
    if (waiting.length >= MAX_PENDING) throw new WardenError("rate_limited", `${MAX_PENDING} sign-ins are under way; try again in a few minutes`);
    if (waiting.filter((c) => c === client.slice(0, 100)).length >= MAX_PENDING_PER_CLIENT)
      throw new WardenError("rate_limited", `this address has ${MAX_PENDING_PER_CLIENT} sign-ins under way; finish one, or wait ten minutes`);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const pending: Pending = { verifier, nonce, expires_at: new Date(this.#now() + PENDING_MS).toISOString(), client: client.slice(0, 100) };
    await this.#storage.set(`${PENDING}${digest(state)}`, pending);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: s.redirectUri,
      scope: s.claim === "email" ? "openid email" : "openid",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { url: url.href, state };
  }

  /** The callback: the operator's claim value, once state, code and ID token all check out. */
  async finish(s: OidcSettings, callback: URL, cookieState: string | undefined): Promise<{ claim: "email" | "sub"; value: string }> {
    const state = callback.searchParams.get("state") ?? "";
    if (callback.searchParams.get("error")) throw new WardenError("oidc_refused", `the identity provider refused the sign-in: ${callback.searchParams.get("error")?.slice(0, 100)}`);
    if (!state || !cookieState || state !== cookieState)
      throw new WardenError("oidc_state_invalid", "this sign-in did not start in this browser (its state does not match); start again from the console's login page");
    const key = `${PENDING}${digest(state)}`;
    const pending = (await this.#storage.get(key)) as Pending | undefined;
    // Deleted first: a state is spent once, whatever happens next.
    if (!pending || !(await this.#storage.delete(key))) throw new WardenError("oidc_state_invalid", "this sign-in is not known or was already used; start again from the console's login page");
    if (Date.parse(pending.expires_at) <= this.#now()) throw new WardenError("oidc_state_invalid", "this sign-in took longer than ten minutes; start again");
    const config = await this.#config(s);
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
      const id = tokens.claims();
      if (!id) throw new WardenError("oidc_token_invalid", "the identity provider sent no ID token");
      claims = id;
      // Many providers put email in the UserInfo answer, not the ID token: asked for the same subject.
      if (claims[s.claim] === undefined) claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, id.sub)), sub: id.sub };
    } catch (e) {
      throw e instanceof WardenError ? e : refusalOf(e);
    }
    const value = claims[s.claim];
    if (typeof value !== "string" || value === "") throw new WardenError("oidc_token_invalid", `the ID token carries no '${s.claim}' claim (console.oidc.claim)`);
    if (s.claim === "email" && claims.email_verified === false) throw new WardenError("oidc_token_invalid", `the identity provider has not verified ${value}`);
    return { claim: s.claim, value };
  }

  /** The clients of the sign-ins under way (expired ones deleted on the way). */
  async #prune(): Promise<string[]> {
    const waiting: string[] = [];
    for (const key of await this.#storage.list(PENDING, MAX_PENDING * 2)) {
      const p = (await this.#storage.get(key)) as Pending | undefined;
      if (!p || Date.parse(p.expires_at) <= this.#now()) await this.#storage.delete(key);
      else waiting.push(p.client);
    }
    return waiting;
  }
}

/** openid-client's refusal as one of ours: a code used or not ours, or an ID token that does not verify. */
function refusalOf(e: unknown): WardenError {
  if (e instanceof oidc.ResponseBodyError) {
    return new WardenError(
      e.error === "invalid_grant" ? "oidc_code_invalid" : "oidc_refused",
      `the identity provider refused the code: ${e.error}${e.error_description ? ` (${e.error_description.slice(0, 200)})` : ""}`,
    );
  }
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err.code === "string" && err.code.startsWith("OAUTH_")) return new WardenError("oidc_token_invalid", `the ID token does not verify: ${String(err.message).slice(0, 200)}`);
  return new WardenError("oidc_unavailable", `the identity provider could not be reached: ${String(err.message ?? e).slice(0, 200)}`);
}
