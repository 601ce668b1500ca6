// What the REST surface is built from: the services it calls, its settings, and the fields each
// request carries from one hook to the next (declared once on fastify's request type).
import type { Caller, CommandInfo } from "../../sdk/context.js";
import type { AccessLog } from "../../sdk/system/access-log.js";
import type { AuthService, ConsoleService, SecurityService } from "../../sdk/system/services.js";
import type { Settings } from "./settings.js";
import type { Traffic } from "./traffic.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The client address the security check used. */
    wardenClient: string;
    wardenLimit: { limit: number; remaining: number; reset: number } | null | undefined;
    /** Who made the request, for the access log: a token id or console:<session>. */
    wardenToken: string;
    /** The revocation epoch the security check read (fleet). */
    wardenEpoch: string | undefined;
    /** A console session already verified for this request (by the lockdown check). */
    wardenSession: { id: string; scopes: string[]; operator?: string; bind?: string[] } | undefined;
  }
}

/** The api module's settings (its module.json's `config`). */
export type ApiSettings = Settings;

export interface ApiDeps {
  settings: () => ApiSettings;
  security: SecurityService;
  auth: Pick<AuthService, "verify" | "noteUse" | "cli">;
  dispatch(call: { command: string; input: unknown; caller: Caller }): Promise<unknown>;
  catalogue(): Promise<CommandInfo[]>;
  version: string;
  /** Undefined when ready; otherwise what is not. */
  ready(): Promise<string | undefined>;
  log(level: "info" | "warn" | "error", msg: string, data?: Record<string, unknown>): void;
  /** The host's access log (one prebuilt line per request), when it offers one; else lines go through log(). */
  access?: AccessLog;
  /** The console's files (the api module's console/ folder). */
  consoleDir: string;
  /** Console sessions (the console module's service), when it is active. */
  console?: Pick<ConsoleService, "login" | "loginWithToken" | "verify" | "logout" | "oidc">;
  /** Requests and errors per second, for the console's chart. */
  traffic: Traffic;
}
