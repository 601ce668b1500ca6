// The console's "CLI sign-in" page (#/pair?code=XXXX-XXXX): `warden login URL` prints a code and
// this page's address; an operator signed in here looks at where the sign-in comes from, and
// approves it. The CLI then acts as that operator, with at most this session's scopes.
import { call, CommandError } from "{{api.js}}";
import { h, notify } from "{{pages.js}}";

const codeFromAddress = () => new URLSearchParams(location.hash.split("?")[1] ?? "").get("code") ?? "";

export const pair = {
  title: "CLI sign-in",
  pollMs: 60000,
  async render(main, _refresh, o = {}) {
    if (o.poll) return; // nothing here changes by itself; a poll must not clear what is being typed
    const code = h("input", { name: "code", required: true, maxlength: 9, placeholder: "XXXX-XXXX", autocomplete: "off", value: codeFromAddress() });
    const details = h("div.pairing", { "aria-live": "polite" });
    const show = async () => {
      details.replaceChildren();
      let p;
      try {
        p = await call("auth.pairing", { code: code.value.trim().toUpperCase() });
      } catch (e) {
        notify(e instanceof CommandError ? `code refused (${e.code}): ${e.message}` : String(e), "error");
        return;
      }
      const approve = h(
        "button",
        {
          type: "button",
          onclick: async () => {
            if (!window.confirm(`Let the CLI at ${p.client} act as you (code ${p.user_code})?`)) return notify("not approved");
            try {
              const r = await call("auth.pair", { code: p.user_code });
              details.replaceChildren(h("p", { text: `Approved: the CLI at ${r.client} is signed in as ${r.operator}.` }));
              notify(`approved ${r.user_code}`);
            } catch (e) {
              notify(e instanceof CommandError ? `approve refused (${e.code}): ${e.message}` : String(e), "error");
            }
          },
        },
        `Approve ${p.user_code}`,
      );
      details.replaceChildren(
        h("dl", {}, h("dt", { text: "Code" }), h("dd", { text: p.user_code }), h("dt", { text: "From" }), h("dd", { text: p.client }), h("dt", { text: "Asked at" }), h("dd", { text: new Date(p.created_at).toString() })),
        h("p", { text: "Approve only a code you started yourself with `warden login`." }),
        approve,
      );
    };
    const form = h(
      "form.inline",
      { "aria-label": "Look up a sign-in code", onsubmit: (ev) => (ev.preventDefault(), show()) },
      h("label", {}, "Code ", code),
      h("button", { type: "submit" }, "Look up"),
    );
    main.replaceChildren(h("h1", { text: "CLI sign-in" }), h("p", { text: "`warden login <this host's address>` prints a code. Enter it here to let that CLI act as you." }), form, details);
    if (code.value) await show();
  },
};
