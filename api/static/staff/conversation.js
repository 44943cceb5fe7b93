/* The open conversation: its header, state and buttons. Polled every 1.5 s (only
 * messages newer than the last one seen, via ?after_id=) and at once on a live notice;
 * the conversation in the URL (#c=…) is opened after login. */
import { $, append, h, setText } from "../common/staff-ui.js";
import { channelName, stageName } from "../common/labels.js";
import { api, convUrl } from "./api.js";
import { closeCanned } from "./canned.js";
import { renderProfile, resetProfile } from "./profile.js";
import { MAX_BACKOFF_MS, markOpened, refreshQueueSoon, waitingItem } from "./queue.js";
import { isAdmin, myId, session } from "./state.js";
import { customerName, elapsedSince, fmtDateTime, fmtWait, reasonLabel } from "./text.js";
import { renderTimeline, sinceId } from "./timeline.js";

const CONV_POLL_MS = 1500;
const LIFECYCLE = ["escalated", "claimed", "handed_back", "resolved"];

// The open conversation; messages and notes are kept by id for the timeline.
export const view = {
  id: null,
  gen: 0,
  timer: null,
  failures: 0,
  seq: 0,
  applied: 0,
  conv: null, // QueueItem of the open conversation
  at: 0,
  lastId: 0,
  messages: new Map(),
  notes: new Map(),
  events: [],
  gone: false, // the API no longer shows this conversation to us (404)
  acting: false,
};

export function currentId() {
  return view.id;
}

export function showError(text) {
  setText($("ws-error"), text || "");
}

