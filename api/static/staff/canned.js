/* Canned replies (快捷回复): inserted into the reply box at the cursor; admins add and
 * delete them. */
import { $, confirmDialog, h, toast } from "../common/staff-ui.js";
import { api } from "./api.js";
import { isAdmin } from "./state.js";

let canned = [];

export async function loadCanned() {
  try {
    canned = await api("GET", "/api/staff/canned-replies");
  } catch (err) {
    if (err.status === 401) return;
    canned = [];
  }
  renderCanned();
}

function renderCanned() {
  const list = $("canned-list");
  list.textContent = "";
  const admin = isAdmin();
  if (!canned.length) {
    list.appendChild(h("li", { class: "muted small canned-empty" },
      admin ? "还没有快捷回复，可在下方新增。" : "还没有快捷回复，请联系管理员添加。"));
  }
  for (const c of canned) {
    const li = h("li", { class: "canned-item" },
      h("button", { type: "button", class: "canned-use", "data-testid": "canned-item", "data-id": c.id, title: c.text,
        onclick: () => insertCanned(c.text) },
      h("span", { class: "strong" }, c.title), h("span", { class: "canned-preview" }, c.text)));
    if (admin) {
      li.appendChild(h("button", { type: "button", class: "canned-del", "aria-label": "删除快捷回复 " + c.title,
        title: "删除", onclick: () => deleteCanned(c) }, "×"));
    }
    list.appendChild(li);
  }
}

function insertCanned(text) {
  const input = $("reply-input");
  closeCanned();
  if (input.disabled) {
    toast("接入会话后才能回复顾客", "error");
    return;
  }
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  const caret = start + text.length;
  input.focus();
  input.setSelectionRange(caret, caret);
}

async function deleteCanned(c) {
  const ok = await confirmDialog("删除快捷回复“" + c.title + "”？\n\n" + c.text, "删除");
  if (!ok) return;
  try {
    await api("DELETE", "/api/staff/canned-replies/" + c.id);
    await loadCanned();
  } catch (err) {
    if (err.status !== 401) toast(err.detail, "error");
  }
}

async function addCanned(e) {
  e.preventDefault();
  const title = $("canned-title").value.trim();
  const text = $("canned-text").value.trim();
  if (!title || !text) {
    toast(!title ? "请填写快捷回复的标题" : "请填写快捷回复的内容", "error");
    return;
  }
  try {
    await api("POST", "/api/staff/canned-replies", { title: title, text: text });
    $("canned-title").value = "";
    $("canned-text").value = "";
    await loadCanned();
  } catch (err) {
    if (err.status !== 401) toast(err.detail, "error");
  }
}

export function closeCanned() {
  $("canned-panel").hidden = true;
  $("canned-toggle").setAttribute("aria-expanded", "false");
}

export function initCanned() {
  $("canned-form").addEventListener("submit", addCanned);
  $("canned-toggle").addEventListener("click", () => {
    const panel = $("canned-panel");
    if (!panel.hidden) {
      closeCanned();
      return;
    }
    panel.hidden = false;
    $("canned-toggle").setAttribute("aria-expanded", "true");
    loadCanned();
  });
  document.addEventListener("click", (e) => {
    if (!$("canned-panel").hidden && !e.target.closest(".canned-wrap")) closeCanned();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("canned-panel").hidden) {
      closeCanned();
      $("canned-toggle").focus();
    }
  });
}
