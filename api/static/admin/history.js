/* 历史版本: a variant's or an offer's revisions, what changed in each, and rolling
 * back to one (recorded as a new version). */
import { $, ApiError, clear, confirmDialog, fmtTime, h, toast } from "../common/staff-ui.js";
import { labels, personaName, stageName } from "../common/labels.js";
import { api, qs } from "./api.js";
import { loadOffers, rulesText } from "./offers.js";
import { refreshTemplates } from "./replies.js";
import { busy, openDialog } from "./ui.js";

const REVISION_ACTIONS = { create: "创建", update: "修改", delete: "删除", rollback: "回滚" };
let shown = null; // {entity, id, title} of the open history

export async function openHistory(entity, id, title) {
  shown = { entity: entity, id: id, title: title };
  $("history-title").textContent = "历史版本 · " + title;
  $("history-error").textContent = "";
  clear($("history-list")).appendChild(h("li", { class: "empty" }, "加载中…"));
  openDialog("history-dialog");
  await loadHistory();
}

async function loadHistory() {
  const f = shown;
  if (!f) return;
  let revisions;
  try {
    revisions = await api("GET", "/api/admin/revisions" + qs({ entity: f.entity, entity_id: f.id, limit: 500 }));
  } catch (err) {
    $("history-error").textContent = err instanceof ApiError ? err.detail : String(err);
    return;
  }
  const list = clear($("history-list"));
  if (!revisions.length) list.appendChild(h("li", { class: "empty" }, "没有历史记录。"));
  const exists = revisions.length && revisions[0].action !== "delete";
  revisions.forEach((r, i) => {
    const older = revisions[i + 1];
    const changed = r.action !== "delete" && older ? changedFields(older.data, r.data, f.entity) : [];
    const current = i === 0 && exists;
    list.appendChild(h("li", {
      class: "history-row" + (current ? " current" : ""), "data-testid": "history-row",
      "data-version": r.version, "data-revision-id": r.id, "data-action": r.action,
    },
    h("div", { class: "history-head" },
      h("strong", { class: "history-version" }, "第 " + r.version + " 版"),
      h("span", { class: "pill pill-" + r.action }, REVISION_ACTIONS[r.action] || r.action),
      current ? h("span", { class: "pill pill-on" }, "当前") : null,
      h("span", null, r.changed_by),
      h("span", { class: "muted" }, fmtTime(r.changed_at)),
      h("span", { class: "spacer" }),
      !current && r.action !== "delete" ? h("button", {
        type: "button", class: "btn btn-ghost btn-sm", "data-testid": "rollback",
        onclick: (e) => rollback(r, e.currentTarget),
      }, "回滚到此版本") : null),
    r.note ? h("div", { class: "history-note" }, "说明：" + r.note) : null,
    r.action === "delete" ? h("div", { class: "muted" }, "（此版本为删除；要恢复请回滚到删除之前的版本）")
      : revisionBody(f.entity, r.data, changed)));
  });
}

function changedFields(before, after, entity) {
  const keys = entity === "variant" ? ["text", "enabled", "weight", "persona", "stage"]
    : ["title", "detail", "kind", "trigger", "stages", "rules", "period_days", "valid_days", "coupon_prefix",
      "priority", "enabled", "starts_on", "ends_on"];
  return keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

function revisionBody(entity, d, changed) {
  const mark = (key) => (changed.includes(key) ? " changed" : "");
  if (entity === "variant") {
    return h("div", { class: "history-body" },
      h("div", { class: "history-text" + mark("text"), "data-testid": "history-text" }, d.text),
      h("div", { class: "variant-meta" },
        h("span", { class: mark("stage") }, stageName(d.stage)),
        h("span", { class: mark("enabled") }, d.enabled ? "启用" : "停用"),
        h("span", { class: mark("weight") }, "权重 " + d.weight),
        h("span", { class: mark("persona") }, d.persona ? "仅" + personaName(d.persona) : "所有客户类型")));
  }
  return h("div", { class: "history-body" },
    h("div", { class: "history-text" + mark("title") + mark("detail") }, d.title + " —— " + d.detail),
    h("div", { class: "variant-meta" },
      h("span", { class: mark("kind") }, labels.offer_kinds[d.kind] || d.kind),
      h("span", { class: mark("trigger") }, labels.offer_triggers[d.trigger] || d.trigger),
      h("span", { class: mark("stages") }, d.stages && d.stages.length ? d.stages.map(stageName).join("、") : "所有阶段"),
      h("span", { class: mark("rules") }, rulesText(d.rules) || "无领取条件"),
      h("span", { class: mark("enabled") }, d.enabled ? "启用" : "停用"),
      h("span", { class: mark("period_days") + mark("valid_days") }, "周期 " + d.period_days + " 天 · 有效 " + d.valid_days + " 天"),
      d.starts_on || d.ends_on ? h("span", { class: mark("starts_on") + mark("ends_on") }, (d.starts_on || "…") + " 至 " + (d.ends_on || "…")) : null,
      h("span", { class: mark("priority") }, "优先级 " + d.priority)));
}

async function rollback(r, button) {
  const ok = await confirmDialog("回滚到第 " + r.version + " 版？\n\n内容会恢复成第 " + r.version +
    " 版的样子，并记为一个新版本；历史记录不会被删除。", "回滚");
  if (!ok) return;
  await busy(button, async () => {
    try {
      const rev = await api("POST", "/api/admin/revisions/" + r.id + "/rollback");
      toast("已回滚到第 " + r.version + " 版（现为第 " + rev.version + " 版）。");
      await loadHistory();
      if (r.entity === "variant") await refreshTemplates();
      else await loadOffers();
    } catch (err) {
      $("history-error").textContent = err instanceof ApiError ? err.detail : String(err);
    }
  });
}
