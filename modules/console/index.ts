// The console system module: owns console sessions (./sessions.ts). `warden console` (console.open)
// makes a one-time login URL for the serving host's console; the api module, which serves the
// console's files and exchanges the code for a cookie, verifies sessions through the `console`
// service. Everything a console page does is an ordinary command call made as the session.
import type { CallInfo, ModuleContext } from "../../sdk/context.js";
import { SessionStore, type Lineage, type SessionSettings, type TokenBond } from "./sessions.js";
import { WardenError, refusals } from "../../sdk/errors.js";
import type { ConsoleService } from "../../sdk/system/services.js";
import { RefusalNotes } from "../../sdk/system/bound-addresses.js";
import { oidcSignIn } from "./oidc-sign-in.js";

let stopListening: (() => void) | undefined;

export function deactivate() {
  stopListening?.();
  stopListening = undefined;
}

export async function activate(ctx: ModuleContext<SessionSettings>) {
  let settings = await ctx.config.get();
  await ctx.config.watch((s) => void (settings = s));
  const auth = ctx.services.use("auth");
  const principals = ctx.services.host("principals");
  const refused = new RefusalNotes();
  const sessions = new SessionStore(
    ctx.storage,
    () => settings,
    {
      credential: (id) => auth.credential(id),
      ended: (id, reason) => ctx.audit.record("console.end", `console:${id}`, { reason }),
      operatorExists: (name) => principals?.permissionsOf(name) !== undefined,
      addressRefused: async (record, client) => {
        if (refused.note(record.id, client, auth.now())) await ctx.audit.record("console.address_refused", `console:${record.id}`, { client, bind: record.bind ?? [] });
      },
    },
    () => auth.now(),
  );
  // A removed operator's sessions end at once (every host reads sessions from storage per request).
  stopListening = principals?.onRemoved((name) => sessions.endOperator(name));
  let address: string | undefined;

  /** The token a caller stands on now (a session's own bond, a token's current credential). */
  const bondOf = async (tokenId: string): Promise<TokenBond> => {
    const credential = await auth.credential(tokenId);
    if (!credential) throw new WardenError("token_revoked", `token ${tokenId} was revoked or has expired; use a live token, or ask an operator for one (\`warden auth grant\`)`);
    return { id: tokenId, credential };
  };

  const service: ConsoleService = {
    oidc: oidcSignIn(ctx, sessions, {
      settings: () => settings,
      address: () => address,
      operatorOf: (claim, value) => principals?.byClaim(claim, value),
      permissionsOf: (name) => principals?.permissionsOf(name),
      now: () => auth.now(),
    }),
    setAddress: (url) => void (address = url),
    async login(code, client) {
      const opened = await sessions.login(code, client);
      await ctx.audit.record("console.login", `console:${opened.record.id}`, { via: opened.record.via, scopes: opened.record.scopes, client });
      return opened;
    },
    async loginWithToken(token, client) {
      const opened = await sessions.openForToken(await bondOf(token.tokenId), token.scopes, client, {
        ...(token.operator !== undefined ? { operator: token.operator } : {}),
        ...(token.bind !== undefined ? { bind: token.bind } : {}),
      });
      await ctx.audit.record("console.login", `console:${opened.record.id}`, { via: opened.record.via, scopes: opened.record.scopes, client });
      return opened;
    },
    verify: (cookie, client) => sessions.verify(cookie, client),
    async logout(id) {
      if (await sessions.end(id)) await ctx.audit.record("console.logout", `console:${id}`, {});
    },
  };
  ctx.services.provide("console", service);

  ctx.commands.register("open", async (_input, call: CallInfo) => {
    if (!address) {
      throw new WardenError("module_unavailable", "no host serving this home shows the console; start one with `warden serve` and `warden config set api.console true` (and api.enabled true)");
    }
    // The session gets the scopes of whoever asks, and dies with the token behind it.
    const c = call.caller;
    if (c.kind === "module") throw new WardenError("forbidden", "a module cannot open console sessions; an operator runs `warden console`");
    // A session's login URL is derived from it: its principal, bond and deadline, and it as parent.
    let token: TokenBond | undefined;
    let lineage: Lineage = { principal: "operator:local" };
    if (c.kind === "token") {
      token = await bondOf(c.tokenId);
      lineage = { principal: `token:${c.tokenId}`, ...(c.operator !== undefined ? { operator: c.operator } : {}), ...(c.bind !== undefined ? { bind: c.bind } : {}) };
    }
    if (c.kind === "session") {
      const parent = await sessions.recordOf(c.sessionId);
      if (!parent) throw new WardenError("session_expired", "this console session has ended; log in again");
      token = parent.token;
      lineage = {
        principal: parent.principal ?? `console:${parent.id}`,
        ...(parent.operator !== undefined ? { operator: parent.operator } : {}),
        ...(parent.bind !== undefined ? { bind: parent.bind } : {}),
        parent,
      };
    }
    const scopes = c.kind === "operator" ? ["*"] : [...c.scopes];
    const by = c.kind === "operator" ? "operator:local" : c.kind === "token" ? `token:${c.tokenId}` : `console:${c.sessionId}`;
    // Audited before the code exists: if the event cannot be written, no login URL is issued.
    await ctx.audit.record("console.code", "console", { scopes, by }, call);
    const issued = await sessions.issueCode(scopes, by, lineage, token);
    return { url: `${address}/console/login?code=${issued.code}`, expires_at: issued.expires_at, scopes, note: "open it once in a browser; it works for one login only" };
  });
  ctx.commands.register("sessions", () => sessions.list());
  ctx.commands.register("revoke", async ({ id }: { id: string }, call: CallInfo) => {
    if (!(await sessions.recordOf(id))) throw refusals.sessionNotFound(id);
    // Audited first: if the event cannot be written, the session is not ended (audit_failed says so).
    await ctx.audit.record("console.revoke", `console:${id}`, {}, call);
    await sessions.end(id);
    return { revoked: id };
  });
  ctx.commands.register("whoami", async (_input, call: CallInfo) => {
    const c = call.caller;
    if (c.kind !== "session") return { kind: c.kind };
    const mine = (await sessions.list()).find((s) => s.id === c.sessionId);
    return { kind: "session", id: c.sessionId, scopes: c.scopes, operator: c.operator ?? null, idle_expires_at: mine?.idle_expires_at ?? null, idle_minutes: settings.idle_minutes };
  });
}
