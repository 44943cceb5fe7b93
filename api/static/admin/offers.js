/* 优惠活动: the offers table, the offer form (new / edit, rules by trigger) and each
 * offer's issuances (发放记录). */
import { $, ApiError, clear, fmtTime, h, toast } from "../common/staff-ui.js";
import { labels, personaName } from "../common/labels.js";
import { api, qs } from "./api.js";
import { showCustomer } from "./customers.js";
import { openHistory } from "./history.js";
import { PAGE, busy, failed, openDialog, stagePill } from "./ui.js";

const SIMPLE_RULES = ["min_orders", "max_orders", "min_spent", "min_points", "window_days"];
let editing = null; // the offer in the form (null: a new one)
const issuance = { offer: null, offset: 0 };
let offerForm = null;

export function rulesText(rules) {
  if (!rules) return "";
  const parts = [];
  for (const [k, v] of Object.entries(rules)) {
    if (k === "min_spent") parts.push("累计消费≥" + v + " 元");
    else if (k === "min_orders") parts.push("订单≥" + v);
    else if (k === "max_orders") parts.push("订单≤" + v);
    else if (k === "min_points") parts.push("积分≥" + v);
    else if (k === "days_of_month") parts.push("每月 " + (Array.isArray(v) ? v.join("、") : v) + " 日");
    else if (k === "window_days") parts.push("生日前后 " + v + " 天");
    else if (k === "personas") parts.push("客户类型：" + (Array.isArray(v) ? v.map(personaName).join("、") : v));
    else parts.push(k + "=" + JSON.stringify(v));
  }
  return parts.join("；");
}

export async function loadOffers() {
  const offers = await api("GET", "/api/admin/offers");
  const body = clear($("offers-body"));
  offers.forEach((o) => body.appendChild(offerRow(o)));
  if (!offers.length) body.appendChild(h("tr", null, h("td", { colspan: 10, class: "empty" }, "还没有优惠活动。")));
}

function offerRow(o) {
  return h("tr", { "data-testid": "offer-row", "data-offer-code": o.code, "data-offer-id": o.id, class: o.enabled ? "" : "row-off" },
    h("td", null, h("div", { class: "strong" }, o.title), h("div", { class: "muted small" }, o.code + " · " + o.detail)),
    h("td", { class: "nowrap" }, labels.offer_kinds[o.kind] || o.kind),
    h("td", { class: "nowrap" }, labels.offer_triggers[o.trigger] || o.trigger),
    h("td", null, o.stages.length ? o.stages.map(stagePill) : h("span", { class: "muted" }, "所有阶段")),
    h("td", { class: "small" }, rulesText(o.rules) || h("span", { class: "muted" }, "不限")),
    h("td", { class: "small nowrap" }, o.starts_on || o.ends_on ? (o.starts_on || "…") + " 至 " + (o.ends_on || "…") : h("span", { class: "muted" }, "长期")),
    h("td", null, h("span", { class: "pill " + (o.enabled ? "pill-on" : "pill-off"), "data-testid": "offer-enabled-state" }, o.enabled ? "已启用" : "已停用")),
    h("td", { class: "num" }, String(o.issued)),
    h("td", { class: "num", title: o.updated_by + " 更新于 " + fmtTime(o.updated_at) }, "v" + o.version),
    h("td", { class: "nowrap" },
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "offer-edit", onclick: () => openOfferForm(o) }, "编辑"),
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "offer-toggle", onclick: (e) => toggleOffer(o, e.currentTarget) }, o.enabled ? "停用" : "启用"),
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "offer-history", onclick: () => openHistory("offer", o.id, o.title + "（" + o.code + "）") }, "历史"),
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "offer-issuances", onclick: () => openIssuances(o) }, "发放记录")));
}

async function toggleOffer(o, button) {
  await busy(button, async () => {
    try {
      await api("PATCH", "/api/admin/offers/" + o.id, { enabled: !o.enabled, note: o.enabled ? "停用" : "启用" });
      await loadOffers();
      toast((o.enabled ? "已停用：" : "已启用：") + o.title);
    } catch (err) {
      failed(err);
    }
  });
}

