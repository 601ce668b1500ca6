// Where a host keeps its state, and the checks that keep another local user out of it: the home
// must belong to whoever runs the host (a home planted by someone else, e.g. in a shared /tmp,
// is refused) and is made owner-only. Development sessions get a home under the user's own state
// directory, never a predictable shared path.
import { lstatSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { HostError } from "./errors.js";

/**
 * Every file and folder a host keeps in its home, named in one place. A module's
 * home.writeSecretFile may write none of the host's own (HOST_FILES) but the bootstrap token,
 * which the auth module writes.
 */
export function homeLayout(home: string) {
  return {
    home,
    /** The SQLite store (a fleet's is PostgreSQL; then this file holds only `fleet.store`). */
    store: join(home, "system.brain"),
    /** The audit chain's head (and `<head>.tmp`, the next one prepared). */
    auditHead: join(home, "audit.head"),
    secretKey: join(home, "secret.key"),
    controlSocket: join(home, "control.sock"),
    controlToken: join(home, "control.token"),
    bootstrapToken: join(home, "bootstrap.token"),
    logs: join(home, "logs"),
    hostLog: join(home, "logs", "host.log"),
    securityLog: join(home, "logs", "security.log"),
    /** Installed user modules (one folder each). */
    modules: join(home, "modules"),
    /** Where packs are unpacked before they are checked. */
    tmp: join(home, "tmp"),
  } as const;
}

/** The host's own names in a home: never written through a module's home.writeSecretFile. */
export const HOST_FILES = /^(system\.brain.*|secret\.key|audit\.head.*|audit\.key.*|control\.sock|control\.token|logs|modules|cache|tmp)$/;

/** Refuses a home that exists but is not a directory owned by this user. */
export function assertOwnHome(home: string): void {
  let st;
  try {
    st = lstatSync(home);
  } catch {
    return; // made fresh, by us, below
  }
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new HostError("usage", `home ${home} is not a directory (a link or a file is refused); give --home a folder of your own`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new HostError("usage", `home ${home} belongs to uid ${st.uid}, not to you (uid ${uid}); give --home a folder of your own`);
  }
}

function stateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "state"), "warden");
}

/** `$XDG_STATE_HOME/warden/<kind>/<id>` (default ~/.local/state/...), made 0700, kept between runs. */
export function userStateHome(kind: string, id: string): string {
  const dir = join(stateDir(), kind, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertOwnHome(dir);
  return dir;
}

/** A fresh, private home for one run (removed by the caller). */
export function freshStateHome(kind: string): string {
  const parent = join(stateDir(), kind);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  assertOwnHome(parent);
  return mkdtempSync(join(parent, "run-"));
}
