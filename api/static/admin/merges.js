/* 账户合并: merge proposals and past merges — confirm, reject, undo — and the badge
 * counting proposals waiting for an admin. */
import { $, clear, confirmDialog, fmtTime, h, toast } from "../common/staff-ui.js";
import { labels } from "../common/labels.js";
import { api, qs } from "./api.js";
import { customer, mergeReason, openCustomer, showCustomer } from "./customers.js";
import { busy, failed } from "./ui.js";

const MOVED_LABELS = { identities: "身份", conversations: "会话", orders: "订单", offer_issuances: "优惠", inbound_receipts: "微信事件", points: "积分" };
const MERGE_VERBS = {
  confirm: { ask: "确认合并", done: "已确认合并" },
  reject: { ask: "拒绝这条合并建议", done: "已拒绝合并建议" },
  undo: { ask: "撤销这次合并（两个客户恢复为各自独立）", done: "已撤销合并" },
};

export function mergeBy(by, reason) {
  if (!by) return "";
  return by === reason || by === "system" ? "系统自动" : by;
}

export async function mergeAction(action, id, button) {
  const ok = await confirmDialog(MERGE_VERBS[action].ask + "？（合并记录 #" + id + "）", MERGE_VERBS[action].ask.slice(0, 4));
  if (!ok) return;
  await busy(button, async () => {
    try {
      await api("POST", "/api/merges/" + id + "/" + action);
      toast(MERGE_VERBS[action].done + "（#" + id + "）。");
    } catch (err) {
      failed(err);
    }
    refreshMergeBadge();
    if (document.body.dataset.tab === "merges") loadMerges().catch(failed);
    if (customer && document.body.dataset.tab === "customers") openCustomer(customer.id).catch(failed);
  });
}

export async function loadMerges() {
  const status = $("merge-status").value;
  const page = await api("GET", "/api/merges" + qs({ status: status, limit: 200 }));
  const body = clear($("merges-body"));
  page.items.forEach((m) => {
    const actions = [];
    if (m.status === "proposed") {
      actions.push(h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "merge-confirm", onclick: (e) => mergeAction("confirm", m.id, e.currentTarget) }, "确认合并"));
      actions.push(h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "merge-reject", onclick: (e) => mergeAction("reject", m.id, e.currentTarget) }, "拒绝"));
    } else if (m.status === "merged") {
      actions.push(h("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-testid": "merge-undo", onclick: (e) => mergeAction("undo", m.id, e.currentTarget) }, "撤销合并"));
    }
    const link = (id) => h("button", { type: "button", class: "link", onclick: () => showCustomer(id) }, "客户 #" + id);
    const when = m.status === "merged" ? m.merged_at : m.status === "proposed" ? m.created_at : m.undone_at || m.created_at;
    const who = m.status === "merged" ? m.merged_by : m.status === "proposed" ? null : m.undone_by;
    body.appendChild(h("tr", { "data-testid": "merge-row", "data-merge-id": m.id, "data-status": m.status },
      h("td", null, "#" + m.id),
      h("td", null, link(m.source_id)),
      h("td", null, link(m.target_id)),
      h("td", null, mergeReason(m.reason)),
      h("td", { class: "small" }, m.detail || "", movedText(m.moved)
        ? h("div", { class: "muted small" }, "转移：" + movedText(m.moved)) : null),
      h("td", null, h("span", { class: "pill pill-" + m.status }, labels.merge_statuses[m.status] || m.status)),
      h("td", { class: "nowrap small" }, fmtTime(when), who ? h("div", { class: "muted" }, mergeBy(who, m.reason)) : null),
      h("td", { class: "nowrap" }, actions)));
  });
  $("merges-empty").hidden = page.items.length > 0;
  if (status === "proposed") setMergeBadge(page.total);
}

function movedText(moved) {
  return Object.entries(moved || {}).filter(([, v]) => v).map(([k, v]) => (MOVED_LABELS[k] || k) + " " + v).join("，");
}

function setMergeBadge(n) {
  const badge = $("merge-badge");
  badge.textContent = String(n);
  badge.hidden = !n;
}

export async function refreshMergeBadge() {
  try {
    const page = await api("GET", "/api/merges" + qs({ status: "proposed", limit: 1 }));
    setMergeBadge(page.total);
  } catch (_) {
    /* the badge is a convenience */
  }
}

export function initMerges() {
  $("merge-status").addEventListener("change", () => loadMerges().catch(failed));
}