function fillSelect(select, names) {
  clear(select);
  for (const [k, v] of Object.entries(names)) select.appendChild(h("option", { value: k }, v + "（" + k + "）"));
}

/* The form's kinds, triggers and stage checkboxes, once the labels and stages are known. */
export function setupOffers(stages) {
  fillSelect(offerForm.elements.kind, labels.offer_kinds);
  fillSelect(offerForm.elements.trigger, labels.offer_triggers);
  const checks = clear($("offer-stages"));
  stages.forEach((s) => checks.appendChild(
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "stages", value: s.name, "data-testid": "offer-stage-" + s.name }), h("span", null, s.label))));
}

function syncTriggerFields() {
  const trigger = offerForm.elements.trigger.value;
  offerForm.querySelectorAll("[data-for-trigger]").forEach((el) => {
    el.hidden = el.dataset.forTrigger !== trigger;
  });
}

function openOfferForm(o) {
  editing = o || null;
  const f = offerForm.elements;
  $("offer-form-title").textContent = o ? "编辑优惠 · " + o.title + "（第 " + o.version + " 版）" : "新建优惠";
  f.code.value = o ? o.code : "";
  f.code.disabled = !!o;
  f.title.value = o ? o.title : "";
  f.detail.value = o ? o.detail : "";
  f.kind.value = o ? o.kind : "coupon";
  f.trigger.value = o ? o.trigger : "chat";
  const stages = o ? o.stages : [];
  offerForm.querySelectorAll("input[name=stages]").forEach((c) => {
    c.checked = stages.includes(c.value);
  });
  const rules = (o && o.rules) || {};
  SIMPLE_RULES.forEach((k) => {
    f[k].value = rules[k] === undefined ? "" : String(rules[k]);
  });
  f.days_of_month.value = Array.isArray(rules.days_of_month) ? rules.days_of_month.join(", ") : "";
  f.starts_on.value = (o && o.starts_on) || "";
  f.ends_on.value = (o && o.ends_on) || "";
  f.period_days.value = o ? String(o.period_days) : "30";
  f.valid_days.value = o ? String(o.valid_days) : "14";
  f.coupon_prefix.value = (o && o.coupon_prefix) || "";
  f.priority.value = o ? String(o.priority) : "0";
  f.enabled.checked = o ? o.enabled : true;
  f.note.value = "";
  $("offer-error").textContent = "";
  syncTriggerFields();
  openDialog("offer-dialog");
  (o ? f.title : f.code).focus();
}

function readOfferForm() {
  const f = offerForm.elements;
  const intField = (el, label, min) => {
    const raw = el.value.trim();
    if (raw === "") return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(label + "须为不小于 " + min + " 的整数。");
    return n;
  };
  const trigger = f.trigger.value;
  const rules = Object.assign({}, (editing && editing.rules) || {});
  const set = (key, value) => {
    if (value === undefined) delete rules[key];
    else rules[key] = value;
  };
  set("min_orders", intField(f.min_orders, "最少订单数", 0));
  set("max_orders", intField(f.max_orders, "最多订单数", 0));
  set("min_points", intField(f.min_points, "积分门槛", 0));
  const spent = f.min_spent.value.trim();
  if (spent !== "") {
    const n = Number(spent);
    if (!Number.isFinite(n) || n < 0) throw new Error("累计消费须为不小于 0 的数字。");
    set("min_spent", n);
  } else set("min_spent", undefined);
  if (rules.min_orders !== undefined && rules.max_orders !== undefined && rules.min_orders > rules.max_orders) {
    throw new Error("最少订单数不能大于最多订单数。");
  }
  if (trigger === "member_day") {
    const raw = f.days_of_month.value.trim();
    if (raw) {
      const days = raw.split(/[\s,，、;；]+/).filter(Boolean).map(Number);
      if (!days.every((d) => Number.isInteger(d) && d >= 1 && d <= 31)) throw new Error("会员日须为 1–31 的整数，用逗号分隔。");
      set("days_of_month", days);
    } else set("days_of_month", undefined);
  } else set("days_of_month", undefined);
  if (trigger === "birthday") set("window_days", intField(f.window_days, "生日前后天数", 0));
  else set("window_days", undefined);

  const body = {
    title: f.title.value.trim(),
    detail: f.detail.value.trim(),
    kind: f.kind.value,
    trigger: trigger,
    stages: Array.from(offerForm.querySelectorAll("input[name=stages]:checked")).map((c) => c.value),
    rules: rules,
    period_days: intField(f.period_days, "发放周期", 1),
    valid_days: intField(f.valid_days, "券有效期", 1),
    coupon_prefix: f.coupon_prefix.value.trim().toUpperCase() || null,
    priority: intField(f.priority, "优先级", -1000000) ?? 0,
    enabled: f.enabled.checked,
    starts_on: f.starts_on.value || null,
    ends_on: f.ends_on.value || null,
    note: f.note.value.trim(),
  };
  if (!editing) {
    body.code = f.code.value.trim();
    if (!body.code) throw new Error("请填写优惠编码。");
  }
  if (!body.title) throw new Error("请填写名称。");
  if (!body.detail) throw new Error("请填写说明。");
  if (body.period_days === undefined) throw new Error("请填写发放周期。");
  if (body.valid_days === undefined) throw new Error("请填写券有效期。");
  if (body.coupon_prefix && !/^[A-Z0-9]{1,8}$/.test(body.coupon_prefix)) throw new Error("券码前缀只能是 1–8 位大写字母或数字。");
  if (trigger === "festival" && !(body.starts_on && body.ends_on)) throw new Error("节日活动须设置开始和结束日期。");
  return body;
}

