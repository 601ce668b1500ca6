// The host commands of two-person approval: `approval list|approve|deny`. A protected change made
// while approvals.required is 2 is filed as a request (../core/commands/bus.ts); a second operator,
// different from the requester and holding every permission the change needs, approves it within
// approvals.ttl_minutes, and it then runs as its requester (their roles as they are then). The
// requester may withdraw their own request (deny), never approve it.
import { HostError } from "./base/errors.js";
import type { HostCommand, HostCommandDeps } from "./host-commands.js";
import { principalOf, type ApprovalRequest } from "./approvals/requests.js";
import type { Caller } from "../sdk/context.js";

const idArg = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 32, description: "the request's id (`warden approval list`)" } },
  required: ["id"],
  additionalProperties: false,
};

/** Who decides, as a principal: the home's CLI (break-glass), or a named operator. */
function deciderOf(caller: Caller): string {
  if (caller.kind === "operator") return "operator:local";
  if (caller.kind === "module") throw new HostError("forbidden", "a module does not decide two-person requests; an operator does");
  return principalOf(caller);
}

function shown(r: ApprovalRequest) {
  const { caller: _c, ...rest } = r;
  return rest;
}

export function approvalCommands(deps: HostCommandDeps): Record<string, HostCommand> {
  const { bus } = deps;
  const requests = () => deps.loader.kernel.approvals;
  const requestOf = (input: unknown): { id: string; found: ApprovalRequest } => {
    const { id } = input as { id: string };
    const found = requests().get(id);
    if (!found) throw new HostError("not_found", `no two-person request ${id.slice(0, 32)}; \`warden approval list\` shows them`);
    return { id, found };
  };
  return {
    list: {
      description: "List two-person requests: what each would change, who asked, and until when it waits",
      input: { type: "object", properties: { all: { type: "boolean", description: "decided and expired ones too" } }, additionalProperties: false },
      readOnly: true,
      permission: "approvals.read",
      run: async (input) => {
        const all = (input as { all?: boolean }).all === true;
        return requests()
          .list()
          .filter((r) => all || r.status === "pending")
          .map(shown);
      },
    },
    approve: {
      description: "Approve another operator's request; the change then runs as they asked it",
      confirm: "approve another operator's protected change (it runs at once)",
      input: idArg,
      args: ["id"],
      permission: "approvals.decide",
      run: async (input, call) => {
        const { id, found } = requestOf(input);
        const decider = deciderOf(call.caller);
        if (decider === principalOf(found.caller)) throw new HostError("forbidden", `request ${id} is yours; a second, different operator approves it`);
        if (decider !== "operator:local" && call.caller.kind !== "operator" && call.caller.kind !== "module" && call.caller.operator === undefined)
          throw new HostError("forbidden", "two-person requests are approved by a named operator (`warden operator add`), not a service account's token");
        // The approver must hold what the change needs, checked at the policy point.
        for (const permission of found.permissions) bus.authorize(call.caller, "request.decide", { permission, target: id });
        const auth = bus.authorize(call.caller, "request.decide", { target: id });
        const approved = await requests().decide(id, "approved", auth.actor);
        try {
          const result = await bus.runApproved(id, () => bus.dispatch({ command: approved.command, input: approved.input, caller: approved.caller }));
          await requests().done(id, "ok");
          return { approved: id, what: approved.what, requester: approved.requester, result };
        } catch (e) {
          const err = e instanceof HostError ? e : new HostError("internal", String(e));
          await requests().done(id, `${err.code}: ${err.message}`);
          throw new HostError(err.code, `request ${id} was approved, but running it was refused: ${err.message}`, err.details ? { details: err.details } : {});
        }
      },
    },
    deny: {
      description: "Deny a request (or withdraw your own); nothing it asked for happens",
      input: idArg,
      args: ["id"],
      permission: "approvals.decide",
      run: async (input, call) => {
        const { id, found } = requestOf(input);
        const own = deciderOf(call.caller) === principalOf(found.caller);
        const auth = bus.authorize(call.caller, "request.decide", { target: id });
        if (!own) for (const permission of found.permissions) bus.authorize(call.caller, "request.decide", { permission, target: id });
        const denied = await requests().decide(id, "denied", auth.actor);
        return { denied: id, what: denied.what, withdrawn: own };
      },
    },
  };
}
