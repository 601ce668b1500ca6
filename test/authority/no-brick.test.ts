// An operator cannot brick the host by accident: revoking what a system module runs on is refused
// with what would break (or needs force, which says it); `module approve` gives it back; readiness
// says REST cannot dispatch while it cannot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approval } from "../helpers/approval.js";
import { serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
let token: string;
beforeAll(async () => {
  s = await serveHost();
  token = (await s.grant("reader", ["hello.*"])).token;
}, 60_000);
afterAll(async () => {
  await s?.close();
});

const greet = () =>
  fetch(new URL("/api/v1/hello/greet", s.base), { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
const ready = async () => (await fetch(new URL("/api/v1/health/ready", s.base))).status;

describe("no one-click way to break the host", () => {
  it("revoking commands.dispatch from the api module is refused with what would break", async () => {
    await expect(s.host.run("module.revoke", { id: "api", capability: "commands.dispatch" })).rejects.toMatchObject({
      code: "capability_required",
      message: expect.stringMatching(/system module.*commands\.dispatch.*--force.*module approve api/s),
    });
    expect((await greet()).status).toBe(200);
    expect(await ready()).toBe(200);
  });

  it("with force it is revoked; readiness then says REST cannot dispatch; module approve gives it back", async () => {
    await s.host.run("module.revoke", { id: "api", capability: "commands.dispatch", force: true });
    expect((await greet()).status).toBe(403);
    expect(await ready()).toBe(503);
    await s.host.run("module.approve", await approval(s.host, "api"));
    expect((await greet()).status).toBe(200); // still serving
    expect(await ready()).toBe(200);
  });

  it("a user module's capability is revoked without force (that is what revoke is for), and approve restores it too", async () => {
    await s.host.run("module.revoke", { id: "hello", capability: "commands.register" });
    await s.host.run("module.approve", await approval(s.host, "hello"));
    const inspected = (await s.host.run("module.inspect", { id: "hello" })) as { revoked: string[] };
    expect(inspected.revoked).toEqual([]);
  });
});
