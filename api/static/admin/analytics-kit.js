/* What the 数据分析 and 自动优化 tabs share: cards that fill themselves from the API
 * (or show the error in place), tables, KPIs, the jobs' free-form reports as tables, and
 * the Chinese names of rule facts and report metrics. */
import { ApiError, clear, fmtTime, h } from "../common/staff-ui.js";
import { labels, stageName } from "../common/labels.js";
import * as C from "../common/charts.js";

export const BASE = "/api/admin/analytics";
// conversation facts in rules, e.g. "stage=new", "nps=detractor", "repurchase=yes"
const FACT_NAMES = { stage: "阶段", persona: "客户类型", nps: "NPS", repurchase: "复购", handoff: "转人工",
                     sentiment: "情绪", channel: "渠道", overall: "总体满意度", csat: "满意度",
                     resolved: "已解决", fallback: "未听懂", intent: "意图", offer: "优惠", survey: "调查",
                     quality: "产品质量", service: "服务水平", value: "性价比", innovation: "服务创新" };
const FACT_VALUES = { yes: "是", no: "否", true: "是", false: "否", promoter: "推荐者", passive: "中立者",
                      detractor: "贬损者", positive: "正面", neutral: "中性", negative: "负面",
                      high: "高", medium: "中", low: "低", web: "网页", wechat: "微信" };
const METRIC_NAMES = { model: "模型", name: "模型", r2: "R²", mae: "MAE", rmse: "RMSE", mse: "MSE",
                       accuracy: "准确率", auc: "AUC", f1: "F1", macro_f1: "宏平均 F1", precision: "精确率",
                       recall: "召回率", seconds: "耗时（秒）", train_seconds: "训练耗时（秒）", n: "样本数",
                       fit_seconds: "训练耗时（秒）", evaluations: "网络评估次数", match: "匹配度",
                       recency_days: "距上次购买（天）", orders: "订单数", spend: "消费额", avg_order: "客单价",
                       tenure_days: "注册天数", orders_trend: "订单趋势", contacts: "咨询次数",
                       contacts_change: "咨询量变化", complaints: "投诉次数", negative_share: "负面占比",
                       survey_overall: "总体评分", fallback_share: "未听懂占比", handoffs: "转人工次数",
                       samples: "样本数", cv: "交叉验证", cv_r2: "交叉验证 R²", cv_mae: "交叉验证 MAE",
                       chosen: "选用", best: "最佳", size: "人数", share: "占比", persona: "客户类型",
                       label: "名称", cluster: "分群" };

export function personaName(p) {
  return p ? labels.personas[p] || p : "所有客户类型";
}

export function pct(v) {
  return C.fmt(v, 1, "%");
}

export function signed(v) {
  return typeof v === "number" ? (v > 0 ? "+" : "") + v.toFixed(1) : "—";
}

export function num(v, digits) {
  return typeof v === "number" ? v.toFixed(digits === undefined ? 2 : digits) : "—";
}

export function shortDate(iso) {
  return iso ? iso.slice(5) : "";
}

export function errorText(err) {
  return err instanceof ApiError ? err.detail : "加载失败：" + String(err);
}

export function empty(text, testid) {
  return h("p", { class: "empty", "data-testid": testid || "empty" }, text);
}

/* A card with a title, a note and a body; returns the body to fill. */
export function card(parent, id, title, note, testid) {
  const body = h("div", { id: id, class: "an-body" });
  parent.appendChild(h("section", { class: "card an-card", "data-testid": testid, "aria-labelledby": id + "-h" },
    h("div", { class: "card-head" }, h("h3", { class: "h3", id: id + "-h" }, title)),
    note ? h("p", { class: "muted small an-note" }, note) : null,
    body));
  return body;
}

/* Fill ``el`` with what ``render`` makes of the answer to ``load``, or an error in place. */
export async function fill(el, load, render) {
  el.setAttribute("aria-busy", "true");
  if (!el.childNodes.length) el.appendChild(h("p", { class: "muted small" }, "加载中…"));
  try {
    const data = await load();
    clear(el);
    render(el, data);
  } catch (err) {
    clear(el);
    el.appendChild(h("p", { class: "form-error", role: "alert" }, errorText(err)));
    if (err instanceof ApiError && err.status === 401) throw err;
  } finally {
    el.removeAttribute("aria-busy");
  }
}

