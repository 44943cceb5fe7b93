/* 客户: the customer list (by stage, paged), one customer's timeline (messages, orders,
 * stage changes, offers, merges) and merging another customer into them. */
import { $, ApiError, clear, confirmDialog, fmtTime, h, money, toast } from "../common/staff-ui.js";
import { IDENTITY_KINDS, channelName, labels, stageName } from "../common/labels.js";
import { api, qs } from "./api.js";
import { mergeAction, mergeBy } from "./merges.js";
import { PAGE, busy, failed, stagePill } from "./ui.js";

const AUTHORS = { customer: "顾客", bot: "智能助手", staff: "人工客服", system: "系统" };
const STAGE_TRIGGERS = { order: "下单", nightly: "每日重算", import: "导入", merge: "账户合并" };
const TIMELINE_KINDS = { message: "消息", order: "订单", stage_change: "阶段变化", offer: "优惠", merge: "账户合并", service_request: "售后申请" };
const MERGE_REASONS = { login: "登录识别", phone: "手机号一致", staff: "人工合并", wechat: "微信识别" };
const MERGE_ACTIONS = { proposed: "提出合并建议", merged: "完成合并", rejected: "拒绝合并", undone: "撤销合并" };

const list = { stage: "", offset: 0, total: 0 };
export let customer = null; // the customer shown
let timelineNext = null;

/* The stage filter, once the stages are known. */
export function setupCustomers(stages) {
  const filter = clear($("customer-stage"));
  filter.appendChild(h("option", { value: "" }, "全部阶段"));
  stages.forEach((s) => filter.appendChild(h("option", { value: s.name }, s.label)));
}

export function mergeReason(reason) {
  return MERGE_REASONS[reason] || reason;
}

export async function loadCustomers() {
  const c = list;
  const page = await api("GET", "/api/customers" + qs({ stage: c.stage, limit: PAGE, offset: c.offset }));
  c.total = page.total;
  const ul = clear($("customer-list"));
  page.items.forEach((cu) => {
    const ids = cu.identities.map((i) => (IDENTITY_KINDS[i.kind] || i.kind) + " " + i.value_masked).join(" · ");
    ul.appendChild(h("li", null, h("button", {
      type: "button", class: "customer-item" + (customer && customer.id === cu.id ? " active" : ""),
      "data-testid": "customer-item", "data-customer-id": cu.id, onclick: () => showCustomer(cu.id),
    },
    h("span", { class: "customer-line" },
      h("span", { class: "strong" }, "#" + cu.id + " " + (cu.display_name || "未留名")), stagePill(cu.stage)),
    h("span", { class: "muted small" }, "积分 " + cu.points + " · 最近 " + fmtTime(cu.last_seen_at)),
    ids ? h("span", { class: "muted small ellipsis" }, ids) : null)));
  });
  if (!page.items.length) ul.appendChild(h("li", { class: "empty" }, "没有客户。"));
  const pages = Math.max(1, Math.ceil(c.total / PAGE));
  $("customers-page").textContent = "第 " + (Math.floor(c.offset / PAGE) + 1) + " / " + pages + " 页，共 " + c.total + " 位";
  $("customers-prev").disabled = c.offset === 0;
  $("customers-next").disabled = c.offset + PAGE >= c.total;
}

export function showCustomer(id) {
  if (document.body.dataset.tab !== "customers") window.location.hash = "#/customers";
  openCustomer(id).catch(failed);
}

export async function openCustomer(id) {
  $("customer-empty").hidden = true;
  $("customer-detail").hidden = false;
  $("merge-error").textContent = "";
  clear($("timeline"));
  $("timeline-more").hidden = true;
  $("timeline-empty").hidden = true;
  const shown = await api("GET", "/api/customers/" + id);
  customer = shown;
  document.querySelectorAll(".customer-item").forEach((b) => {
    b.classList.toggle("active", Number(b.dataset.customerId) === shown.id);
  });
  $("customer-title").textContent = "#" + shown.id + " " + (shown.display_name || "未留名客户");
  renderCustomerSub(shown, []);
  timelineNext = null;
  await loadTimeline(true);
}

