// The auth system module: owns the AuthManager, keeps tokens in its own storage, writes the
// bootstrap token to <home>/bootstrap.token on the home's first initialisation, and offers
// verification to the REST surface as the `auth` service.
import type { CallInfo, ModuleContext } from "../../sdk/context.js";
import { AuthManager } from "./auth-manager.js";
import { FleetClock } from "./fleet-clock.js";
import { SharedEpoch } from "./shared-epoch.js";
import type { AuthService } from "../../sdk/system/services.js";
import { approverOf, boundedGrant, checkTargetWithin, type GrantInput } from "./principal.js";
import { CliSessions, inProcessLock } from "./cli-sessions.js";
import { revokeOperatorTokens } from "./token-records.js";
import { RefusalNotes } from "../../sdk/system/bound-addresses.js";

const BOOTSTRAP_FILE = "bootstrap.token";

let epoch: SharedEpoch | undefined;
let clock: FleetClock | undefined;
let stopListening: (() => void) | undefined;

export async function deactivate() {
  stopListening?.();
  stopListening = undefined;
  clock?.close();
  clock = undefined;
  await epoch?.close(); // closes the connection the clock reads too
  epoch = undefined;
}

export async function activate(ctx: ModuleContext) {
  // In a fleet, every revoke, rotate and reset moves the shared revocation epoch, so the other
  // hosts check their cached verifications against the store on their next request; and expiry is
  // judged by one clock, Redis's (./fleet-clock.ts), not each host's own. One connection for both.
  const redis = ctx.services.host("backend:redis");
  let now: () => number = Date.now;
  if (redis) {
    const conn = redis.connect("auth", { timeoutMs: 1000 });
    epoch = new SharedEpoch(conn, (e) => ctx.log.error("the shared revocation epoch could not be moved yet; retrying", { err: String(e) }));
    clock = new FleetClock(conn);
    await clock.sync().catch((e) => ctx.log.warn("the fleet's clock (Redis TIME) could not be read yet; this host's own clock counts until it can", { err: String(e) }));
    now = clock.now;
  }
  const principals = ctx.services.host("principals");
  const refusals = new RefusalNotes();
  const permissionsOf = (name: string) => principals?.permissionsOf(name);
  const auth = new AuthManager(ctx.storage, now, {
    fleet: redis !== undefined,
    operatorExists: (name) => principals?.permissionsOf(name) !== undefined,
    // A bound token used from elsewhere is audited (once a minute per token and address).
    onAddressRefused: (identity, client) => {
      if (!refusals.note(identity.tokenId, client, now())) return;
      ctx.audit
        .record("token.address_refused", identity.tokenId, { name: identity.name, client, bind: identity.bind ?? [] })
        .catch((e: unknown) => ctx.log.error("a refused address could not be audited", { err: String(e) }));
    },
  });
  const moved = async () => epoch?.bump();

  const issueBootstrap = async (call?: CallInfo) => {
    // Recorded before the token exists: if the audit chain cannot be written, no token is issued.
    // The actor is the host's record of the call (this module itself at first start).
    await ctx.audit.record("token.bootstrap", "admin", {}, call);
    const t = await auth.grant({ name: "admin", scopes: ["*"], bootstrap: true });
    const file = await ctx.home.writeSecretFile(BOOTSTRAP_FILE, t.token + "\n");
    await ctx.storage.set("bootstrap", { id: t.id, at: new Date().toISOString() });
    return { id: t.id, file };
  };

  // Once per home, or per fleet: hosts starting together on a fresh store take turns, and only the
  // first finds no bootstrap record.
  const once = async () => {
    if ((await ctx.storage.get("bootstrap")) === undefined) await issueBootstrap();
  };
  const lock = ctx.services.host("backend:lock");
  await (lock ? lock.exclusive("auth-bootstrap", once) : once());

  const cli = new CliSessions({
    storage: ctx.storage,
    auth,
    now,
    exclusive: lock ? (name, fn) => lock.exclusive(name, fn) : inProcessLock(),
    audit: (action, target, data) => ctx.audit.record(action, target, data),
    moved: async () => moved(),
    operatorExists: (name) => permissionsOf(name) !== undefined,
  });

  const manage = {
    // Each change is audited once it is checked and before it is written: if the event cannot be
    // written, the token is not granted, revoked or rotated (audit_failed says so).
    grant: async (o: GrantInput, call?: CallInfo) => auth.grant(boundedGrant(o, call, permissionsOf), (id, data) => ctx.audit.record("token.grant", id, data, call)),
    list: async () => (await auth.list()).map(({ bootstrap: _b, ...t }) => t),
    revoke: async (ref: string, call?: CallInfo) => {
      checkTargetWithin("revoke", await auth.describe(ref), call, permissionsOf);
      const r = await auth.revoke(ref, (id, data) => ctx.audit.record("token.revoke", id, data, call));
      await moved();
      return r;
    },
    rotate: async (ref: string, grace?: string, call?: CallInfo) => {
      checkTargetWithin("rotate", await auth.describe(ref), call, permissionsOf);
      const r = await auth.rotate(ref, grace, (id, data) => ctx.audit.record("token.rotate", id, data, call));
      await moved();
      return r;
    },
    reset: async (call?: CallInfo) => {
      // Audited before any token is revoked, like each single revoke.
      await ctx.audit.record("token.reset", "*", {}, call);
      const revoked = await auth.revokeAll();
      await moved();
      const b = await issueBootstrap(call);
      return { revoked, bootstrap_token_id: b.id, bootstrap_file: b.file };
    },
  };

  // A removed operator's tokens are revoked here at once; other hosts see it through the epoch.
  stopListening = principals?.onRemoved(async (name, actor) => {
    const families = await cli.revokeOperator(name);
    const n = await revokeOperatorTokens(auth, name, (id, data) => ctx.audit.record("token.revoke", id, { ...data, reason: "operator_removed", by: actor }));
    if (n) await moved();
    return n + families;
  });

  // For the REST surface (in-process): verification and usage notes. Other modules reach token
  // management only through this module's commands (ctx.auth.<command>, needs auth.manage).
  ctx.services.provide("auth", {
    verify: (token: string, client?: string, epoch?: string) => auth.verify(token, client, epoch),
    noteUse: (tokenId: string) => auth.noteUse(tokenId),
    credential: (tokenId: string) => auth.credential(tokenId),
    // The fleet's clock (Redis TIME in a fleet, this host's otherwise): console sessions' deadlines use it too.
    now,
    grant: (o: { name: string; scopes: string[] }) => manage.grant(o),
    argonRuns: () => auth.argonRuns,
    cli: {
      start: (client) => cli.start(client),
      token: (deviceCode, client) => cli.token(deviceCode, client),
      refresh: (refreshToken, client) => cli.refresh(refreshToken, client),
      logout: (refreshToken) => cli.logout(refreshToken),
    },
  } satisfies AuthService);

  ctx.commands.register("grant", (input: GrantInput, call) => manage.grant(input, call));
  ctx.commands.register("list", () => manage.list());
  ctx.commands.register("revoke", ({ ref }: { ref: string }, call) => manage.revoke(ref, call));
  ctx.commands.register("rotate", ({ ref, grace }: { ref: string; grace?: string }, call) => manage.rotate(ref, grace, call));
  ctx.commands.register("reset", (_input, call) => manage.reset(call));
  ctx.commands.register("pairing", ({ code }: { code: string }) => cli.describe(code));
  // A CLI session is its approver's: their operator, at most their scopes and bind.
  ctx.commands.register("pair", async ({ code }: { code: string }, call) => cli.approve(code, approverOf(call)));
}
