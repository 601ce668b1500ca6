// The console service's OpenID Connect sign-in: the settings it needs (refused with
// oidc_unavailable when they are not there), the login (./oidc.ts), and the session of the
// operator whose claim the verified ID token carries. Anyone else is refused and audited.
import type { ModuleContext } from "../../sdk/context.js";
import { WardenError } from "../../sdk/errors.js";
import type { ConsoleService } from "../../sdk/system/services.js";
import { OidcLogin, type OidcSettings } from "./oidc.js";
import type { SessionSettings, SessionStore } from "./sessions.js";

export interface OidcSignInDeps {
  settings(): SessionSettings;
  /** Where the console is served (the callback's default). */
  address(): string | undefined;
  operatorOf(claim: "email" | "sub", value: string): string | undefined;
  permissionsOf(name: string): string[] | undefined;
  now(): number;
}

export function oidcSignIn(ctx: ModuleContext<SessionSettings>, sessions: SessionStore, d: OidcSignInDeps): ConsoleService["oidc"] {
  const login = new OidcLogin(ctx.storage, d.now);
  const settingsNow = async (): Promise<OidcSettings> => {
    const s = d.settings();
    if (!s["oidc.issuer"] || !s["oidc.client_id"]) throw new WardenError("oidc_unavailable", "sign-in with an identity provider is not set up: set console.oidc.issuer and console.oidc.client_id");
    const address = d.address();
    const redirectUri = s["oidc.redirect_url"] || (address ? `${address}/console/oidc/callback` : "");
    if (!redirectUri) throw new WardenError("oidc_unavailable", "no host serves the console here, so there is no callback URL; set console.oidc.redirect_url");
    const secret = await ctx.secrets.get("oidc_client_secret");
    return { issuer: s["oidc.issuer"], clientId: s["oidc.client_id"], claim: s["oidc.claim"], secret, redirectUri };
  };
  return {
    enabled: () => d.settings()["oidc.issuer"] !== "" && d.settings()["oidc.client_id"] !== "",
    start: async (client) => login.start(await settingsNow(), client),
    async finish(query, cookieState, client) {
      const s = await settingsNow();
      // The callback as registered, with the provider's query: never the request's own Host header.
      const { claim, value } = await login.finish(s, new URL(`${s.redirectUri.split("?")[0]}${query}`), cookieState);
      const operator = d.operatorOf(claim, value);
      const scopes = operator !== undefined ? d.permissionsOf(operator) : undefined;
      if (operator === undefined || !scopes) {
        await ctx.audit.record("console.oidc_refused", "console", { claim, value, client });
        throw new WardenError(
          "oidc_operator_unknown",
          `no operator signs in as ${claim} '${value}'; an admin adds one with \`warden operator add NAME --role ROLE --${claim === "email" ? "email" : "subject"} ${value}\``,
        );
      }
      const opened = await sessions.openForOperator(operator, scopes, client);
      await ctx.audit.record("console.login", `console:${opened.record.id}`, { via: "oidc", operator, [claim]: value, client });
      return opened;
    },
  };
}
