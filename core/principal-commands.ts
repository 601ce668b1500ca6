// The host commands of the operators: `operator add|list|remove` and `role list`. Adding or
// removing an operator is the effect `principal.manage` (permission `operators.manage`) by every
// path; no module holds that capability, whomever it acts for. And nobody hands out more than they
// hold: a token or session may give an operator only roles within its own scopes and its own
// operator's permissions (the home's holder, `operator:local`, is not limited).
import { HostError } from "./base/errors.js";
import type { HostCommand, HostCommandDeps } from "./host-commands.js";
import { allRoles, permissionsOf } from "./principals/roles.js";

const none = { type: "object", properties: {}, additionalProperties: false };

export function operatorCommands(deps: HostCommandDeps): Record<string, HostCommand> {
  const { bus, config } = deps;
  const operators = () => deps.loader.kernel.principals;
  return {
    add: {
      description: "Add an operator with roles, or give an operator other roles (`warden role list` shows them)",
      input: {
        type: "object",
        properties: {
          name: { type: "string", minLength: 1, maxLength: 64, description: "the operator's name; audit events show operator:<name>" },
          role: {
            type: "array",
            minItems: 1,
            maxItems: 16,
            items: { type: "string", minLength: 1, maxLength: 32 },
            description: "a role (repeat, or a,b): viewer, operator, approver, admin, or a custom one",
          },
          email: { type: "string", minLength: 3, maxLength: 257, description: "the email the identity provider vouches for, when console.oidc.claim is email" },
          subject: { type: "string", minLength: 1, maxLength: 255, description: "the identity provider's subject (sub), when console.oidc.claim is sub" },
        },
        required: ["name", "role"],
        additionalProperties: false,
      },
      args: ["name"],
      permission: "operators.manage",
      run: async (input, call) => {
        const { name, role, email, subject } = input as { name: string; role: string[]; email?: string; subject?: string };
        const auth = bus.authorize(call.caller, "principal.manage", { target: name });
        bus.checkHolds(call.caller, permissionsOf(role, config.get("roles.custom")), `giving ${name} these roles`);
        const added = await operators().add(name, role, { ...(email !== undefined ? { email } : {}), ...(subject !== undefined ? { subject } : {}) }, auth.actor);
        return { name: added.name, roles: added.roles, permissions: operators().permissionsOf(added.name) ?? [], ...(added.replaced ? { replaced_roles: added.replaced } : {}) };
      },
    },
    list: {
      description: "List the operators with their roles",
      input: none,
      readOnly: true,
      permission: "operators.read",
      run: async () => ({
        ...(operators().problem ? { problem: operators().problem } : {}),
        operators: operators()
          .list()
          .map((op) => ({
            name: op.name,
            roles: op.roles,
            permissions: operators().permissionsOf(op.name) ?? [],
            email: op.email ?? null,
            subject: op.subject ?? null,
            addedBy: op.addedBy,
            addedAt: op.addedAt,
          })),
      }),
    },
    remove: {
      description: "Remove an operator: every token and console session of theirs ends, on every host",
      confirm: "remove an operator (their tokens and console sessions end at once)",
      input: { type: "object", properties: { name: { type: "string", minLength: 1, maxLength: 64, description: "the operator's name" } }, required: ["name"], additionalProperties: false },
      args: ["name"],
      permission: "operators.manage",
      run: async (input, call) => {
        const { name } = input as { name: string };
        const auth = bus.authorize(call.caller, "principal.manage", { target: name });
        if (call.caller.kind !== "operator" && call.caller.kind !== "module" && call.caller.operator === name)
          throw new HostError("forbidden", "an operator cannot remove themselves (it would end the session doing it); ask another admin, or use the home's CLI");
        return operators().remove(name, auth.actor);
      },
    },
  };
}

export function roleCommands(deps: HostCommandDeps): Record<string, HostCommand> {
  return {
    list: {
      description: "List the roles (built in, and custom ones from the setting roles.custom) with their permissions",
      input: none,
      readOnly: true,
      permission: "operators.read",
      run: async () => allRoles(deps.config.get("roles.custom")),
    },
  };
}