function submitOffer(e) {
  e.preventDefault();
  const button = offerForm.querySelector("[type=submit]");
  busy(button, async () => {
    const error = $("offer-error");
    let body;
    try {
      body = readOfferForm();
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    error.textContent = "";
    try {
      const saved = editing
        ? await api("PATCH", "/api/admin/offers/" + editing.id, body)
        : await api("POST", "/api/admin/offers", body);
      $("offer-dialog").close();
      await loadOffers();
      toast("已保存优惠“" + saved.title + "”（第 " + saved.version + " 版）。");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      error.textContent = err instanceof ApiError ? err.detail : String(err);
    }
  });
}

async function openIssuances(o) {
  issuance.offer = o;
  issuance.offset = 0;
  $("issuance-title").textContent = "发放记录 · " + o.title + "（共 " + o.issued + " 张）";
  clear($("issuance-body"));
  openDialog("issuance-dialog");
  await loadIssuances();
}

async function loadIssuances() {
  const s = issuance;
  try {
    const rows = await api("GET", "/api/admin/offers/" + s.offer.id + "/issuances" + qs({ limit: PAGE, offset: s.offset }));
    const body = $("issuance-body");
    rows.forEach((r) => body.appendChild(h("tr", { "data-testid": "issuance-row" },
      h("td", null, "#" + r.id),
      h("td", null, h("button", {
        type: "button", class: "link", onclick: () => {
          $("issuance-dialog").close();
          showCustomer(r.customer_id);
        },
      }, "客户 #" + r.customer_id)),
      h("td", null, stagePill(r.stage)),
      h("td", null, labels.offer_triggers[r.trigger] || r.trigger),
      h("td", null, r.coupon_code ? h("code", null, r.coupon_code) : h("span", { class: "muted" }, "无券码")),
      h("td", { class: "nowrap" }, fmtTime(r.issued_at)),
      h("td", { class: "nowrap" }, fmtTime(r.expires_at)),
      h("td", null, r.redeemed_at ? "已使用 " + fmtTime(r.redeemed_at) : h("span", { class: "muted" }, "未使用")))));
    s.offset += rows.length;
    $("issuance-more").hidden = rows.length < PAGE;
    $("issuance-empty").hidden = s.offset > 0;
  } catch (err) {
    failed(err);
  }
}

export function initOffers() {
  offerForm = $("offer-form");
  offerForm.elements.trigger.addEventListener("change", syncTriggerFields);
  offerForm.addEventListener("submit", submitOffer);
  $("offer-new").addEventListener("click", () => openOfferForm(null));
  $("issuance-more").addEventListener("click", (e) => busy(e.currentTarget, loadIssuances));
}
