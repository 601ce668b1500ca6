// The console's pages. Each renders into <main> from command results and says how often it wants
// fresh data (one poll per page, never one per widget; together they stay well inside the default
// per-client limit of 120 requests a minute). Text from the host is always set as text
// (textContent), never parsed as HTML.
import { call, CommandError } from "{{api.js}}";
import { waitingSection } from "{{waiting.js}}";

/** h("tag.class", {attr}, ...children): a DOM element; strings become text nodes. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// Times carry their zone: operators of one host may sit in several.
const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { timeZoneName: "short" }) : "—");
const num = (n, digits = 0) => (n === null || n === undefined ? "—" : Number(n).toFixed(digits));

/** Shows what happened in the notice line: the host's code and message, or what was done. */
export function notify(text, kind = "ok") {
  const el = document.getElementById("notice");
  el.hidden = false;
  el.className = `notice ${kind}`;
  el.textContent = text;
}

/** Runs an action; a refusal is shown with its code and message, never swallowed. */
/**
 * Runs one action and says how it went. `confirm`: a destructive action (the command's manifest
 * `confirm`) is asked about first; declined, nothing is sent.
 */
async function act(label, fn, after, confirm) {
  if (confirm && !window.confirm(`This will ${confirm}: ${label}. Go on?`)) {
    notify(`${label}: not done`);
    return undefined;
  }
  try {
    const out = await fn();
    notify(`${label}: done`);
    if (after) await after({ keepNotice: true });
    return out;
  } catch (e) {
    notify(e instanceof CommandError ? `${label} refused (${e.code}): ${e.message}` : `${label} failed: ${e.message}`, "error");
    return undefined;
  }
}

function table(caption, columns, rows) {
  return h(
    "table",
    {},
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c })))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, text: "none" }))),
  );
}

/** A tiny inline SVG line of the last values (drawn with attributes, no inline style). */
function sparkline(values, label) {
  const w = 80;
  const hgt = 18;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${values.length > 1 ? (i / (values.length - 1)) * w : 0},${hgt - (v / max) * (hgt - 2) - 1}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(hgt));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("class", "spark");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  svg.append(line);
  return svg;
}

