// Admission: the security module's decision for the client (allow and deny lists, blocks, the
// lockdown, rate windows). Through a lockdown go only the console's own requests of a session that
// may lift it. What it lets through carries the client, its window and (fleet) the epoch read.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Decision } from "../../sdk/system/services.js";
import { matchesAny } from "../../sdk/patterns.js";
import { CONSOLE_HEADER, sessionCookie } from "./console-routes.js";
import type { ApiDeps } from "./deps.js";
import { loggedPublicError, sendError } from "./errors.js";
import { headerValue, loggedUrl } from "./request-text.js";

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a browser gets during a lockdown: what is going on, until when, and how it ends. No script. */
function lockdownPage(message: string, until: string | undefined): string {
  const when = until ? `until ${escape(until)} (UTC)` : "until an operator lifts it";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Locked down · Warden console</title></head><body>
<h1>This Warden host is locked down</h1>
<p>New sign-ins are refused ${when}.</p>
<p>${escape(message)}</p>
<p>It ends by itself at that time. An operator can end it sooner: from a console session opened before the lockdown (its banner has <strong>Unlock</strong>), or on the host with <code>warden security unlock</code>. Then open your login URL again (a new one from <code>warden console</code> if it has expired).</p>
</body></html>
`;
}

/** Resolves true when the request was refused (and answered); false when it may go on. */
export async function admit(deps: ApiDeps, https: boolean, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const client = deps.security.clientAddress(req.socket.remoteAddress ?? "unknown", headerValue(req.headers["x-forwarded-for"]));
  let decision = await deps.security.check(client);
  // A console session that may lift the lockdown is not locked out by it (consoleThroughLockdown);
  // logging in anew waits for the lockdown's end (or `warden security unlock`).
  if (!decision.allow && decision.code === "locked_down") decision = await consoleThroughLockdown(deps, https, req, client, decision);
  if (!decision.allow) {
    const { allow: _a, status, ...fields } = decision;
    // A limited response says so in the standard headers too.
    if (fields.code === "rate_limited" || fields.code === "blocked") {
      const limit = (decision as { limit?: number }).limit;
      if (limit !== undefined) reply.header("RateLimit-Policy", `${limit};w=60`);
      reply.header("RateLimit", `limit=${limit ?? 0}, remaining=0, reset=${fields.retry_after ?? 1}`);
    }
    // A browser opening the console (a login URL, the page) is shown what is going on, not JSON.
    if (fields.code === "locked_down" && req.method === "GET" && req.url.startsWith("/console") && String(req.headers.accept ?? "").includes("text/html")) {
      void reply.code(status).type("text/html; charset=utf-8").header("cache-control", "no-store").send(lockdownPage(fields.message, fields.locked_until));
      return true;
    }
    sendError(reply, fields, status);
    return true;
  }
  req.wardenClient = client;
  req.wardenLimit = decision.limit;
  req.wardenEpoch = decision.epoch;
  return false;
}

/**
 * Through a lockdown go only the console's own requests (its API calls, or its page and files: a
 * GET changes nothing) of a session that may lift it (`security.manage`), with no token of their
 * own. Blocks and windows are not checked for those: whoever may lift the lockdown may lift them.
 * A cookie that does not verify counts as a failed authentication.
 */
async function consoleThroughLockdown(deps: ApiDeps, https: boolean, req: FastifyRequest, client: string, refusal: Decision): Promise<Decision> {
  const own = req.headers[CONSOLE_HEADER] === "1" || (req.method === "GET" && (req.url === "/console/" || req.url.startsWith("/console/assets/")));
  if (!own || !deps.console || !deps.settings().console || req.headers.authorization !== undefined || req.headers["x-api-key"] !== undefined) return refusal;
  const cookie = sessionCookie(req, https);
  if (cookie === undefined) return refusal;
  try {
    const session = await deps.console.verify(cookie, client);
    if (!matchesAny(session.scopes, "security.manage")) return refusal;
    req.wardenSession = session;
    deps.log("info", "console session passed the lockdown", { session: session.id, client, url: loggedUrl(req.url) });
    return { allow: true, client };
  } catch (e) {
    loggedPublicError(e, deps.log, "console session check");
    await deps.security.recordFailure(client);
    return refusal;
  }
}
