// Where a host keeps its state, and the checks that keep another local user out of it: the home
// must belong to whoever runs the host (a home planted by someone else, e.g. in a shared /tmp,
// is refused) and is made owner-only. Development sessions get a home under the user's own state
// directory, never a predictable shared path.
import { lstatSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { HostError } from "./errors.js";

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
