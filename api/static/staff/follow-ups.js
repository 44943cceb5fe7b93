/* The left column's tabs (会话队列 / 回访任务) and the follow-up tasks: customers whose
 * survey was negative or very low, to call back. Fetched on live notices (at most every
 * 3 s) and every 30 s; 标记完成 asks for the outcome in #follow-up-dialog. */
import { $, h, setText, toast } from "../common/staff-ui.js";
import { stageName } from "../common/labels.js";
import { api } from "./api.js";
import { openConversation, refreshConversationSoon } from "./conversation.js";
import { session } from "./state.js";
import { fmtAge, fmtDateTime, followUpReason } from "./text.js";

const FOLLOW_UP_POLL_MS = 30000;
const FOLLOW_UP_MIN_GAP_MS = 3000; // live notices come with every message: refresh at most this often
const FOLLOW_UP_LIMIT = 200;

let tab = "queue"; // the left column shows "queue" or "follow-ups"
const fu = {
  view: "open", // "open" | "done"
  open: null, // open tasks (null until the first load)
  done: [],
  timer: null,
  soon: false, // a refresh after a live notice is already scheduled
  lastAt: 0, // performance.now() of the last refresh
  seq: 0,
  applied: 0,
  failed: false,
  task: null, // the task in the 完成回访 dialog
  opener: null, // the button that opened it (focus returns there)
  saving: false,
};

function setTab(next, focus) {
  tab = next;
  const on = tab === "follow-ups";
  for (const [id, selected] of [["tab-queue", !on], ["tab-follow-ups", on]]) {
    $(id).setAttribute("aria-selected", selected ? "true" : "false");
    $(id).tabIndex = selected ? 0 : -1;
    $(id).classList.toggle("active", selected);
  }
  $("queue-panel").hidden = on;
  $("follow-ups").hidden = !on;
  document.body.dataset.tab = tab;
  if (focus) $(on ? "tab-follow-ups" : "tab-queue").focus();
  if (on) loadFollowUps();
}

/* A fresh start after logging in. */
export function resetFollowUps() {
  fu.open = null;
  fu.done = [];
}

export function stopFollowUps() {
  if (fu.timer) clearTimeout(fu.timer);
  fu.timer = null;
  fu.soon = false;
}

function scheduleFollowUps(delay) {
  if (fu.timer) clearTimeout(fu.timer);
  fu.timer = session.running ? setTimeout(loadFollowUps, delay) : null;
}

// After a live notice: soon, but no more often than every few seconds.
export function followUpsSoon() {
  if (!session.running || fu.soon) return;
  fu.soon = true;
  scheduleFollowUps(Math.max(0, fu.lastAt + FOLLOW_UP_MIN_GAP_MS - performance.now()));
}

export async function loadFollowUps() {
  if (fu.timer) clearTimeout(fu.timer);
  fu.timer = null;
  fu.soon = false;
  if (!session.running) return;
  fu.lastAt = performance.now();
  const seq = ++fu.seq;
  const wantDone = tab === "follow-ups" && fu.view === "done";
  try {
    const [open, done] = await Promise.all([
      api("GET", "/api/staff/follow-ups?status=open&limit=" + FOLLOW_UP_LIMIT),
      wantDone ? api("GET", "/api/staff/follow-ups?status=done&limit=50") : Promise.resolve(null),
    ]);
    if (seq < fu.applied || !session.running) return;
    fu.applied = seq;
    fu.open = Array.isArray(open) ? open : [];
    if (done) fu.done = done;
    fu.failed = false;
    renderFollowUps();
  } catch (err) {
    if (err.status === 401 || seq < fu.applied) return;
    fu.failed = true;
    setText($("fu-error"), "回访任务加载失败：" + err.detail);
  } finally {
    if (seq === fu.seq && session.running && !fu.timer) scheduleFollowUps(FOLLOW_UP_POLL_MS);
  }
}