export function table(headers, rows, attrs) {
  return h("div", { class: "table-wrap" },
    h("table", Object.assign({ class: "table" }, attrs || {}),
      h("thead", null, h("tr", null, headers.map((t) => h("th", { class: t.num ? "num" : null }, t.text || t)))),
      h("tbody", null, rows)));
}

export function kpi(label, value, note, testid, tone) {
  return h("div", { class: "kpi" + (tone ? " kpi-" + tone : ""), "data-testid": testid },
    h("div", { class: "kpi-label" }, label),
    h("div", { class: "kpi-value", "data-testid": testid ? testid + "-value" : null }, value),
    note ? h("div", { class: "kpi-note muted small" }, note) : null);
}

export function reportSummary(report, what) {
  if (!report) return null;
  return h("p", { class: "an-summary" }, h("span", { class: "pill pill-update" }, what || "分析结论"), " ",
    report.summary || "（无摘要）", h("span", { class: "muted small" }, "　" + fmtTime(report.created_at)));
}

export function stagePill(stage, label) {
  return h("span", { class: "stage-pill stage-" + (stage || "none") }, label || stageName(stage));
}

/* A list of records (or {name: record}) as a table, for the jobs' free-form reports.
 * A nested object of plain values (e.g. a cluster's feature means) becomes columns; the
 * row named ``best`` (or marked chosen / best) is highlighted. */
export function recordsTable(records, testid, best) {
  let rows = records;
  if (rows && !Array.isArray(rows) && typeof rows === "object") {
    rows = Object.entries(rows).map(([name, rec]) =>
      rec && typeof rec === "object" && !Array.isArray(rec) ? Object.assign({ name: name }, rec) : { name: name, value: rec });
  }
  if (!Array.isArray(rows) || !rows.length || !rows[0] || typeof rows[0] !== "object") return null;
  const plain = (v) => v === null || typeof v !== "object";
  rows = rows.map((r) => {
    const flat = {};
    Object.entries(r || {}).forEach(([k, v]) => {
      if (plain(v)) flat[k] = v;
      else if (!Array.isArray(v) && Object.values(v).every(plain)) Object.assign(flat, v);
    });
    return flat;
  });
  const keys = [];
  rows.forEach((r) => Object.keys(r).forEach((k) => keys.includes(k) || keys.push(k)));
  const cell = (k, v) => {
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    if (typeof v === "boolean") return v ? "是" : "";
    if (k === "name" && labels.models[v]) return labels.models[v];
    if (k === "persona" && labels.personas[v]) return labels.personas[v];
    return v === null || v === undefined ? "—" : String(v);
  };
  const isBest = (r) => r.chosen === true || r.best === true || (best !== undefined && r.name === best);
  const numeric = keys.filter((k) => rows.some((r) => typeof r[k] === "number"));
  return table(keys.map((k) => ({ text: METRIC_NAMES[k] || k, num: numeric.includes(k) })),
    rows.map((r) => h("tr", { class: isBest(r) ? "an-row-best" : null },
      keys.map((k) => h("td", { class: numeric.includes(k) ? "num" : null }, cell(k, r[k]))))),
    { "data-testid": testid });
}

/* The first list of records found in a report's data, under one of ``names``. */
export function findRecords(data, names) {
  if (!data || typeof data !== "object") return null;
  for (const n of names) if (data[n] && typeof data[n] === "object") return data[n];
  return Object.values(data).find((v) => Array.isArray(v) && v.length && typeof v[0] === "object") || null;
}

export function fact(item) {
  const text = String(item);
  const at = text.indexOf("=");
  if (at < 0) return text;
  const key = text.slice(0, at), value = text.slice(at + 1);
  let shown = FACT_VALUES[value] || value;
  if (key === "stage") shown = stageName(value);
  if (key === "persona") shown = personaName(value);
  return (FACT_NAMES[key] || key) + "：" + shown;
}