function field(label, input) {
  const id = `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  input.id = id;
  return h("div.field", {}, h("label", { for: id, text: label }), input);
}

// ---------------------------------------------------------------------------------------------
// Overview

let chart;
const SECURITY_EVENT = /^(security\.|trust\.|module\.(block|unblock|revoke)$|token\.|secrets?\.|operator\.|approval\.|cli\.|console\.(address_refused|revoke)$|capability\.denied|.*\.denied$)/;

export const overview = {
  title: "Overview",
  pollMs: 5000,
  async render(main, refresh) {
    const [index, ready, modules, security, traffic, audit] = await Promise.all([
      fetch("/api/v1/").then((r) => r.json()),
      fetch("/api/v1/health/ready").then((r) => r.ok),
      call("module.list"),
      // A session without security.manage (a viewer, an approver) sees the rest of the Overview.
      call("security.status").catch(() => null),
      call("api.traffic", { seconds: 3600, step: 10 }),
      call("audit.tail", { n: 200 }),
    ]);
    const byState = {};
    for (const m of modules) byState[m.state] = (byState[m.state] ?? 0) + 1;
    // Security events: enforcement and blocks, denials, tokens, secrets, operators, sign-ins, two-person
    // requests and supply-chain decisions (trust changes, blocked packs).
    const events = audit.filter((e) => SECURITY_EVENT.test(String(e.action))).slice(-10).reverse();
    const waiting = await waitingSection(modules, refresh, { h, notify });
    const chartBox = h("div.chart", { role: "img", "aria-label": "Requests and errors per second over the last hour" });
    main.replaceChildren(
      h("h1", { text: "Overview" }),
      h(
        "section.cards",
        { "aria-label": "Host status" },
        h("div.card", {}, h("h2", { text: "Host" }), h("p.big", { text: ready ? "ready" : "not ready" }), h("p", { text: `Warden ${index.version}` })),
        h("div.card", {}, h("h2", { text: "Enforcement" }), h("p.big", { text: security ? (security.active ? "on" : "off") : "—" })),
        h("div.card", {}, h("h2", { text: "Lockdown" }), h("p.big", { text: security ? (security.lockdown?.active ? "active" : "none") : "—" })),
        h("div.card", {}, h("h2", { text: "Blocked clients" }), h("p.big", { text: security ? String(security.blocked.length) : "—" })),
        h("div.card", {}, h("h2", { text: "Modules" }), h("ul.states", {}, Object.entries(byState).map(([s, n]) => h("li", { text: `${s}: ${n}` })))),
      ),
      waiting,
      h("section", { "aria-labelledby": "traffic-h" }, h("h2", { id: "traffic-h", text: "Requests and errors per second (last hour)" }), chartBox),
      h(
        "section",
        { "aria-labelledby": "events-h" },
        h("h2", { id: "events-h", text: "Last security events" }),
        table("Security events, newest first", ["Time", "Actor", "Action", "Target"], events.map((e) => h("tr", {}, h("td", { text: when(e.ts ?? e.time) }), h("td", { text: e.actor }), h("td", { text: e.action }), h("td", { text: e.target })))),
      ),
    );
    drawChart(chartBox, traffic);
  },
};

function drawChart(box, t) {
  const xs = t.requests.map((_, i) => t.start + i * t.step);
  const data = [xs, t.requests, t.errors];
  if (typeof window.uPlot !== "function") {
    box.append(h("p", { text: "chart unavailable" }));
    return;
  }
  chart?.destroy();
  chart = new window.uPlot(
    {
      width: Math.max(320, Math.min(900, box.clientWidth || 800)),
      height: 220,
      series: [{}, { label: "requests/s", stroke: "#1d4ed8", width: 2 }, { label: "errors/s", stroke: "#b91c1c", width: 2 }],
      axes: [{}, { label: "per second" }],
    },
    data,
    box,
  );
}

// ---------------------------------------------------------------------------------------------
// Modules

/** Calls per module at each poll, for the sparklines (the page keeps the last 30). */
const history = new Map();

export const modules = {
  title: "Modules",
  pollMs: 10000,
  async render(main, refresh) {
    const [list, stats] = await Promise.all([call("module.list"), call("module.stats")]);
    const statsById = new Map((Array.isArray(stats) ? stats : [stats]).map((s) => [s.id, s]));
    // Approval details (the pending hash, an upgrade's capability diff) for user modules only.
    const details = await Promise.all(list.map((m) => (m.kind === "user" ? call("module.inspect", { id: m.id }).catch(() => undefined) : undefined)));
    const rows = list.map((m, i) => {
      const d = details[i] ?? {};
      const s = statsById.get(m.id) ?? {};
      const seen = history.get(m.id) ?? [];
      seen.push(s.calls ?? 0);
      if (seen.length > 30) seen.shift();
      history.set(m.id, seen);
      const deltas = seen.map((v, j) => (j === 0 ? 0 : Math.max(0, v - seen[j - 1])));
      const elevated = new Set(m.elevated ?? []);
      const pending = d.staged_upgrade ?? d.pending_approval;
      const caps = h(
        "ul.caps",
        {},
        (m.capabilities ?? []).map((c) => {
          const name = typeof c === "string" ? c : c.name;
          const revoked = (d.revoked ?? []).includes(name);
          return h(
            "li",
            {},
            h("span", { class: elevated.has(name) ? "elevated" : undefined, text: name + (elevated.has(name) ? " (elevated)" : "") + (revoked ? " (revoked)" : "") }),
            m.state === "active" && !revoked
              ? h("button.small", { type: "button", "aria-label": `Revoke ${name} from ${m.id}`, onclick: () => act(`revoke ${name} from ${m.id}`, () => call("module.revoke", { id: m.id, capability: name }), refresh, "withdraw a capability from a module (approving it again gives it back)") }, "Revoke")
              : null,
          );
        }),
      );
      const actions = h(
        "div.actions",
        {},
        pending
          ? [
              h("p.diff", { text: d.staged_upgrade ? `Upgrade to ${pending.version}: adds ${(d.staged_upgrade.added ?? []).join(", ") || "nothing"}; removes ${(d.staged_upgrade.removed ?? []).join(", ") || "nothing"}` : `Awaiting approval of ${pending.version}: ${(d.elevated ?? []).map((e) => e.capability ?? e).join(", ") || "its capabilities"}` }),
              h("button", { type: "button", onclick: () => act(`approve ${m.id}`, () => call("module.approve", { id: m.id, hash: pending.hash, version: pending.version }), refresh) }, `Approve ${m.id}`),
              h("button.danger", { type: "button", onclick: () => act(`reject ${m.id}`, () => call("module.remove", { id: m.id }), refresh, "remove a module") }, `Reject ${m.id}`),
            ]
          : null,
        m.state === "disabled"
          ? h("button", { type: "button", onclick: () => act(`enable ${m.id}`, () => call("module.enable", { id: m.id }), refresh) }, `Enable ${m.id}`)
          : m.kind === "user"
            ? h("button", { type: "button", onclick: () => act(`disable ${m.id}`, () => call("module.disable", { id: m.id }), refresh, "disable a module (its commands stop answering until it is enabled)") }, `Disable ${m.id}`)
            : null,
      );
      const errors = Object.entries(s.errors ?? {}).map(([code, n]) => `${code}: ${n}`).join(", ") || "none";
      return h(
        "tr",
        { "data-module": m.id },
        h("th", { scope: "row", text: m.id }),
        h("td", { text: m.version ?? "—" }),
        h("td", {}, h("span", { class: `state ${m.state}`, text: m.state }), m.error ? h("p.reason", { text: `${m.error.code}: ${m.error.message}` }) : null),
        h("td", { text: m.kind }),
        h("td", { text: m.kind === "user" ? (m.publisher ?? "unverified") : "Warden (built in)" }, m.pack ? h("p.reason", { text: `pack ${m.pack.slice(0, 16)}…`, title: m.pack }) : null),
        h("td", {}, caps),
        h("td", {}, sparkline(deltas, `calls of ${m.id} per poll`), ` ${s.calls ?? 0}`),
        h("td", { text: errors }),
        h("td", { text: `${num(s.p50_ms, 2)} / ${num(s.p99_ms, 2)} ms` }),
        h("td", { text: String(s.capability_denials ?? 0) }),
        h("td", {}, actions),
      );
    });
    // The kill switch says so where operators look: which modules it stopped, and why.
    const blocked = list.filter((m) => m.error?.code === "module_blocked");
    // (replaceChildren would print a null as "null": the notice is spread in only when there is one.)
    const notice = blocked.length
      ? [h("p.notice.error", { role: "alert", "data-notice": "blocked" }, `Stopped because their pack is blocked on every host: ${blocked.map((m) => `${m.id} (${m.error.message})`).join("; ")}. \`warden module blocked\` lists blocked packs.`)]
      : [];
    main.replaceChildren(
      h("h1", { text: "Modules" }),
      ...notice,
      table("Every module, who published it, what it may do and how it is doing", ["Module", "Version", "State", "Kind", "Publisher", "Capabilities", "Calls", "Errors by code", "p50 / p99", "Denials", "Actions"], rows),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Tokens

/** A secret just issued: shown until the operator leaves the page (a poll re-render keeps it). */
let issued;

export const tokens = {
  title: "Tokens",
  pollMs: 10000,
  async render(main, refresh, o = {}) {
    if (!o.keepNotice && !o.poll) issued = undefined;
    const list = await call("auth.list");
    const name = h("input", { name: "name", required: true, maxlength: 64, autocomplete: "off" });
    const scopes = h("input", { name: "scopes", required: true, placeholder: "hello.*, notes.get", autocomplete: "off" });
    const expires = h("select", { name: "expires" }, h("option", { value: "", text: "never" }), ["1h", "1d", "7d", "30d", "90d"].map((v) => h("option", { value: v, text: v })));
    const secretBox = h("div.secret", { "aria-live": "polite" });
    const showSecret = (label, secret) => {
      issued = { label, secret };
      const out = h("output", { text: secret, id: "secret" });
      secretBox.replaceChildren(
        h("p", { text: `${label} (shown once; copy it now):` }),
        out,
        h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(secret).then(() => notify("copied"), () => notify("copy failed; select the text", "error")) }, "Copy"),
      );
    };
    const form = h(
      "form.inline",
      {
        "aria-label": "Grant a token",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const input = { name: name.value.trim(), scopes: scopes.value.split(",").map((s) => s.trim()).filter(Boolean) };
          if (expires.value) input.expires = expires.value;
          const t = await act(`grant ${input.name}`, () => call("auth.grant", input));
          if (t) {
            showSecret(`Token ${t.name}`, t.token);
            name.value = "";
            scopes.value = "";
            await refresh({ keepNotice: true });
          }
        },
      },
      field("Name", name),
      field("Scopes (comma-separated)", scopes),
      field("Expires", expires),
      h("button", { type: "submit" }, "Grant token"),
    );
    const rows = list.map((t) =>
      h(
        "tr",
        { "data-token": t.name },
        h("th", { scope: "row", text: t.name }),
        h("td", { text: t.id }),
        h("td", { text: (t.scopes ?? []).join(", ") }),
        h("td", { text: when(t.created_at) }),
        h("td", { text: when(t.expires_at) }),
        h("td", { text: when(t.last_used_at ?? t.last_used) }),
        h("td", { text: t.revoked_at ? "revoked" : "active" }),
        h(
          "td",
          {},
          t.revoked_at
            ? null
            : [
                h("button", { type: "button", onclick: async () => { const r = await act(`rotate ${t.name}`, () => call("auth.rotate", { ref: t.id })); if (r?.token) showSecret(`New secret of ${t.name}`, r.token); await refresh({ keepNotice: true }); } }, `Rotate ${t.name}`),
                h("button.danger", { type: "button", onclick: () => act(`revoke ${t.name}`, () => call("auth.revoke", { ref: t.id }), refresh, "revoke a token (every request with it is refused)") }, `Revoke ${t.name}`),
              ],
        ),
      ),
    );
    if (issued) showSecret(issued.label, issued.secret);
    main.replaceChildren(h("h1", { text: "Tokens" }), form, secretBox, table("REST tokens (secrets are never shown again)", ["Name", "Id", "Scopes", "Created", "Expires", "Last used", "State", "Actions"], rows));
  },
};

