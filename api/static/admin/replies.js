/* 回复管理: the reply templates, and each stage's variants of the chosen template
 * (enable / disable, delete, deleted ones with their history). The editor and the
 * preview are in editor.js. */
import { $, clear, confirmDialog, fmtTime, h, toast } from "../common/staff-ui.js";
import { personaName, stageName } from "../common/labels.js";
import { api, qs } from "./api.js";
import { closeEditor, insertVariable, openEditor } from "./editor.js";
import { openHistory } from "./history.js";
import { busy, failed } from "./ui.js";

export const replies = {
  templates: [],
  tplName: null,
  stage: "growing",
  editing: null, // null (closed) | "new" | variant id
  variantRevisions: [],
};

/* The stage picker and the editor's persona choice, once the stages are known. */
export function setupReplies(stages, personas) {
  if (!stages.some((s) => s.name === replies.stage)) replies.stage = stages[0].name;
  const select = clear($("stage-select"));
  stages.forEach((s) => select.appendChild(h("option", { value: s.name }, s.label)));
  select.value = replies.stage;
  const persona = clear($("variant-persona"));
  persona.appendChild(h("option", { value: "" }, "所有客户类型"));
  for (const [k, v] of Object.entries(personas)) persona.appendChild(h("option", { value: k }, v + "（" + k + "）"));
}

export async function refreshTemplates() {
  const [templates, revisions] = await Promise.all([
    api("GET", "/api/admin/templates"),
    api("GET", "/api/admin/revisions" + qs({ entity: "variant", limit: 500 })).catch(() => []),
  ]);
  replies.templates = Array.isArray(templates) ? templates : [];
  replies.variantRevisions = Array.isArray(revisions) ? revisions : [];
  if (!replies.tplName || !currentTemplate()) {
    const greet = replies.templates.find((t) => t.name === "utter_greet");
    replies.tplName = greet ? greet.name : replies.templates.length ? replies.templates[0].name : null;
  }
  renderTemplateList();
  renderTemplate();
}

export function currentTemplate() {
  return replies.templates.find((t) => t.name === replies.tplName) || null;
}

function stageVariants(tpl) {
  return tpl ? tpl.variants.filter((v) => v.stage === replies.stage) : [];
}

function renderTemplateList() {
  const list = clear($("template-list"));
  const q = $("template-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const tpl of replies.templates) {
    const first = tpl.defaults[0] || "";
    if (q && !tpl.name.toLowerCase().includes(q) && !tpl.defaults.some((d) => d.toLowerCase().includes(q)) &&
        !tpl.variants.some((v) => v.text.toLowerCase().includes(q))) continue;
    shown++;
    const here = stageVariants(tpl).length;
    const button = h("button", {
      type: "button", class: "template-item" + (tpl.name === replies.tplName ? " active" : ""),
      "data-template": tpl.name, "data-testid": "template-item",
      "aria-current": tpl.name === replies.tplName ? "true" : null,
      onclick: () => selectTemplate(tpl.name),
    },
    h("span", { class: "template-name" }, tpl.name,
      here ? h("span", { class: "count", title: stageName(replies.stage) + "的变体数" }, String(here)) : null),
    h("span", { class: "template-snippet" }, first));
    list.appendChild(h("li", null, button));
  }
  if (!shown) list.appendChild(h("li", { class: "empty" }, "没有匹配的模板。"));
}

function selectTemplate(name) {
  replies.tplName = name;
  closeEditor();
  $("preview").hidden = true;
  renderTemplateList();
  renderTemplate();
}

export function renderTemplate() {
  const tpl = currentTemplate();
  $("tpl-body").hidden = !tpl;
  $("tpl-title").textContent = tpl ? tpl.name : "请选择左侧的回复模板";
  if (!tpl) return;

  const defaults = clear($("default-texts"));
  tpl.defaults.forEach((d) => defaults.appendChild(h("li", { class: "default-text" }, d)));

  const chips = clear($("var-chips"));
  for (const [name, label] of Object.entries(tpl.variables)) {
    chips.appendChild(h("button", {
      type: "button", class: "chip", "data-var": name, "data-testid": "var-chip", title: "插入 {" + name + "}：" + label,
      onmousedown: (e) => e.preventDefault(), // keep the cursor in the editor
      onclick: () => insertVariable(name),
    }, h("code", null, "{" + name + "}"), h("span", { class: "chip-label" }, label)));
  }

  $("stage-label-variants").textContent = stageName(replies.stage);
  const variants = stageVariants(tpl);
  const list = clear($("variant-list"));
  $("variants-empty").hidden = variants.length > 0;
  const enabledWeight = variants.filter((v) => v.enabled && v.weight > 0).reduce((a, v) => a + v.weight, 0);
  variants.forEach((v) => list.appendChild(variantItem(v, enabledWeight)));
  renderDeleted(tpl);
  $("editor-stage").textContent = stageName(replies.stage);
}