function renderCustomerSub(c, merged) {
  const sub = clear($("customer-sub"));
  sub.append(stagePill(c.stage), " 积分 " + c.points + " · 首次 " + fmtTime(c.first_seen_at) + " · 最近 " + fmtTime(c.last_seen_at));
  if (c.last_ip_masked) sub.append(" · IP " + c.last_ip_masked);
  c.identities.forEach((i) => sub.append(" · " + (IDENTITY_KINDS[i.kind] || i.kind) + " " + i.value_masked));
  if (merged.length) {
    sub.append(" · 已并入：");
    merged.forEach((m, n) => {
      if (n) sub.append("、");
      sub.append(h("button", { type: "button", class: "link", onclick: () => showCustomer(m) }, "#" + m));
    });
  }
}

async function loadTimeline(first) {
  const c = customer;
  if (!c) return;
  const cursor = first ? {} : timelineNext || {};
  let page;
  try {
    page = await api("GET", "/api/customers/" + c.id + "/timeline" + qs({ limit: 30, before: cursor.before, before_event: cursor.before_event }));
  } catch (err) {
    const m = err instanceof ApiError && err.status === 404 ? /已合并到客户 #(\d+)/.exec(err.detail) : null;
    $("timeline").appendChild(h("li", { class: "empty" }, err.detail || String(err),
      m ? h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => showCustomer(Number(m[1])) }, "查看客户 #" + m[1]) : null));
    return;
  }
  if (first) renderCustomerSub(c, page.merged_customer_ids || []);
  const ul = $("timeline");
  page.items.forEach((e) => ul.appendChild(timelineItem(e, c.id)));
  timelineNext = page.next_before ? { before: page.next_before, before_event: page.next_before_event } : null;
  $("timeline-more").hidden = !timelineNext;
  $("timeline-empty").hidden = ul.children.length > 0;
}

