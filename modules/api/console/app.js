// The console's shell: who is logged in, the lockdown banner with its live countdown, the router
// (#/overview, #/modules, #/tokens, #/security, #/audit, #/pair) and one poll for the page on screen.
import { call, CommandError, loginWithToken, logout, whenSignedOut } from "{{api.js}}";
import { audit, h, modules, notify, overview, renderLogin, security, tokens } from "{{pages.js}}";
import { pair } from "{{pair.js}}";

const PAGES = { overview, modules, tokens, security, audit, pair };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");
const banner = document.getElementById("lockdown");

let poll;
/** Never more often than this, whatever a page asks: the console must stay inside its own rate limit. */
const MIN_POLL_MS = 2000;
let lastPoll = 0;
let countdown;
let session;

function showLogin(reason) {
  clearInterval(poll);
  session = undefined;
  nav.hidden = true;
  logoutButton.hidden = true;
  banner.hidden = true;
  who.textContent = "";
  document.title = "Log in · Warden console";
  renderLogin(main, reason, async (token) => {
    try {
      await loginWithToken(token);
      await start();
    } catch (e) {
      renderLogin(main, e instanceof CommandError ? e.code : "unauthorized", () => {});
      notify(e instanceof CommandError ? `${e.code}: ${e.message}` : String(e), "error");
    }
  });
}

whenSignedOut((err) => showLogin(err.code));

/** The lockdown banner, from security.status, with a countdown that ticks locally each second. */
function showLockdown(status) {
  clearInterval(countdown);
  const l = status?.lockdown;
  if (!l?.active) {
    banner.hidden = true;
    return;
  }
  const until = Date.parse(l.until);
  const text = h("span");
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    text.textContent = `Locked down: every REST request is refused for ${left} more s (${l.reason ?? "no reason given"}). `;
    if (left === 0) clearInterval(countdown);
  };
  tick();
  countdown = setInterval(tick, 1000);
  banner.replaceChildren(
    text,
    h("button", {
      type: "button",
      onclick: async () => {
        try {
          await call("security.unlock");
          notify("unlocked");
          await refreshBanner();
          await render();
        } catch (e) {
          notify(`unlock refused (${e.code}): ${e.message}`, "error");
        }
      },
    }, "Unlock"),
  );
  banner.hidden = false;
}

async function refreshBanner() {
  try {
    showLockdown(await call("security.status"));
  } catch {
    banner.hidden = true; // a session without security.manage sees no banner
  }
}

/** The page the address names; anything else (e.g. #/constructor, an Object.prototype name) is the overview. */
function current() {
  const name = (location.hash.match(/^#\/([a-z]+)/) ?? [])[1];
  return name !== undefined && Object.hasOwn(PAGES, name) ? name : "overview";
}

async function render(opts = {}) {
  if (!session) return;
  const name = current();
  const page = PAGES[name];
  document.title = `${page.title} · Warden console`;
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!opts.keepNotice && !opts.poll) document.getElementById("notice").hidden = true;
  try {
    // After an action the page and the lockdown banner are both fresh.
    await page.render(main, async (o) => { await refreshBanner(); await render(o); }, opts);
    main.dataset.page = name;
  } catch (e) {
    if (e instanceof CommandError && e.status === 401) return;
    main.replaceChildren(h("h1", { text: page.title }), h("p.error", { role: "alert", text: e instanceof CommandError ? `${e.code}: ${e.message}` : String(e) }));
  }
}

/** One poll for the page on screen (and the banner); replaced when the page changes. */
function schedule() {
  clearInterval(poll);
  const page = PAGES[current()];
  poll = setInterval(async () => {
    if (Date.now() - lastPoll < MIN_POLL_MS) return;
    lastPoll = Date.now();
    if (document.activeElement && main.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) return; // not while typing
    await refreshBanner();
    await render({ poll: true });
  }, Math.max(MIN_POLL_MS, page.pollMs));
}

async function start() {
  session = await call("console.whoami");
  if (session.kind !== "session") return showLogin("unauthorized");
  history.replaceState(null, "", `/console/${location.hash || "#/overview"}`);
  nav.hidden = false;
  logoutButton.hidden = false;
  who.textContent = `session ${session.id}`;
  await refreshBanner();
  await render();
  schedule();
}

logoutButton.addEventListener("click", async () => {
  await logout();
  showLogin(undefined);
});
window.addEventListener("hashchange", async () => {
  await render();
  schedule();
  main.focus();
});

const error = new URLSearchParams(location.search).get("error");
if (error) {
  history.replaceState(null, "", "/console/");
  showLogin(error);
} else {
  start().catch((e) => showLogin(e instanceof CommandError ? e.code : "unauthorized"));
}
