/* 回响管理控制台 (Huixiang admin console): the entry module. Plain ES2020 modules, no
 * dependencies, no build step; everything from the server or the user is rendered with
 * textContent only.
 *
 * Modules: state.js (who is logged in, stages), api.js, denied.js (agents), ui.js,
 * replies.js + editor.js (回复管理), history.js (versions, rollback), offers.js, catalogue.js (商品库),
 * customers.js (list, timeline, merging in), merges.js, analytics.js + loop.js (with
 * analytics-kit.js); the login flow, labels, charts and widgets are shared with the
 * workspace (../common/).
 */
import { $, ApiError } from "../common/staff-ui.js";
import { labels, roleName } from "../common/labels.js";
import { logout, markReady, setView, startLogin } from "../common/login.js";
import { loadAnalytics } from "./analytics.js";
import { api } from "./api.js";
import { loadCatalogue } from "./catalogue.js";
import { initCustomers, loadCustomers, setupCustomers } from "./customers.js";
import { showDenied } from "./denied.js";
import { initEditor } from "./editor.js";
import { loadLoop } from "./loop.js";
import { initMerges, loadMerges, refreshMergeBadge } from "./merges.js";
import { initOffers, loadOffers, setupOffers } from "./offers.js";
import { initReplies, refreshTemplates, setupReplies } from "./replies.js";
import { session } from "./state.js";
import { failed } from "./ui.js";

const TABS = ["replies", "offers", "catalogue", "customers", "merges", "analytics", "loop"];
const LOADERS = { offers: loadOffers, catalogue: loadCatalogue, customers: loadCustomers, merges: loadMerges, analytics: loadAnalytics, loop: loadLoop };

function route() {
  if (!session.me || session.me.role !== "admin") return;
  const match = /^#\/(\w+)/.exec(window.location.hash || "");
  const tab = match && TABS.includes(match[1]) ? match[1] : "replies";
  document.querySelectorAll("[data-panel]").forEach((p) => {
    p.hidden = p.dataset.panel !== tab;
  });
  document.querySelectorAll(".tab").forEach((t) => {
    const on = t.dataset.tab === tab;
    t.classList.toggle("active", on);
    if (on) t.setAttribute("aria-current", "page");
    else t.removeAttribute("aria-current");
  });
  document.body.dataset.tab = tab;
  if (!session.loaded[tab]) {
    session.loaded[tab] = true;
    const load = LOADERS[tab];
    if (load) load().catch(failed);
  }
}

/* The stages (as /api/admin/stages lists them) for every screen's pickers. */
async function loadStages() {
  const stages = await api("GET", "/api/admin/stages");
  session.stages = Array.isArray(stages) && stages.length ? stages
    : Object.entries(labels.stages).map(([name, label]) => ({ name, label }));
  setupReplies(session.stages, labels.personas);
  setupCustomers(session.stages);
  setupOffers(session.stages);
}

async function enter(me) {
  if (me.role !== "admin") {
    showDenied(me);
    return;
  }
  session.me = me;
  $("user-name").textContent = me.display_name && me.display_name !== me.username
    ? me.display_name + "（" + me.username + "）" : me.username;
  $("user-role").textContent = roleName(me.role);
  setView("app");
  session.loaded = {};
  try {
    await loadStages();
    await refreshTemplates();
    session.loaded.replies = true;
    route();
    refreshMergeBadge();
    markReady();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
    failed(err);
  }
}

function leave() {
  session.me = null;
  session.loaded = {};
}

document.querySelectorAll("dialog [data-close]").forEach((btn) => {
  btn.addEventListener("click", () => btn.closest("dialog").close());
});
window.addEventListener("hashchange", route);
initReplies();
initEditor();
initOffers();
initCustomers();
initMerges();
$("denied-logout").addEventListener("click", logout);
startLogin({ api, views: ["login", "denied", "app"], onEnter: enter, onLeave: leave });