function timelineItem(e, viewing) {
  const d = e[e.kind] || {};
  let body;
  if (e.kind === "message") {
    body = h("div", { class: "tl-msg tl-" + d.author },
      h("span", { class: "tl-who" }, AUTHORS[d.author] || d.author),
      h("div", { class: "bubble" }, d.text),
      h("div", { class: "muted small" }, [channelName(d.channel) || d.channel, d.intent ? "意图 " + d.intent : null, d.template ? "回复 " + d.template : null].filter(Boolean).join(" · ")));
  } else if (e.kind === "order") {
    body = h("div", null,
      h("div", null, h("span", { class: "strong" }, "订单 " + d.order_no), " · " + (d.status_label || labels.order_statuses[d.status] || d.status) + " · " + money(d.amount)),
      h("div", { class: "muted small" }, (d.items || []).map((i) => i.name + " ×" + i.quantity).join("，") + " · " + (channelName(d.channel) || d.channel)));
  } else if (e.kind === "stage_change") {
    body = h("div", null,
      h("div", null, stagePill(d.from_stage), " → ", stagePill(d.to_stage)),
      h("div", { class: "muted small" }, (STAGE_TRIGGERS[d.trigger] || d.trigger) + " · " + d.reason));
  } else if (e.kind === "offer") {
    body = h("div", null,
      h("div", null, h("span", { class: "strong" }, d.title), " (" + d.code + ") · " + (labels.offer_triggers[d.trigger] || d.trigger)),
      h("div", { class: "muted small" },
        (d.coupon_code ? "券码 " + d.coupon_code + " · " : "") + "发放时阶段：" + stageName(d.stage) +
        (d.expires_at ? " · 有效期至 " + fmtTime(d.expires_at) : "") + (d.redeemed_at ? " · 已使用" : "")));
  } else if (e.kind === "merge") {
    const actions = [];
    if (d.action === "proposed" && d.status === "proposed") {
      actions.push(h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "merge-confirm", onclick: (ev) => mergeAction("confirm", d.merge_id, ev.currentTarget) }, "确认合并"));
      actions.push(h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "merge-reject", onclick: (ev) => mergeAction("reject", d.merge_id, ev.currentTarget) }, "拒绝"));
    }
    if (d.action === "merged" && d.status === "merged") {
      actions.push(h("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-testid": "merge-undo", onclick: (ev) => mergeAction("undo", d.merge_id, ev.currentTarget) }, "撤销合并"));
    }
    body = h("div", null,
      h("div", null, h("span", { class: "strong" }, MERGE_ACTIONS[d.action] || d.action),
        " · 客户 #" + d.source_id + " → #" + d.target_id + " · " + mergeReason(d.reason) +
        " · 现状：" + (labels.merge_statuses[d.status] || d.status)),
      h("div", { class: "muted small" }, [d.by ? "操作人：" + mergeBy(d.by, d.reason) : null, d.detail || ""].filter(Boolean).join(" · ")),
      actions.length ? h("div", { class: "actions" }, actions) : null);
  } else if (e.kind === "service_request") {
    body = h("div", null,
      h("div", null, h("span", { class: "strong" }, d.kind_label + " " + d.request_no), " · 订单 " + d.order_no + " · " + d.status_label),
      h("div", { class: "muted small" }, [d.reason ? "原因：" + d.reason : null, d.new_address ? "新地址：" + d.new_address : null].filter(Boolean).join(" · ")));
  } else {
    body = h("div", null, JSON.stringify(d));
  }
  return h("li", { class: "tl-item tl-kind-" + e.kind, "data-testid": "timeline-item", "data-kind": e.kind, "data-key": e.key },
    h("div", { class: "tl-time" }, fmtTime(e.at)),
    h("div", { class: "tl-kind" }, TIMELINE_KINDS[e.kind] || e.kind),
    h("div", { class: "tl-body" }, body,
      e.customer_id !== viewing ? h("div", { class: "muted small" }, "（来自已并入的客户 #" + e.customer_id + "）") : null));
}

function submitMerge(e) {
  e.preventDefault();
  const c = customer;
  if (!c) return;
  const source = Number($("merge-source").value);
  const error = $("merge-error");
  if (!Number.isInteger(source) || source < 1) {
    error.textContent = "请输入要合并进来的客户编号。";
    return;
  }
  if (source === c.id) {
    error.textContent = "不能把客户合并到自己。";
    return;
  }
  const button = e.submitter || $("merge-form").querySelector("[type=submit]");
  busy(button, async () => {
    const ok = await confirmDialog("把客户 #" + source + " 的全部记录（消息、订单、优惠、身份）合并到客户 #" + c.id +
      "？\n\n合并后客户 #" + source + " 不再单独存在；管理员可以撤销。", "合并");
    if (!ok) return;
    error.textContent = "";
    try {
      await api("POST", "/api/customers/" + c.id + "/merge", { source_id: source, note: $("merge-note").value.trim() });
      $("merge-source").value = "";
      $("merge-note").value = "";
      toast("已把客户 #" + source + " 合并到 #" + c.id + "。");
      await openCustomer(c.id);
      loadCustomers().catch(() => {});
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      error.textContent = err instanceof ApiError ? err.detail : String(err);
    }
  });
}

export function initCustomers() {
  $("customer-stage").addEventListener("change", () => {
    list.stage = $("customer-stage").value;
    list.offset = 0;
    loadCustomers().catch(failed);
  });
  $("customers-prev").addEventListener("click", () => {
    list.offset = Math.max(0, list.offset - PAGE);
    loadCustomers().catch(failed);
  });
  $("customers-next").addEventListener("click", () => {
    list.offset += PAGE;
    loadCustomers().catch(failed);
  });
  $("timeline-more").addEventListener("click", (e) => busy(e.currentTarget, () => loadTimeline(false)));
  $("merge-form").addEventListener("submit", submitMerge);
}
