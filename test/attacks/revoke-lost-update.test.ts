// Invariant 4: a revoked token never works for a request that starts after revoke returns.
// Attack: AuthManager#touch (last_used_at / last_request_at bookkeeping, run by verify() and by
// noteUse() after every authenticated call) is a read-modify-write of the whole token record in
// the auth module's storage. A revoke that lands between its read and its write is overwritten
// with the stale, un-revoked record: the revocation is silently undone, durably.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Host } from "../../core/host.js";
import { attackHost } from "./_host.js";

let host: Host;
beforeAll(async () => {
  ({ host } = await attackHost([]));
}, 60_000);
afterAll(async () => host?.close());

interface AuthService {
  verify(token: string): Promise<{ tokenId: string }>;
  noteUse(tokenId: string): Promise<void>;
}

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await null;
};

describe("revoke racing the usage bookkeeping of an in-flight request", () => {
  // noteUse() is what the REST surface calls after every authenticated call it served.
  it("stays revoked when a served request's noteUse overlaps `auth revoke` (either one first)", async () => {
    const auth = host.kernel.services.get("auth") as unknown as AuthService;
    const resurrected: string[] = [];
    for (const order of ["revoke-first", "note-first"] as const) {
      for (let k = 0; k < 12; k++) {
        const { id, token } = (await host.run("auth.grant", { name: `race-${order}-${k}`, scopes: ["hello.*"] })) as { id: string; token: string };
        const revoke = async () => void (await host.run("auth.revoke", { ref: id }));
        const note = () => auth.noteUse(id);
        await Promise.allSettled(
          order === "revoke-first"
            ? [
                revoke(),
                (async () => {
                  await ticks(k);
                  await note();
                })(),
              ]
            : [
                note(),
                (async () => {
                  await ticks(k);
                  await revoke();
                })(),
              ],
        );
        // `auth revoke` has returned: this request starts afterwards and must be refused.
        const after = await auth.verify(token).then(
          () => "accepted",
          (e: { code?: string }) => e.code ?? "error",
        );
        if (after === "accepted") resurrected.push(`${order}+${k}`);
        const stored = JSON.parse((await host.kernel.store.storage.get("auth", `t:${id}`))!) as { revoked_at: string | null };
        if (stored.revoked_at === null) resurrected.push(`${order}+${k} (record un-revoked on disk)`);
      }
    }
    expect(resurrected, "revoked tokens accepted again after `auth revoke` returned").toEqual([]);
  }, 120_000);
});
