// What an operator approves: the id with the hash `module inspect` shows awaiting approval.
import type { Host } from "../../core/host.js";

export async function approval(h: Host, id: string): Promise<{ id: string; hash: string; version: string }> {
  const m = (await h.run("module.inspect", { id })) as {
    staged_upgrade: { version: string; hash: string } | null;
    pending_approval: { version: string; hash: string } | null;
    version: string;
    manifestHash: string;
  };
  const t = m.staged_upgrade ?? m.pending_approval ?? { version: m.version, hash: m.manifestHash };
  return { id, hash: t.hash, version: t.version };
}
