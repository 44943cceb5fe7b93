/* The customer's self-service requests (退货退款 / 取消订单 / 修改收货地址) in the profile
 * panel, newest first. A submitted return waits for staff: approve it here, or reject
 * it with a reason the customer is told when they ask. Fetched when another customer is
 * shown and again every 30 s while the same one stays open. */
import { $, confirmDialog, h, setText, toast } from "../common/staff-ui.js";
import { api } from "./api.js";
import { fmtDateTime } from "./text.js";

const REFRESH_MS = 30000;
let shown = { customer: null, at: 0, key: "", gen: 0 };

export function resetRequests() {
  shown = { customer: null, at: 0, key: "", gen: shown.gen + 1 };
  $("profile-requests").textContent = "";
}

export async function refreshRequests(customerId, force) {
  if (!customerId) return;
  const now = Date.now();
  if (!force && shown.customer === customerId && now - shown.at < REFRESH_MS) return;
  if (shown.customer !== customerId) shown.key = "";
  shown.customer = customerId;
  shown.at = now;
  const gen = ++shown.gen;
  let list;
  try {
    list = await api("GET", "/api/staff/service-requests?limit=10&customer_id=" + encodeURIComponent(customerId));
  } catch (err) {
    if (gen === shown.gen && err.status !== 401) {
      setText($("profile-requests"), "");
      $("profile-requests").appendChild(h("li", { class: "muted small" }, "售后申请加载失败：" + err.detail));
    }
    return;
  }
  if (gen !== shown.gen) return; // another customer was opened meanwhile
  const key = JSON.stringify(list);
  const ul = $("profile-requests");
  // Keep a reason being typed: do not redraw under the agent's hands.
  if (key === shown.key || ul.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
  shown.key = key;
  ul.textContent = "";
  if (!list.length) ul.appendChild(h("li", { class: "muted small" }, "暂无售后申请"));
  for (const r of list) ul.appendChild(buildRequest(r, customerId));
}

function buildRequest(r, customerId) {
  const details = [];
  if (r.items && r.items.length && r.kind !== "address") details.push("商品：" + r.items.join("、"));
  if (r.reason) details.push("原因：" + r.reason);
  if (r.new_address) details.push("新地址：" + r.new_address);
  if (r.note) details.push("说明：" + r.note);
  return h("li", { class: "request", "data-testid": "profile-request", "data-request-id": r.id, "data-status": r.status },
    h("div", { class: "kv" }, h("span", { class: "mono" }, r.request_no),
      h("span", { class: "request-status request-" + r.status, "data-testid": "profile-request-status" }, r.status_label)),
    h("div", { class: "kv small" }, h("span", null, r.kind_label + " · 订单 " + r.order_no),
      h("span", { class: "muted", title: r.created_at }, fmtDateTime(r.created_at))),
    details.length ? h("p", { class: "request-detail small" }, details.join("；")) : null,
    r.kind === "return" && r.status === "submitted" ? decisionControls(r, customerId) : null);
}

function decisionControls(r, customerId) {
  const note = h("input", { class: "input input-sm", type: "text", maxlength: "200", "data-testid": "request-reject-note",
    placeholder: "拒绝原因（必填，顾客查询时可见）", "aria-label": "拒绝原因" });
  const form = h("form", { class: "request-reject", hidden: true, onsubmit: (e) => {
    e.preventDefault();
    if (!note.value.trim()) {
      toast("请填写拒绝原因", "error");
      note.focus();
      return;
    }
    decide(r, { decision: "reject", note: note.value.trim() }, customerId, e.submitter || form);
  } }, note, h("button", { type: "submit", class: "btn btn-danger-ghost btn-sm", "data-testid": "request-reject-confirm" },
    "确认拒绝"));
  const approve = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "request-approve",
    onclick: async (e) => {
      const button = e.currentTarget;
      const ok = await confirmDialog("同意 " + r.request_no + " 的退货申请？订单 " + r.order_no + " 将转为「退款处理中」。",
        "同意退货");
      if (ok) decide(r, { decision: "approve" }, customerId, button);
    } }, "同意退货");
  const reject = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "request-reject",
    onclick: () => {
      form.hidden = !form.hidden;
      if (!form.hidden) note.focus();
    } }, "拒绝");
  return h("div", { class: "request-actions" }, h("div", { class: "actions" }, approve, reject), form);
}

async function decide(r, body, customerId, button) {
  if (button) button.disabled = true;
  try {
    await api("POST", "/api/staff/service-requests/" + r.id + "/decision", body);
    toast(body.decision === "approve" ? "已同意退货，订单转为退款处理中" : "已拒绝该退货申请");
  } catch (err) {
    toast(err.detail, "error");
  } finally {
    if (button) button.disabled = false;
    if (document.activeElement) document.activeElement.blur();
    refreshRequests(customerId, true);
  }
}