// ---------------------------------------------------------------------------------------------
// Security

export const security = {
  title: "Security",
  pollMs: 5000,
  async render(main, refresh) {
    const [status, settings] = await Promise.all([call("security.status"), call("security.config")]);
    const seconds = h("input", { type: "number", min: 1, max: 2592000, value: String(settings.ddos_lockdown ?? 60), name: "seconds" });
    const client = h("input", { name: "client", maxlength: 64, autocomplete: "off" });
    const key = h("select", { name: "key" }, Object.keys(settings).map((k) => h("option", { value: k, text: k })));
    const value = h("input", { name: "value", autocomplete: "off" });
    const w = status.windows ?? {};
    main.replaceChildren(
      h("h1", { text: "Security" }),
      h(
        "section",
        { "aria-labelledby": "act-h" },
        h("h2", { id: "act-h", text: "Actions" }),
        h(
          "form.inline",
          { "aria-label": "Lock down", onsubmit: (ev) => { ev.preventDefault(); return act("lockdown", () => call("security.lockdown", { seconds: Number(seconds.value) }), refresh); } },
          field("Lockdown seconds", seconds),
          h("button.danger", { type: "submit" }, "Lock down"),
        ),
        h(
          "form.inline",
          { "aria-label": "Block a client", onsubmit: (ev) => { ev.preventDefault(); return act(`block ${client.value}`, () => call("security.block", { client: client.value.trim() }), refresh); } },
          field("Client address", client),
          h("button", { type: "submit" }, "Block"),
        ),
        h("div.actions", {},
          h("button", { type: "button", onclick: () => act("purge", () => call("security.purge"), refresh, "remove every security counter and block") }, "Purge counters and blocks"),
          status.active
            ? h("button.danger", { type: "button", onclick: () => act("disable enforcement", () => call("security.disable"), refresh, "turn security enforcement off") }, "Turn enforcement off")
            : h("button", { type: "button", onclick: () => act("enable enforcement", () => call("security.enable"), refresh) }, "Turn enforcement on"),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "win-h" },
        h("h2", { id: "win-h", text: "Windows and limits" }),
        table("Counters in the current minute", ["Window", "Count", "Limit", "Resets"], [
          h("tr", {}, h("th", { scope: "row", text: "global" }), h("td", { text: String(w.global?.count ?? 0) }), h("td", { text: String(w.global?.limit ?? "—") }), h("td", { text: when(w.global?.resets_at) })),
          ...(w.clients ?? []).map((c) => h("tr", {}, h("th", { scope: "row", text: `client ${c.client}` }), h("td", { text: String(c.count) }), h("td", { text: String(c.limit ?? settings.rate_limit) }), h("td", { text: when(c.resets_at) }))),
          ...(w.failed_auth ?? []).map((c) => h("tr", {}, h("th", { scope: "row", text: `failed auth ${c.client}` }), h("td", { text: String(c.count) }), h("td", { text: String(c.limit ?? settings.failed_limit) }), h("td", { text: when(c.resets_at) }))),
        ]),
      ),
      h(
        "section",
        { "aria-labelledby": "blocked-h" },
        h("h2", { id: "blocked-h", text: "Blocked clients" }),
        table("Blocked clients", ["Client", "Until", "Reason", "By", "Actions"], status.blocked.map((b) =>
          h("tr", {}, h("th", { scope: "row", text: b.client }), h("td", { text: when(b.until) }), h("td", { text: b.reason }), h("td", { text: b.by }), h("td", {}, h("button", { type: "button", onclick: () => act(`unblock ${b.client}`, () => call("security.unblock", { client: b.client }), refresh) }, `Unblock ${b.client}`))),
        )),
      ),
      h(
        "section",
        { "aria-labelledby": "set-h" },
        h("h2", { id: "set-h", text: "Settings" }),
        table("Security settings (allow, deny and trusted lists included)", ["Setting", "Value"], Object.entries(settings).map(([k, v]) => h("tr", {}, h("th", { scope: "row", text: k }), h("td", { text: Array.isArray(v) ? v.join(", ") || "(empty)" : String(v) })))),
        h(
          "form.inline",
          { "aria-label": "Change a setting", onsubmit: (ev) => { ev.preventDefault(); return act(`set ${key.value}`, () => call("security.config", { set: `${key.value}=${value.value}` }), refresh); } },
          field("Setting", key),
          field("New value", value),
          h("button", { type: "submit" }, "Save setting"),
        ),
      ),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Audit

const PAGE = 25;
const auditView = { page: 0, filter: "", broken: undefined };

export const audit = {
  title: "Audit",
  pollMs: 10000,
  async render(main, refresh) {
    const events = (await call("audit.tail", { n: 1000 })).slice().reverse();
    const f = auditView.filter.toLowerCase();
    const shown = f ? events.filter((e) => [e.actor, e.action, e.target].some((v) => String(v ?? "").toLowerCase().includes(f))) : events;
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    auditView.page = Math.min(auditView.page, pages - 1);
    const filter = h("input", { type: "search", value: auditView.filter, name: "filter", autocomplete: "off" });
    const rows = shown.slice(auditView.page * PAGE, (auditView.page + 1) * PAGE).map((e) =>
      h("tr", { class: auditView.broken !== undefined && e.seq === auditView.broken ? "broken" : undefined }, h("td", { text: String(e.seq) }), h("td", { text: when(e.ts ?? e.time) }), h("td", { text: e.actor }), h("td", { text: e.action }), h("td", { text: e.target })),
    );
    const verifyOut = h("p.verify", { "aria-live": "polite" });
    main.replaceChildren(
      h("h1", { text: "Audit" }),
      h(
        "div.actions",
        {},
        h("button", {
          type: "button",
          onclick: async () => {
            const r = await act("verify the audit chain", () => call("audit.verify"));
            if (!r) return;
            auditView.broken = r.ok ? undefined : (r.first_bad_seq ?? r.broken_at ?? r.seq);
            verifyOut.textContent = r.ok ? `Chain verified: ${r.events ?? r.count ?? ""} events, intact.` : `Chain broken at seq ${auditView.broken}: ${r.reason ?? r.message ?? ""}`;
            verifyOut.className = r.ok ? "verify ok" : "verify error";
          },
        }, "Verify chain"),
        h("button", {
          type: "button",
          onclick: async () => {
            const c = await act("checkpoint", () => call("audit.checkpoint"));
            if (!c) return;
            const url = URL.createObjectURL(new Blob([JSON.stringify(c, null, 2)], { type: "application/json" }));
            const a = h("a", { href: url, download: `warden-checkpoint-${c.seq ?? "latest"}.json`, text: "Download the checkpoint" });
            verifyOut.replaceChildren(a);
          },
        }, "Export checkpoint"),
      ),
      verifyOut,
      h(
        "form.inline",
        { role: "search", "aria-label": "Filter the audit trail", onsubmit: (ev) => { ev.preventDefault(); auditView.filter = filter.value; auditView.page = 0; return refresh(); } },
        field("Filter by actor, action or target", filter),
        h("button", { type: "submit" }, "Filter"),
      ),
      table(`Audit events, newest first (page ${auditView.page + 1} of ${pages}, ${shown.length} events)`, ["Seq", "Time", "Actor", "Action", "Target"], rows),
      h(
        "div.actions",
        {},
        h("button", { type: "button", disabled: auditView.page === 0, onclick: () => { auditView.page--; return refresh(); } }, "Newer"),
        h("button", { type: "button", disabled: auditView.page >= pages - 1, onclick: () => { auditView.page++; return refresh(); } }, "Older"),
      ),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Login

const LOGIN_ERRORS = {
  login_code_invalid: "That login URL was already used, has expired or was never issued.",
  session_expired: "Your console session has ended (idle too long, or revoked).",
  unauthorized: "You are not logged in.",
  cross_site_login: "That login URL was opened from another site, so it was not used. Paste it into the address bar yourself.",
  rate_limited: "Too many attempts; wait a minute and try again.",
  oidc_state_invalid: "That sign-in did not start in this browser, or was already used. Sign in again.",
  oidc_code_invalid: "The identity provider's code was already used or is not valid. Sign in again.",
  oidc_token_invalid: "The identity provider's answer did not verify (issuer, audience or signature). Ask an admin to check console.oidc.client_id.",
  oidc_operator_unknown: "You signed in, but no operator here signs in as you. Ask an admin to add you (`warden operator add`).",
  oidc_refused: "The identity provider refused the sign-in.",
  oidc_unavailable: "Sign-in with the identity provider is not available right now; use a login URL from `warden console`.",
};

export function renderLogin(main, reason, onToken) {
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  main.replaceChildren(
    h("h1", { text: "Log in to the Warden console" }),
    reason ? h("p.error", { role: "alert", text: LOGIN_ERRORS[reason] ?? `Login refused (${reason}).` }) : null,
    h("p", { text: "On the host, run `warden console` and open the one-time URL it prints." }),
    h(
      "form.inline",
      { "aria-label": "Log in with a token", onsubmit: (ev) => { ev.preventDefault(); return onToken(token.value); } },
      field("Or a REST token with the console.login scope", token),
      h("button", { type: "submit" }, "Log in"),
    ),
  );
  // Sign-in with the identity provider, when the host has one set up.
  fetch("/console/oidc")
    .then((r) => (r.ok ? r.json() : { enabled: false }))
    .then((o) => {
      if (o.enabled && !main.querySelector("#sso")) main.querySelector("h1")?.after(h("p", {}, h("a.button", { href: "/console/oidc/start", id: "sso" }, "Sign in with your identity provider")));
    })
    .catch(() => {});
}
