// Attack (from a review): /console/oidc/start is anonymous and each call keeps a pending sign-in
// for ten minutes; one client filling every slot would lock all operators out of SSO. Each client
// address has its share (MAX_PENDING_PER_CLIENT); others still sign in.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonValue, StorageApi } from "../../sdk/context.js";
import { MAX_PENDING, OidcLogin, type OidcSettings } from "../../modules/console/oidc.js";

function memoryStorage(): StorageApi {
  const data = new Map<string, JsonValue>();
  return {
    get: async (k) => structuredClone(data.get(k)) as never,
    set: async (k, v) => void data.set(k, structuredClone(v)),
    delete: async (k) => data.delete(k),
    list: async (prefix = "", limit = 1000) =>
      [...data.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .slice(0, limit),
  };
}

let idp: Server;
let settings: OidcSettings;
beforeAll(async () => {
  idp = createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, response_types_supported: ["code"] }));
  });
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  settings = { issuer, clientId: "c", claim: "email", secret: undefined, redirectUri: "http://127.0.0.1:1/console/oidc/callback" };
});
afterAll(() => idp?.close());

describe("OIDC start flood", () => {
  it("one client cannot take every pending sign-in slot", async () => {
    const login = new OidcLogin(memoryStorage(), Date.now);
    let refused = 0;
    for (let i = 0; i < MAX_PENDING + 10; i++) {
      try {
        await login.start(settings, "203.0.113.66");
      } catch {
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0); // the flooding client is capped somewhere
    // An operator from elsewhere can still start a sign-in.
    await expect(login.start(settings, "198.51.100.7")).resolves.toHaveProperty("url");
  }, 60_000);
});
