// The operator console's routes: its page and fingerprinted files, and the session plumbing (the
// one-time login URL, token login, logout). Everything else the page does is an ordinary command
// call to /api/v1/<module>/<command>, authenticated by the session cookie (see server.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { matchesAny } from "../../sdk/patterns.js";
import { loggedPublicError, sendError, type ApiErrorFields } from "./errors.js";
import { loadConsoleAssets } from "./console-assets.js";
import type { ApiDeps } from "./deps.js";

/**
 * The session cookie's name. Over TLS it is a `__Host-` cookie: the browser then refuses one set by
 * any other origin, another port of this host included (cookies are not separated by port). Over
 * plain HTTP nothing can stop a server on another port of the same host from planting one: run the
 * console alone on its host name, or over TLS.
 */
export function sessionCookieName(https: boolean): string {
  return https ? "__Host-warden_session" : "warden_session";
}
/** Sent by the console's own requests: a cross-origin page cannot add it without a CORS preflight we refuse. */
export const CONSOLE_HEADER = "x-warden-console";

/** The CSP of the console's page: its own scripts and styles only, nothing inline, no frames. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The session cookie's value, when the request carries exactly one well-formed one. */
export function sessionCookie(req: FastifyRequest, https: boolean): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== "string") return undefined;
  const name = sessionCookieName(https);
  let found: string | undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined; // two: someone planted one
    found = part.slice(eq + 1).trim();
  }
  return found;
}

export function setCookie(reply: FastifyReply, value: string, https: boolean, clear = false): void {
  reply.header("Set-Cookie", `${sessionCookieName(https)}=${clear ? "" : value}; Path=/; HttpOnly; SameSite=Strict${https ? "; Secure" : ""}${clear ? "; Max-Age=0" : ""}`);
}

export function registerConsoleRoutes(app: FastifyInstance, deps: ApiDeps, https: boolean): void {
  // Read on the first console request, not at every server start (the console is often off).
  let assets: ReturnType<typeof loadConsoleAssets> | undefined;
  const files = () => (assets ??= loadConsoleAssets(deps.consoleDir));
  const off = (reply: FastifyReply) =>
    sendError(reply, { code: "not_found", message: "the console is off on this host; turn it on with `warden config set api.console true` and restart `warden serve`" }, 404);
  /** The console service when the console is on (api.console, and the console module active). */
  const on = () => (deps.settings().console ? deps.console : undefined);
  const failure = (e: unknown, where: string): ApiErrorFields => loggedPublicError(e, deps.log, `console ${where}`);

  app.get("/console", (_req, reply) => (on() ? reply.redirect("/console/", 301) : off(reply)));
  app.get("/console/", (_req, reply) => {
    if (!on()) return off(reply);
    return reply.code(200).type("text/html; charset=utf-8").send(files().page);
  });
  app.get<{ Params: { file: string } }>("/console/assets/:file", (req, reply) => {
    if (!on()) return off(reply);
    const asset = files().files.get(req.params.file);
    if (!asset) return sendError(reply, { code: "not_found", message: "no such console file; reload the console page" }, 404);
    reply.header("Cache-Control", "public, max-age=31536000, immutable");
    return reply.code(200).type(asset.type).send(asset.body);
  });

  // The one-time URL `warden console` prints: the code is spent here, once, for a session cookie.
  app.get<{ Querystring: { code?: string } }>("/console/login", async (req, reply) => {
    const sessions = on();
    if (!sessions) return off(reply);
    // Only a URL the operator opened themselves (typed, pasted, or from this console): a page
    // elsewhere sending the browser here would swap the operator's session for one it chose.
    const site = req.headers["sec-fetch-site"];
    if (site === "cross-site" || site === "same-site") return reply.redirect("/console/?error=cross_site_login", 303);
    try {
      const opened = await sessions.login(String(req.query.code ?? ""), req.wardenClient);
      setCookie(reply, opened.cookie, https);
      return reply.redirect("/console/", 303);
    } catch (e) {
      const pub = failure(e, "login");
      if (pub.code === "login_code_invalid") await deps.security.recordFailure(req.wardenClient);
      return reply.redirect(`/console/?error=${encodeURIComponent(pub.code)}`, 303);
    }
  });

  // A REST token whose scopes include console.login opens a session with those scopes.
  app.post<{ Body: { token?: unknown } }>("/console/login", async (req, reply) => {
    const sessions = on();
    if (!sessions) return off(reply);
    const token = req.body?.token;
    if (typeof token !== "string" || token.length === 0 || token.length > 512)
      return sendError(reply, { code: "input_invalid", message: 'send {"token": "<a REST token with the console.login scope>"}' });
    let identity;
    try {
      identity = await deps.auth.verify(token, req.wardenClient, req.wardenEpoch);
    } catch (e) {
      const pub = failure(e, "token login");
      // Busy (this client's fair share of argon2 is taken) is not a failed authentication.
      if (pub.code !== "rate_limited" && pub.code !== "internal") await deps.security.recordFailure(req.wardenClient);
      return sendError(reply, pub);
    }
    if (identity.bootstrap) return sendError(reply, { code: "bootstrap_token_rejected", message: "the bootstrap token is for local tooling only; use `warden console` for a login URL" });
    if (!matchesAny(identity.scopes, "console.login")) return sendError(reply, { code: "forbidden", message: "this token may not open the console: it needs a scope matching 'console.login'" });
    try {
      const { tokenId, scopes, operator, bind } = identity;
      const opened = await sessions.loginWithToken({ tokenId, scopes, ...(operator !== undefined ? { operator } : {}), ...(bind !== undefined ? { bind } : {}) }, req.wardenClient);
      setCookie(reply, opened.cookie, https);
      return { session: opened.record.id };
    } catch (e) {
      return sendError(reply, failure(e, "token login"));
    }
  });

  app.post("/console/logout", async (req, reply) => {
    const sessions = on();
    if (!sessions) return off(reply);
    const cookie = sessionCookie(req, https);
    if (cookie) {
      try {
        const session = await sessions.verify(cookie, req.wardenClient);
        await sessions.logout(session.id);
      } catch (e) {
        failure(e, "logout"); // already over: the cookie is cleared all the same
      }
    }
    setCookie(reply, "", https, true);
    return { logged_out: true };
  });
}