function variantItem(v, enabledWeight) {
  const share = v.enabled && v.weight > 0 && enabledWeight > 0 ? Math.round((v.weight / enabledWeight) * 100) : 0;
  return h("li", {
    class: "variant" + (v.enabled ? "" : " variant-off") + (replies.editing === v.id ? " editing" : ""),
    "data-testid": "variant-item", "data-variant-id": v.id, "data-enabled": v.enabled ? "1" : "0",
  },
  h("div", { class: "variant-text", "data-testid": "variant-text-display" }, v.text),
  h("div", { class: "variant-meta" },
    h("span", { class: "pill " + (v.enabled ? "pill-on" : "pill-off") }, v.enabled ? "已启用" : "已停用"),
    h("span", null, "权重 " + v.weight + (share ? "（约 " + share + "%）" : "")),
    v.persona ? h("span", null, "仅" + personaName(v.persona)) : null,
    h("span", { "data-testid": "variant-version" }, "第 " + v.version + " 版"),
    h("span", { class: "muted" }, v.updated_by + " 更新于 " + fmtTime(v.updated_at))),
  h("div", { class: "variant-actions" },
    h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-edit", onclick: () => openEditor(v) }, "编辑"),
    h("button", {
      type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-toggle",
      onclick: (e) => toggleVariant(v, e.currentTarget),
    }, v.enabled ? "停用" : "启用"),
    h("button", {
      type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-history",
      onclick: () => openHistory("variant", v.id, "变体 #" + v.id + "（" + v.template + " · " + stageName(v.stage) + "）"),
    }, "历史版本"),
    h("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-testid": "variant-delete", onclick: (e) => deleteVariant(v, e.currentTarget) }, "删除")));
}

function renderDeleted(tpl) {
  // Deleted variants of this template and stage: their last snapshot is in the history.
  const byEntity = new Map();
  for (const r of replies.variantRevisions) {
    if (!byEntity.has(r.entity_id)) byEntity.set(r.entity_id, []);
    byEntity.get(r.entity_id).push(r); // newest first
  }
  const live = new Set(replies.templates.flatMap((t) => t.variants.map((v) => v.id)));
  const list = clear($("deleted-list"));
  for (const [id, revs] of byEntity) {
    if (live.has(id) || revs[0].action !== "delete") continue;
    const last = revs[0]; // a deletion keeps the record as it was
    if (!last.data || last.data.template !== tpl.name || last.data.stage !== replies.stage) continue;
    list.appendChild(h("li", { class: "variant variant-off", "data-testid": "deleted-variant", "data-variant-id": id },
      h("div", { class: "variant-text" }, last.data.text),
      h("div", { class: "variant-meta" },
        h("span", { class: "pill pill-off" }, "已删除"),
        h("span", { class: "muted" }, revs[0].changed_by + " 删除于 " + fmtTime(revs[0].changed_at))),
      h("div", { class: "variant-actions" },
        h("button", {
          type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-history",
          onclick: () => openHistory("variant", id, "已删除的变体 #" + id),
        }, "历史版本 / 恢复"))));
  }
  $("deleted-box").hidden = !list.children.length;
}

async function toggleVariant(v, button) {
  await busy(button, async () => {
    try {
      await api("PATCH", "/api/admin/variants/" + v.id, { enabled: !v.enabled, note: v.enabled ? "停用" : "启用" });
      await refreshTemplates();
      toast(v.enabled ? "已停用变体 #" + v.id : "已启用变体 #" + v.id);
    } catch (err) {
      failed(err);
    }
  });
}

async function deleteVariant(v, button) {
  const ok = await confirmDialog("删除变体 #" + v.id + "？\n\n“" + v.text + "”\n\n删除后" + stageName(v.stage) +
    "将不再看到它；需要时可在“已删除的变体”里从历史版本恢复。", "删除");
  if (!ok) return;
  await busy(button, async () => {
    try {
      await api("DELETE", "/api/admin/variants/" + v.id);
      if (replies.editing === v.id) closeEditor();
      await refreshTemplates();
      toast("已删除变体 #" + v.id);
    } catch (err) {
      failed(err);
    }
  });
}

export function initReplies() {
  $("template-filter").addEventListener("input", renderTemplateList);
  $("stage-select").addEventListener("change", () => {
    replies.stage = $("stage-select").value;
    if (replies.editing !== null && replies.editing !== "new") closeEditor();
    $("preview").hidden = true;
    renderTemplateList();
    renderTemplate();
  });
}