export function hashConversation() {
  const m = /(?:^#|&)c=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

export function stopConversation() {
  if (view.timer) clearTimeout(view.timer);
  view.timer = null;
}

function resetConversationState() {
  stopConversation();
  view.gen++;
  view.conv = null;
  view.lastId = 0;
  view.messages.clear();
  view.notes.clear();
  view.events = [];
  resetProfile();
  view.gone = false;
  view.failures = 0;
  $("messages").textContent = "";
  showError("");
}

export function closeConversation() {
  resetConversationState();
  view.id = null;
  $("conv-empty").hidden = false;
  $("conv-body").hidden = true;
  $("profile-empty").hidden = false;
  $("profile-body").hidden = true;
  closeCanned();
}

export async function openConversation(id) {
  if (!id) return;
  if (id === view.id && !view.gone) {
    $("reply-input").disabled || $("reply-input").focus();
    return;
  }
  resetConversationState();
  view.id = id;
  if (hashConversation() !== id) history.replaceState(null, "", "#c=" + encodeURIComponent(id));
  markOpened(id);
  $("conv-empty").hidden = true;
  $("conv-body").hidden = false;
  setText($("conv-name"), "加载中…");
  $("conv-meta").textContent = "";
  setText($("conv-state"), "");
  $("reply-input").value = "";
  $("note-input").value = "";
  updateControls();
  await pollConversation(true);
}

function scheduleConv(delay) {
  if (view.timer) clearTimeout(view.timer);
  view.timer = session.running && view.id && !view.gone ? setTimeout(() => pollConversation(false), delay) : null;
}

export async function pollConversation(first) {
  view.timer = null;
  if (!session.running || !view.id || view.gone) return;
  const gen = view.gen;
  const id = view.id;
  const seq = ++view.seq;
  try {
    const data = await api("GET", convUrl(id, "?after_id=" + sinceId()));
    if (gen !== view.gen) return; // another conversation was opened meanwhile
    view.failures = 0;
    if (seq < view.applied) return; // a newer answer is already shown
    view.applied = seq;
    applyConversation(data, first);
  } catch (err) {
    if (gen !== view.gen || err.status === 401) return;
    if (err.status === 404) {
      conversationGone(err.detail);
      return;
    }
    view.failures = Math.min(view.failures + 1, 4);
    if (first) showError("会话加载失败：" + err.detail);
  }
  scheduleConv(Math.min(CONV_POLL_MS * Math.pow(2, view.failures), MAX_BACKOFF_MS));
}

export function refreshConversationSoon() {
  if (view.id && !view.gone) scheduleConv(0);
}

export function conversationGone(detail) {
  view.gone = true;
  stopConversation();
  showError((detail || "会话不存在，或不在您的接待范围内") + "（可能已被其他客服接入）。");
  if (!view.conv) {
    setText($("conv-name"), "无法查看此会话");
    $("profile-empty").hidden = false;
    $("profile-body").hidden = true;
  }
  setText($("conv-state"), "不在您的接待范围内");
  $("conv-state").dataset.state = "gone";
  updateControls();
  refreshQueueSoon();
}

function applyConversation(data, first) {
  view.conv = data.conversation;
  view.at = performance.now();
  let changed = first;
  for (const m of data.messages || []) {
    const old = view.messages.get(m.id);
    if (!old || old.text !== m.text || old.staff_name !== m.staff_name || old.delivery !== m.delivery) {
      view.messages.set(m.id, m);
      changed = true;
    }
    if (m.id > view.lastId) view.lastId = m.id;
  }
  view.events = data.events || [];
  for (const e of view.events) {
    const old = view.notes.get(e.id);
    if (e.kind === "note" && (!old || old.text !== e.text)) {
      view.notes.set(e.id, e);
      changed = true;
    }
  }
  if (changed) renderTimeline(first);
  renderHeader();
  renderProfile(data.customer);
  updateControls();
}

// The last hand-over event tells who has the conversation and whether it is closed.
function lifecycle() {
  let last = null;
  for (const e of view.events) if (LIFECYCLE.includes(e.kind)) last = e;
  return last;
}

function convStatus() {
  const c = view.conv;
  if (!c) return { key: "loading", text: "" };
  if (view.gone) return { key: "gone", text: "不在您的接待范围内" };
  const last = lifecycle();
  if (c.handler === "waiting") return { key: "waiting", text: "等待接入" };
  if (c.handler === "staff") {
    if (c.assigned_staff_id === myId()) return { key: "mine", text: "由我接待" };
    const who = last && last.kind === "claimed" && last.staff_name ? last.staff_name : "其他客服";
    return { key: "other", text: "由「" + who + "」接待" };
  }
  if (last && last.kind === "resolved") return { key: "closed", text: "已结束" };
  return { key: "bot", text: "智能客服接待中" };
}

function renderHeader() {
  const c = view.conv;
  if (!c) return;
  setText($("conv-name"), customerName(c));
  const meta = $("conv-meta");
  meta.textContent = "";
  const bits = [h("span", { class: "stage-pill stage-" + (c.stage || "none") }, stageName(c.stage)),
    h("span", null, channelName(c.channel))];
  if (c.reason) bits.push(h("span", { class: "qi-reason" }, reasonLabel(c.reason)));
  if (c.handler === "waiting") {
    bits.push(h("span", { id: "conv-wait", class: "qi-wait" }));
    // The detail's own position is computed among this one conversation only; the
    // queue's is the real place in line.
    const inQueue = waitingItem(c.conversation_id);
    if (inQueue && inQueue.position) bits.push(h("span", null, "第 " + inQueue.position + " 位"));
  } else if (c.handler === "staff" && c.claimed_at) {
    bits.push(h("span", null, "接入于 " + fmtDateTime(c.claimed_at)));
  }
  bits.push(h("span", { class: "mono", title: c.conversation_id }, "会话 " + c.conversation_id.slice(0, 8)));
  append(meta, bits);
  const st = convStatus();
  setText($("conv-state"), st.text);
  $("conv-state").dataset.state = st.key;
  tickConversation();
}

// Every second: a waiting conversation's wait counts up between polls.
export function tickConversation() {
  const wait = $("conv-wait");
  if (wait && view.conv && view.conv.handler === "waiting" && !view.gone) {
    setText(wait, "已等待 " + fmtWait((view.conv.waiting_seconds || 0) + elapsedSince(view.at)));
  }
}

export function updateControls() {
  const c = view.conv;
  const st = convStatus();
  const admin = isAdmin();
  const visible = !!c && !view.gone;
  const mine = visible && st.key === "mine";
  $("claim").hidden = !(c && c.handler === "waiting");
  $("claim").disabled = !visible || view.acting || c.handler !== "waiting";
  $("take-over").hidden = !(admin && visible && c.handler === "bot" && st.key !== "closed");
  $("take-over").disabled = view.acting;
  const canRelease = visible && c.handler === "staff" && (mine || admin);
  $("hand-back").disabled = !canRelease || view.acting;
  $("resolve").disabled = !canRelease || view.acting;
  $("reply-input").disabled = !mine;
  $("reply-send").disabled = !mine || view.acting;
  $("reply-input").placeholder = mine ? "输入回复，Enter 发送，Shift+Enter 换行"
    : st.key === "waiting" ? "点击“接入”后即可回复顾客…"
      : st.key === "other" ? "该会话由其他客服接待，您不能回复"
        : st.key === "closed" ? "会话已结束" : "会话当前不由您接待";
  $("note-input").disabled = !visible;
  $("note-add").disabled = !visible || view.acting;
}

export function initConversation() {
  window.addEventListener("hashchange", () => {
    const id = hashConversation();
    if (id && id !== view.id && session.running) openConversation(id);
  });
}
