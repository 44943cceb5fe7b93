/* What the agent does in the open conversation: claim (接入), take over from the bot
 * (admins), reply, add an internal note, hand back to the bot or resolve. One action at
 * a time; a 404 means the conversation is no longer ours to see. */
import { $, confirmDialog, toast } from "../common/staff-ui.js";
import { api, convUrl } from "./api.js";
import {
  conversationGone, pollConversation, refreshConversationSoon, showError, updateControls, view,
} from "./conversation.js";
import { refreshQueueSoon } from "./queue.js";
import { renderTimeline } from "./timeline.js";

async function act(button, fn) {
  if (view.acting) return;
  view.acting = true;
  updateControls();
  if (button) button.setAttribute("aria-busy", "true");
  try {
    await fn();
  } finally {
    view.acting = false;
    if (button) button.removeAttribute("aria-busy");
    updateControls();
  }
}

function actionFailed(prefix, err) {
  if (err.status === 401) return;
  if (err.status === 404) {
    conversationGone(prefix + err.detail);
    return;
  }
  showError(prefix + err.detail);
  refreshConversationSoon();
  refreshQueueSoon();
}

function claim() {
  return act($("claim"), async () => {
    const id = view.id;
    showError("");
    try {
      const msg = await api("POST", convUrl(id, "/claim"));
      if (id !== view.id) return;
      view.messages.set(msg.id, msg);
      toast("已接入，顾客已收到提示");
      await pollConversation(false);
      refreshQueueSoon();
      $("reply-input").focus();
    } catch (err) {
      actionFailed("接入失败：", err);
    }
  });
}

async function takeOver() {
  const ok = await confirmDialog("介入这个正在由智能客服接待的会话？\n\n顾客会收到人工客服已接入的提示，之后由您回复。", "介入");
  if (!ok) return;
  await act($("take-over"), async () => {
    showError("");
    try {
      await api("POST", convUrl(view.id, "/take-over"));
      await pollConversation(false);
      refreshQueueSoon();
    } catch (err) {
      actionFailed("介入失败：", err);
    }
  });
}

async function sendReply() {
  const input = $("reply-input");
  const text = input.value.trim();
  if (input.disabled || view.acting) return;
  if (!text) {
    showError("回复内容不能为空。");
    input.focus();
    return;
  }
  await act($("reply-send"), async () => {
    const id = view.id;
    showError("");
    try {
      const msg = await api("POST", convUrl(id, "/messages"), { text: text });
      if (id !== view.id) return;
      if (input.value.trim() === text) input.value = "";
      view.messages.set(msg.id, msg);
      renderTimeline(true);
      refreshConversationSoon();
    } catch (err) {
      actionFailed("发送失败：", err);
    }
  });
  input.focus();
}

async function addNote(e) {
  e.preventDefault();
  const input = $("note-input");
  const text = input.value.trim();
  if (!text) {
    showError("备注内容不能为空。");
    input.focus();
    return;
  }
  await act($("note-add"), async () => {
    const id = view.id;
    showError("");
    try {
      const note = await api("POST", convUrl(id, "/notes"), { text: text });
      if (id !== view.id) return;
      input.value = "";
      view.notes.set(note.id, note);
      renderTimeline(true);
      toast("备注已添加（顾客看不到）");
    } catch (err) {
      actionFailed("添加备注失败：", err);
    }
  });
}

async function release(kind) {
  const handBack = kind === "hand-back";
  const ok = await confirmDialog(handBack
    ? "把会话转回智能客服？\n\n顾客会收到“人工客服已离开，接下来由智能客服继续为您服务”的提示。"
    : "结束本次会话？\n\n会话将关闭，顾客会收到服务结束的提示；顾客再发消息会开始新的会话。",
  handBack ? "转回机器人" : "结束会话");
  if (!ok) return;
  await act($(kind), async () => {
    const id = view.id;
    showError("");
    try {
      await api("POST", convUrl(id, "/" + kind));
      toast(handBack ? "已转回智能客服" : "会话已结束");
      await pollConversation(false);
      refreshQueueSoon();
    } catch (err) {
      actionFailed((handBack ? "转回失败：" : "结束失败："), err);
    }
  });
}

export function initActions() {
  $("claim").addEventListener("click", claim);
  $("take-over").addEventListener("click", takeOver);
  $("reply-send").addEventListener("click", sendReply);
  $("reply-input").addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey) return;
    if (e.isComposing || e.keyCode === 229) return; // the IME is choosing characters
    e.preventDefault();
    sendReply();
  });
  $("reply-input").addEventListener("input", () => {
    if ($("ws-error").textContent === "回复内容不能为空。") showError("");
  });
  $("note-form").addEventListener("submit", addNote);
  $("hand-back").addEventListener("click", () => release("hand-back"));
  $("resolve").addEventListener("click", () => release("resolve"));
}
