/* The variant editor (new / edit, variables inserted at the cursor, a character count)
 * and the preview of what a customer of the stage would be told. */
import { $, ApiError, clear, h, toast } from "../common/staff-ui.js";
import { stageName } from "../common/labels.js";
import { api } from "./api.js";
import { currentTemplate, refreshTemplates, renderTemplate, replies } from "./replies.js";
import { busy, failed } from "./ui.js";

const MAX_VARIANT_CHARS = 1000;
let els = null; // the editor's elements, found by initEditor()

function charCount(text) {
  let n = 0;
  for (const _ of text) n++; // eslint-disable-line no-unused-vars
  return n;
}

export function openEditor(variant) {
  replies.editing = variant ? variant.id : "new";
  els.title.textContent = variant ? "编辑变体 #" + variant.id + "（当前第 " + variant.version + " 版）" : "新增变体";
  els.text.value = variant ? variant.text : "";
  els.weight.value = variant ? String(variant.weight) : "1";
  els.persona.value = variant && variant.persona ? variant.persona : "";
  els.enabled.checked = variant ? variant.enabled : true;
  els.note.value = "";
  setEditorError("");
  updateCount();
  els.box.hidden = false;
  renderTemplate();
  els.text.focus();
  els.box.scrollIntoView({ block: "nearest" });
}

export function closeEditor() {
  replies.editing = null;
  els.box.hidden = true;
  setEditorError("");
}

function setEditorError(text) {
  els.error.textContent = text;
  els.text.setAttribute("aria-invalid", text ? "true" : "false");
}

function updateCount() {
  const n = charCount(els.text.value.trim());
  els.count.textContent = n + "/" + MAX_VARIANT_CHARS;
  els.count.classList.toggle("over", n > MAX_VARIANT_CHARS);
}

export function insertVariable(name) {
  if (els.box.hidden) openEditor(null);
  const ta = els.text;
  const token = "{" + name + "}";
  const start = ta.selectionStart ?? ta.value.length;
  const end = ta.selectionEnd ?? ta.value.length;
  ta.setRangeText(token, start, end, "end");
  ta.focus();
  updateCount();
}

function editorBody() {
  const weight = Number(els.weight.value);
  return {
    text: els.text.value,
    weight: weight,
    persona: els.persona.value || null,
    enabled: els.enabled.checked,
    note: els.note.value.trim(),
  };
}

function checkDraft(body) {
  if (!body.text.trim()) return "回复内容不能为空。";
  if (!Number.isFinite(body.weight) || els.weight.value === "") return "权重须为 0 到 100 之间的数字。";
  return "";
}

function save(e) {
  return busy(e.currentTarget, async () => {
    const tpl = currentTemplate();
    if (!tpl || replies.editing === null) return;
    const body = editorBody();
    const problem = checkDraft(body);
    if (problem) {
      setEditorError(problem);
      return;
    }
    setEditorError("");
    try {
      let saved;
      if (replies.editing === "new") {
        saved = await api("POST", "/api/admin/variants", Object.assign({ template: tpl.name, stage: replies.stage }, body));
      } else {
        saved = await api("PATCH", "/api/admin/variants/" + replies.editing, body);
      }
      closeEditor();
      await refreshTemplates();
      toast("已保存：变体 #" + saved.id + " 第 " + saved.version + " 版，已对" + stageName(saved.stage) + "生效。");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // back on the login screen
      setEditorError(err instanceof ApiError ? err.detail : String(err));
    }
  });
}

async function preview(withDraft, button) {
  const tpl = currentTemplate();
  if (!tpl) return;
  const body = { stage: replies.stage, template: tpl.name };
  if (withDraft) {
    const draft = editorBody();
    if (!draft.text.trim()) {
      setEditorError("请先输入回复内容再预览。");
      return;
    }
    body.text = draft.text;
    body.persona = draft.persona;
  }
  await busy(button, async () => {
    try {
      const result = await api("POST", "/api/admin/preview", body);
      if (withDraft) setEditorError("");
      renderPreview(result, withDraft);
    } catch (err) {
      if (withDraft && err instanceof ApiError && err.status === 422) setEditorError(err.detail);
      else failed(err);
    }
  });
}

function renderPreview(result, draft) {
  const box = clear($("preview-messages"));
  const total = result.candidates.reduce((a, c) => a + (c.weight || 0), 0);
  box.appendChild(h("div", { class: "pmsg pmsg-customer" }, h("div", { class: "bubble" }, "你好")));
  result.candidates.forEach((c) => {
    let caption;
    if (c.source === "draft") caption = "草稿（尚未保存）";
    else if (c.source === "default") caption = "默认回复（该阶段没有可用变体）";
    else caption = "变体 #" + c.variant_id + " · 权重 " + c.weight + (result.candidates.length > 1 && total ? " · 约 " + Math.round((c.weight / total) * 100) + "% 的机会" : "");
    box.appendChild(h("div", { class: "pmsg pmsg-bot", "data-source": c.source },
      h("div", { class: "bubble", "data-testid": "preview-bubble" }, c.text),
      h("div", { class: "pmsg-caption" }, caption)));
  });
  $("preview-caption").textContent = stageName(result.stage) + " · " + result.template + (draft ? " · 草稿" : " · 已保存的内容");
  const s = result.sample || {};
  $("preview-sample").textContent = "示例顾客：" + (s.name || "") + "，" + stageName(result.stage) + "，积分 " + (s.points ?? "") +
    (s.coupon_code ? "，持有券 " + s.coupon_code : "") + "。实际发送时会填入每位顾客自己的信息；缺少某个变量的值时，该变体不会被选用。";
  $("preview").hidden = false;
  $("preview").scrollIntoView({ block: "nearest" });
}

export function initEditor() {
  els = {
    box: $("editor"),
    title: $("editor-title"),
    text: $("variant-text"),
    weight: $("variant-weight"),
    persona: $("variant-persona"),
    enabled: $("variant-enabled"),
    note: $("variant-note"),
    error: $("variant-error"),
    count: $("variant-count"),
  };
  els.text.addEventListener("input", () => {
    updateCount();
    if (els.error.textContent) setEditorError("");
  });
  $("variant-new").addEventListener("click", () => openEditor(null));
  $("variant-cancel").addEventListener("click", () => {
    closeEditor();
    renderTemplate();
  });
  $("variant-save").addEventListener("click", save);
  $("preview-button").addEventListener("click", (e) => preview(true, e.currentTarget));
  $("preview-saved").addEventListener("click", (e) => preview(false, e.currentTarget));
}
