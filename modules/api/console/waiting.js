// The Overview's "Waiting for someone": two-person requests (with what each would change, and
// Approve / Deny for an operator who may decide them), modules awaiting approval and staged
// upgrades. A session that may not list requests sees the modules alone.
// It is handed the page's own h() and notify() (pages.js imports this file, not the other way).
import { call, CommandError } from "{{api.js}}";

const zoned = (iso) => new Date(iso).toLocaleString(undefined, { timeZoneName: "short" });

async function decide(verb, r, refresh, notify) {
  if (verb === "approve" && !window.confirm(`Approve: ${r.what} (asked by ${r.requester})? It runs at once.`)) return notify("not approved");
  try {
    await call(`approval.${verb}`, { id: r.id });
    notify(`${verb === "approve" ? "approved" : "denied"}: ${r.what}`);
  } catch (e) {
    notify(e instanceof CommandError ? `${verb} refused (${e.code}): ${e.message}` : String(e), "error");
  }
  await refresh({ keepNotice: true });
}

export async function waitingSection(modules, refresh, { h, notify }) {
  const requests = await call("approval.list").catch(() => []);
  const items = [
    ...requests.map((r) =>
      h(
        "li",
        { "data-request": r.id },
        h("span", { text: `Two-person request ${r.id}: ${r.what} — asked by ${r.requester}, waits until ${zoned(r.expires_at)}` }),
        h("button", { type: "button", onclick: () => decide("approve", r, refresh, notify) }, `Approve ${r.id}`),
        h("button.danger", { type: "button", onclick: () => decide("deny", r, refresh, notify) }, `Deny ${r.id}`),
      ),
    ),
    ...modules.filter((m) => m.state === "pending_approval").map((m) => h("li", {}, h("a", { href: "#/modules", text: `Module ${m.id} ${m.version ?? ""} awaits approval of ${(m.elevated ?? []).join(", ") || "its capabilities"}` }))),
    ...modules.filter((m) => m.upgrade_waiting).map((m) => h("li", {}, h("a", { href: "#/modules", text: `Module ${m.id}: upgrade to ${m.upgrade_waiting} awaits approval` }))),
  ];
  return h("section", { "aria-labelledby": "waiting-h" }, h("h2", { id: "waiting-h", text: "Waiting for someone" }), items.length ? h("ul.waiting", {}, items) : h("p", { text: "Nothing waits for an operator." }));
}
