/* The queue (会话队列): waiting conversations, mine, and (admins) the other agents'.
 * Polled every 2 s (backing off while the server is unreachable) and at once on a live
 * notice; the page title counts waiting customers and unread conversations. */
import { $, h, setText } from "../common/staff-ui.js";
import { channelName, stageName } from "../common/labels.js";
import { api } from "./api.js";
import { currentId, openConversation } from "./conversation.js";
import { isAdmin, myId, session } from "./state.js";
import { customerName, elapsedSince, fmtDateTime, fmtWait, reasonLabel } from "./text.js";

export const TITLE = "回响客服工作台";
const QUEUE_POLL_MS = 2000;
export const MAX_BACKOFF_MS = 15000;

const q = {
  items: { waiting: [], mine: [], others: [] },
  at: 0, // performance.now() when the queue was fetched (for the ticking waits)
  failures: 0,
  seq: 0, // requests are numbered: an older answer never overwrites a newer one
  applied: 0,
  knownWaiting: null, // Set of waiting ids seen before (null until the first load)
  newUntil: new Map(), // conversation id -> time until which it is marked new
  lastText: new Map(), // conversation id -> last message text (for the unread dot)
  unread: new Set(),
  timer: null,
};

export function setConn(ok) {
  const el = $("conn");
  el.dataset.state = ok ? "ok" : "down";
  setText(el, ok ? "实时同步中" : "连接中断，正在重试…");
  el.title = ok ? "队列每 2 秒、当前会话每 1.5 秒自动刷新" : "无法连接服务器，稍后会自动重试";
}

/* A fresh start after logging in. */
export function resetQueue() {
  q.knownWaiting = null;
  q.newUntil.clear();
  q.lastText.clear();
  q.unread.clear();
}

export function stopQueue() {
  if (q.timer) clearTimeout(q.timer);
  q.timer = null;
}

function scheduleQueue(delay) {
  if (q.timer) clearTimeout(q.timer);
  q.timer = session.running ? setTimeout(pollQueue, delay) : null;
}

export async function pollQueue() {
  q.timer = null;
  if (!session.running) return;
  const seq = ++q.seq;
  try {
    const data = await api("GET", "/api/staff/queue");
    q.failures = 0;
    setConn(true);
    if (seq < q.applied || !session.running) return;
    q.applied = seq;
    applyQueue(data);
  } catch (err) {
    if (err.status === 401) return;
    q.failures = Math.min(q.failures + 1, 4);
    setConn(false);
  }
  scheduleQueue(Math.min(QUEUE_POLL_MS * Math.pow(2, q.failures), MAX_BACKOFF_MS));
}

export function refreshQueueSoon() {
  if (session.running) scheduleQueue(0);
}

/* The waiting item of a conversation, for its real place in line. */
export function waitingItem(id) {
  return q.items.waiting.find((i) => i.conversation_id === id);
}

function applyQueue(data) {
  q.items = { waiting: data.waiting || [], mine: data.mine || [], others: data.others || [] };
  q.at = performance.now();
  const now = Date.now();
  const openId = currentId();

  // Newly arrived waiting conversations are marked for a while.
  const ids = new Set(q.items.waiting.map((i) => i.conversation_id));
  let arrived = 0;
  if (q.knownWaiting) {
    for (const id of ids) {
      if (!q.knownWaiting.has(id)) {
        q.newUntil.set(id, now + 15000);
        arrived++;
      }
    }
  }
  q.knownWaiting = ids;
  for (const [id, until] of q.newUntil) if (until < now || !ids.has(id)) q.newUntil.delete(id);

  // A changed last message in a conversation that is not open: unread.
  for (const item of q.items.mine.concat(q.items.others)) {
    const before = q.lastText.get(item.conversation_id);
    if (before !== undefined && before !== item.last_message && item.conversation_id !== openId) {
      q.unread.add(item.conversation_id);
    }
    q.lastText.set(item.conversation_id, item.last_message);
  }

  renderList($("list-waiting"), q.items.waiting, "暂无等待中的顾客");
  renderList($("list-mine"), q.items.mine, "您当前没有接待中的会话");
  if (isAdmin()) renderList($("list-others"), q.items.others, "其他客服暂无会话");
  setText($("count-waiting"), q.items.waiting.length);
  setText($("count-mine"), q.items.mine.length);
  setText($("count-others"), q.items.others.length);
  $("count-waiting").dataset.zero = q.items.waiting.length ? "0" : "1";
  updateTitle(arrived);
  tickQueue();
}

export function updateTitle(arrived) {
  const n = q.items.waiting.length;
  const unread = q.unread.size;
  let title = TITLE;
  if (n) title = "（" + n + " 位等待）" + title;
  if (unread) title = "【" + unread + " 条新消息】" + title;
  if (arrived && document.visibilityState !== "visible") title = "【新顾客】" + title;
  document.title = title;
}

