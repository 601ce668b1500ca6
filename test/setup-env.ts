// Every test run keeps what Warden writes outside its homes (audit signing keys, dev homes) in a
// throwaway state directory, never in the user's own ~/.local/state.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

process.env.XDG_STATE_HOME ??= mkdtempSync(join(tmpdir(), "warden-test-state-"));
