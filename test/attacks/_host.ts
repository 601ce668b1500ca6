// Shared set-up for the attack suites: a host with the real system modules and throwaway user
// modules written from specs, sandboxed unless asked otherwise.
import { Host } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { approval } from "../helpers/approval.js";
import { tempDir, writeModule, type ModuleSpec } from "../helpers/modules.js";
import { testHost } from "../helpers/host.js";

export const open = { type: "object", additionalProperties: true } as const;

export async function attackHost(specs: ModuleSpec[], o: { inProcess?: boolean; home?: string } = {}): Promise<{ host: Host; home: string; root: string }> {
  const root = tempDir("warden-atk-mods-");
  for (const s of specs) writeModule(root, s);
  const home = o.home ?? tempDir("warden-atk-home-");
  const host = await testHost({ home, modulePaths: [root], logger: silentLogger(), ...(o.inProcess ? { userRuntime: "inprocess" as const } : {}) });
  await host.activateAll(["system"]);
  return { host, home, root };
}

export async function approve(host: Host, id: string): Promise<void> {
  await host.run("module.approve", await approval(host, id));
}

export async function auditTail(host: Host, n = 500): Promise<Array<{ actor: string; action: string; target?: string; data?: any }>> {
  return (await host.kernel.audit.tail(n)) as Array<{ actor: string; action: string; target?: string; data?: any }>;
}

/** Module code helper: a command per attempt returning "ok" or the error code. */
export const tryAll = `
async function attempt(fn) {
  try { const v = await fn(); return { ok: true, v: v === undefined ? null : v }; }
  catch (e) { return { ok: false, code: e && e.code, message: e && String(e.message).slice(0, 300) }; }
}
`;