/* The conversation ``id`` is opened: it is the active item and no longer unread. */
export function markOpened(id) {
  q.unread.delete(id);
  document.querySelectorAll(".qi").forEach((b) => b.classList.toggle("active", b.dataset.conversationId === id));
  document.querySelectorAll(".qi-dot").forEach((d) => {
    if (d.closest(".qi").dataset.conversationId === id) d.hidden = true;
  });
  updateTitle(0);
}

// Queue items are kept per conversation and updated in place, so a poll never
// replaces the button under the mouse.
function renderList(list, items, emptyText) {
  const existing = new Map();
  list.querySelectorAll(":scope > li[data-key]").forEach((li) => existing.set(li.dataset.key, li));
  let empty = list.querySelector(":scope > li.queue-empty");
  if (!items.length) {
    existing.forEach((li) => li.remove());
    if (!empty) list.appendChild(h("li", { class: "queue-empty" }, emptyText));
    return;
  }
  if (empty) empty.remove();
  let prev = null;
  for (const item of items) {
    let li = existing.get(item.conversation_id);
    if (li) existing.delete(item.conversation_id);
    else li = buildQueueItem(item);
    updateQueueItem(li, item);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  existing.forEach((li) => li.remove());
}

function buildQueueItem(item) {
  const parts = {
    name: h("span", { class: "qi-name ellipsis" }),
    stage: h("span", { class: "stage-pill" }),
    flag: h("span", { class: "qi-flag" }),
    reason: h("span", { class: "qi-reason" }),
    channel: h("span", { class: "qi-channel" }),
    last: h("span", { class: "qi-last ellipsis" }),
    wait: h("span", { class: "qi-wait", "data-testid": "queue-wait" }),
    pos: h("span", { class: "qi-pos" }),
    dot: h("span", { class: "qi-dot", title: "有新消息", "aria-label": "有新消息" }),
  };
  const button = h("button", { type: "button", class: "qi", "data-testid": "queue-item" },
    h("span", { class: "qi-top" }, parts.name, parts.dot, parts.stage),
    h("span", { class: "qi-tags" }, parts.reason, parts.channel, parts.flag),
    parts.last,
    h("span", { class: "qi-bottom" }, parts.wait, parts.pos));
  button.addEventListener("click", () => openConversation(button.dataset.conversationId));
  const li = h("li", { "data-key": item.conversation_id }, button);
  li._parts = parts;
  li._button = button;
  return li;
}

function updateQueueItem(li, item) {
  const p = li._parts;
  const b = li._button;
  const id = item.conversation_id;
  b.dataset.conversationId = id;
  b.dataset.handler = item.handler;
  b.classList.toggle("active", id === currentId());
  b.classList.toggle("is-new", q.newUntil.has(id));
  setText(p.name, customerName(item));
  setText(p.stage, stageName(item.stage));
  p.stage.className = "stage-pill stage-" + (item.stage || "none");
  setText(p.reason, reasonLabel(item.reason));
  p.reason.hidden = !item.reason;
  setText(p.channel, channelName(item.channel));
  setText(p.last, item.last_message || "");
  p.dot.hidden = !q.unread.has(id);

  const me = myId();
  let flag = "";
  if (item.handler === "waiting" && item.preferred_staff_id != null) {
    flag = item.preferred_staff_id === me ? "专属·优先给您" : "已指定专属客服";
  }
  setText(p.flag, flag);
  p.flag.hidden = !flag;
  p.flag.dataset.mine = item.preferred_staff_id === me ? "1" : "0";
  b.dataset.reserved = item.preferred_staff_id != null && item.preferred_staff_id === me ? "me"
    : item.preferred_staff_id != null ? "other" : "";

  if (item.handler === "waiting") {
    p.wait.dataset.base = String(item.waiting_seconds || 0);
    setText(p.pos, item.position ? "第 " + item.position + " 位" : "");
  } else {
    delete p.wait.dataset.base;
    setText(p.wait, item.claimed_at ? "接入于 " + fmtDateTime(item.claimed_at) : "");
    setText(p.pos, "");
  }
}

// Every second: the waiting times count up between polls; "new" marks expire.
export function tickQueue() {
  const since = elapsedSince(q.at);
  document.querySelectorAll(".qi-wait[data-base]").forEach((el) => {
    const s = Number(el.dataset.base) + since;
    setText(el, "已等待 " + fmtWait(s));
    el.dataset.level = s >= 300 ? "long" : s >= 120 ? "warn" : "";
  });
  const now = Date.now();
  let changed = false;
  for (const [id, until] of q.newUntil) {
    if (until < now) {
      q.newUntil.delete(id);
      changed = true;
    }
  }
  if (changed) {
    document.querySelectorAll(".qi.is-new").forEach((b) => {
      if (!q.newUntil.has(b.dataset.conversationId)) b.classList.remove("is-new");
    });
  }
}

export function initQueue() {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session.running) updateTitle(0);
  });
}