function renderFollowUps() {
  const open = fu.open || [];
  const n = open.length;
  const badge = $("count-follow-ups");
  setText(badge, n >= FOLLOW_UP_LIMIT ? FOLLOW_UP_LIMIT + "+" : String(n));
  badge.dataset.zero = n ? "0" : "1";
  badge.setAttribute("aria-label", "待回访 " + n + " 个");
  setText($("fu-error"), "");
  const showDone = fu.view === "done";
  $("fu-show-open").setAttribute("aria-pressed", showDone ? "false" : "true");
  $("fu-show-done").setAttribute("aria-pressed", showDone ? "true" : "false");
  const items = showDone ? fu.done : open;
  const list = $("fu-list");
  list.dataset.view = fu.view;

  // Kept per task and replaced only when it changed: a refresh never swaps the
  // button under the mouse or the keyboard focus.
  const existing = new Map();
  list.querySelectorAll(":scope > li[data-key]").forEach((li) => existing.set(li.dataset.key, li));
  const empty = list.querySelector(":scope > li.queue-empty");
  if (empty) empty.remove();
  if (!items.length) {
    existing.forEach((li) => li.remove());
    list.appendChild(h("li", { class: "queue-empty" }, showDone ? "暂无已完成的回访任务" : "暂无待回访的顾客 🎉"));
    tickFollowUps();
    return;
  }
  let prev = null;
  for (const task of items) {
    const key = fu.view + ":" + task.id;
    const sig = JSON.stringify(task);
    let li = existing.get(key);
    if (li) existing.delete(key);
    if (!li || li.dataset.sig !== sig) {
      const fresh = buildFollowUp(task);
      fresh.dataset.key = key;
      fresh.dataset.sig = sig;
      if (li) {
        const hadFocus = li.contains(document.activeElement);
        li.replaceWith(fresh);
        if (hadFocus) (fresh.querySelector("[data-testid='follow-up-done']") || fresh.querySelector("button") || $("fu-list")).focus();
      }
      li = fresh;
    }
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  existing.forEach((li) => {
    if (li.contains(document.activeElement)) $("tab-follow-ups").focus();
    li.remove();
  });
  tickFollowUps();
}

function buildFollowUp(t) {
  const name = t.customer_name || "访客#" + t.customer_id;
  const done = t.status === "done";
  const actions = h("div", { class: "fu-actions" });
  if (t.conversation_id) {
    actions.appendChild(h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "follow-up-open",
      "aria-label": "查看" + name + "的会话", onclick: () => openConversation(t.conversation_id) }, "查看会话"));
  }
  if (!done) {
    actions.appendChild(h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "follow-up-done",
      "aria-label": "标记完成：" + name + "（" + followUpReason(t.reason) + "）",
      onclick: (e) => openFollowUpDialog(t, e.currentTarget) }, "标记完成"));
  }
  return h("li", null,
    h("article", { class: "fu-item", "data-testid": "follow-up-item", "data-follow-up-id": t.id,
      "data-conversation-id": t.conversation_id, "data-reason": t.reason, "data-status": t.status },
    h("div", { class: "qi-top" }, h("span", { class: "qi-name ellipsis", "data-testid": "follow-up-customer" }, name),
      h("span", { class: "stage-pill stage-" + (t.stage || "none") }, stageName(t.stage))),
    h("div", { class: "qi-tags" },
      h("span", { class: "fu-reason", "data-reason": t.reason, "data-testid": "follow-up-reason" }, followUpReason(t.reason)),
      done ? h("span", null, "完成于 " + fmtDateTime(t.done_at))
        : h("span", { class: "fu-wait", "data-created": t.created_at, title: "创建于 " + fmtDateTime(t.created_at) })),
    t.detail ? h("p", { class: "fu-detail", "data-testid": "follow-up-detail" }, t.detail) : null,
    done && t.outcome ? h("p", { class: "fu-outcome" }, h("span", { class: "strong" }, "回访结果："), t.outcome) : null,
    actions));
}

// Every second: how long each open task has waited.
export function tickFollowUps() {
  document.querySelectorAll(".fu-wait[data-created]").forEach((el) => {
    const created = Date.parse(el.dataset.created);
    if (Number.isNaN(created)) return;
    const s = (Date.now() - created) / 1000;
    setText(el, "已等待 " + fmtAge(s));
    el.dataset.level = s >= 86400 ? "long" : s >= 4 * 3600 ? "warn" : "";
  });
}

