// The bus's two-person gate over the settings and the requests: on at approvals.required 2; a
// filed request carries every permission its approver must hold (a setting's owner's too).
import { actorOf } from "../authority/actor.js";
import type { SecondOperatorGate } from "../commands/bus.js";
import type { ConfigService } from "../config/config-service.js";
import type { ApprovalRequests } from "./requests.js";

export function secondOperatorGate(config: ConfigService, approvals: ApprovalRequests): SecondOperatorGate {
  return {
    required: () => config.get("approvals.required"),
    current: (key) => config.read(key),
    file: async (call, what) => {
      const input = call.input as { key?: unknown; set?: unknown };
      const key = call.command === "config.set" ? input.key : call.command === "security.config" && typeof input.set === "string" ? `security.${input.set.split("=")[0]}` : undefined;
      // Authority belongs to the effect: a setting's approver needs its owner's permission (not
      // config.set, the entry point); installing with approval needs module.approve too.
      const effect = typeof key === "string" ? [config.permissionFor(key)] : call.command === "module.install" ? [...call.permissions, "module.approve"] : call.permissions;
      const permissions = [...new Set(effect)];
      const r = await approvals.file({ ...call, permissions, what, actor: actorOf(call.caller) });
      return {
        approval: "requested",
        id: r.id,
        what,
        expires_at: r.expires_at,
        next: `two-person approval is on: another operator holding ${permissions.join(", ")} approves it with \`warden approval approve ${r.id}\``,
      };
    },
  };
}
