// Console sign-in with the identity provider (the console module's OpenID Connect login): the login
// page asks whether it is set up, /start sends the browser to the provider with a state cookie of
// its own (SameSite=Lax: the provider's redirect back is a cross-site navigation), and /callback
// opens a session only for the browser that started the sign-in. A refusal goes back to the login
// page with its code (never a JSON page in the browser), and counts as a failed authentication.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ApiDeps } from "./deps.js";
import { setCookie } from "./console-routes.js";
import { loggedPublicError, sendError } from "./errors.js";

const STATE_COOKIE = "warden_oidc";

function stateCookie(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== "string") return undefined;
  const found = header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${STATE_COOKIE}=`));
  const [only, ...more] = found;
  return only !== undefined && more.length === 0 ? only.slice(STATE_COOKIE.length + 1) : undefined; // two: someone planted one
}

function setStateCookie(reply: FastifyReply, value: string, https: boolean): void {
  reply.header("Set-Cookie", `${STATE_COOKIE}=${value}; Path=/console/oidc; HttpOnly; SameSite=Lax; Max-Age=${value ? 600 : 0}${https ? "; Secure" : ""}`);
}

export function registerOidcRoutes(app: FastifyInstance, deps: ApiDeps, https: boolean): void {
  const sessions = () => (deps.settings().console ? deps.console : undefined);
  const back = (reply: FastifyReply, code: string) => reply.redirect(`/console/?error=${encodeURIComponent(code)}`, 303);

  app.get("/console/oidc", async (_req, reply) => {
    const s = sessions();
    if (!s) return sendError(reply, { code: "not_found", message: "the console is off on this host" }, 404);
    return { enabled: s.oidc.enabled(), start: "/console/oidc/start" };
  });

  app.get("/console/oidc/start", async (req, reply) => {
    const s = sessions();
    if (!s) return back(reply, "module_unavailable");
    try {
      const { url, state } = await s.oidc.start(req.wardenClient);
      setStateCookie(reply, state, https);
      return reply.redirect(url, 303);
    } catch (e) {
      const pub = loggedPublicError(e, deps.log, "console sign-in start");
      if (pub.code !== "internal") deps.log("info", "console sign-in could not start", { code: pub.code, reason: pub.message });
      return back(reply, pub.code);
    }
  });

  app.get("/console/oidc/callback", async (req, reply) => {
    const s = sessions();
    if (!s) return back(reply, "module_unavailable");
    const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
    try {
      const opened = await s.oidc.finish(query.slice(0, 4096), stateCookie(req), req.wardenClient);
      // Both cookies in one header list: the session's, and the spent state's removal.
      setCookie(reply, opened.cookie, https);
      reply.header("Set-Cookie", [reply.getHeader("Set-Cookie") as string, `${STATE_COOKIE}=; Path=/console/oidc; HttpOnly; SameSite=Lax; Max-Age=0${https ? "; Secure" : ""}`]);
      return reply.redirect("/console/", 303);
    } catch (e) {
      const pub = loggedPublicError(e, deps.log, "console sign-in");
      // The browser only sees the code on the login page: the log keeps what happened.
      if (pub.code !== "internal") deps.log("info", "console sign-in refused", { code: pub.code, reason: pub.message, client: req.wardenClient });
      if (pub.code !== "oidc_unavailable" && pub.code !== "internal" && pub.code !== "rate_limited") await deps.security.recordFailure(req.wardenClient);
      return back(reply, pub.code);
    }
  });
}
