// Revocation wins every race: with 50 requests of a token in flight (their argon2 verifications
// queued), `auth revoke` returns; every request that starts after that is refused, including
// while the verifications that began before it are still finishing (and would otherwise cache
// the token again for a minute).
import { afterEach, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "./helpers/api.js";

let s: ServingHost | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe("auth revoke during in-flight verifications", () => {
  it("refuses every request that starts after the revoke returned", async () => {
    s = await serveHost({ "security.rate_limit": 1_000_000, "security.failed_limit": 100_000 });
    const { id, token } = await s.grant("racer", ["hello.*"]);
    const base = s.base;
    const call = () => raw(base, { method: "POST", path: "/api/v1/hello/greet", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: '{"name":"x"}' });

    let pending = 0;
    const inFlight = Array.from({ length: 50 }, () => {
      pending++;
      return call().finally(() => pending--);
    });
    // Revoke once the first verification has finished (and been cached) and most are still queued.
    await Promise.race(inFlight);
    expect(pending).toBeGreaterThan(0);
    await s.host.run("auth.revoke", { ref: id });

    const after: Array<Promise<{ status: number; json: any }>> = [];
    while (pending > 0) {
      after.push(call());
      await new Promise((r) => setTimeout(r, 5));
    }
    after.push(call());
    const results = await Promise.all(after);
    expect(results.length).toBeGreaterThan(1);
    for (const r of results) {
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe("token_revoked");
    }
    // The ones already in flight may finish either way; none is left hanging.
    const before = await Promise.all(inFlight);
    for (const r of before) expect([200, 401]).toContain(r.status);
  }, 60_000);
});