export function openFollowUpDialog(task, opener) {
  const dialog = $("follow-up-dialog");
  if (dialog.open) return;
  fu.task = task;
  fu.opener = opener || null;
  const name = task.customer_name || "访客#" + task.customer_id;
  setText($("fu-dialog-who"), name + " · " + stageName(task.stage) + " · " + followUpReason(task.reason)
    + " · 创建于 " + fmtDateTime(task.created_at));
  setText($("fu-dialog-detail"), task.detail || "");
  $("fu-dialog-detail").hidden = !task.detail;
  $("fu-outcome").value = "";
  $("fu-outcome").removeAttribute("aria-invalid");
  setText($("fu-dialog-error"), "");
  $("fu-submit").disabled = false;
  dialog.showModal();
  $("fu-outcome").focus();
}

function closeFollowUpDialog() {
  const dialog = $("follow-up-dialog");
  if (dialog.open) dialog.close();
}

async function submitOutcome(e) {
  e.preventDefault();
  const task = fu.task;
  if (!task || fu.saving) return;
  const outcome = $("fu-outcome").value.trim();
  if (!outcome) {
    setText($("fu-dialog-error"), "请填写回访结果。");
    $("fu-outcome").setAttribute("aria-invalid", "true");
    $("fu-outcome").focus();
    return;
  }
  fu.saving = true;
  $("fu-submit").disabled = true;
  $("fu-submit").setAttribute("aria-busy", "true");
  try {
    await api("POST", "/api/staff/follow-ups/" + encodeURIComponent(task.id) + "/done", { outcome: outcome });
    if (fu.open) fu.open = fu.open.filter((t) => t.id !== task.id);
    closeFollowUpDialog();
    toast("回访任务已完成：" + (task.customer_name || "访客#" + task.customer_id));
    renderFollowUps();
    loadFollowUps();
    refreshConversationSoon(); // the profile's open follow-ups
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 409 || err.status === 404) {
      closeFollowUpDialog();
      toast(err.detail, "error");
      loadFollowUps();
      refreshConversationSoon();
    } else {
      setText($("fu-dialog-error"), "提交失败：" + err.detail);
    }
  } finally {
    fu.saving = false;
    $("fu-submit").disabled = false;
    $("fu-submit").removeAttribute("aria-busy");
  }
}

export function initFollowUps() {
  $("tab-queue").addEventListener("click", () => setTab("queue"));
  $("tab-follow-ups").addEventListener("click", () => setTab("follow-ups"));
  document.querySelector(".side-tabs").addEventListener("keydown", (e) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    const next = e.key === "Home" ? "queue" : e.key === "End" ? "follow-ups"
      : tab === "queue" ? "follow-ups" : "queue";
    setTab(next, true);
  });
  $("fu-show-open").addEventListener("click", () => {
    fu.view = "open";
    renderFollowUps();
  });
  $("fu-show-done").addEventListener("click", () => {
    fu.view = "done";
    renderFollowUps();
    loadFollowUps();
  });
  $("fu-refresh").addEventListener("click", () => loadFollowUps());
  $("follow-up-dialog").addEventListener("close", () => {
    const opener = fu.opener;
    fu.task = null;
    fu.opener = null;
    if (opener && opener.isConnected && document.body.dataset.view === "app") opener.focus();
  });
  $("fu-cancel").addEventListener("click", closeFollowUpDialog);
  $("fu-outcome").addEventListener("input", () => {
    if ($("fu-outcome").value.trim()) {
      $("fu-outcome").removeAttribute("aria-invalid");
      setText($("fu-dialog-error"), "");
    }
  });
  $("fu-outcome").addEventListener("keydown", (e) => {
    // Ctrl/⌘+Enter submits; Enter alone is a new line in the outcome.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      $("fu-form").requestSubmit();
    }
  });
  $("fu-form").addEventListener("submit", submitOutcome);
}
