/* 数据分析: satisfaction (KPIs, trend, by stage), the stage funnel and transitions,
 * churn and repurchase, sentiment, association rules, service step scores, personas and
 * the analytics jobs. Built when the tab is first opened; 刷新 reloads every card. */
import { $, append, clear, fmtTime, h } from "../common/staff-ui.js";
import * as C from "../common/charts.js";
import { labels } from "../common/labels.js";
import { api } from "./api.js";
import {
  BASE, card, empty, fact, fill, findRecords, kpi, num, pct, recordsTable, reportSummary, shortDate, signed,
  stagePill, table,
} from "./analytics-kit.js";

const RUN_STATUS = { ok: "成功", failed: "失败", running: "运行中" };
const STARTED_BY = { scheduler: "定时", cli: "手动" };
const SENTIMENTS = [["positive", "正面"], ["neutral", "中性"], ["negative", "负面"]];
const RANGES = [[30, "近 30 天"], [90, "近 90 天"], [365, "近一年"]];

const state = { days: 90, built: false };


function buildAnalytics() {
  const root = clear($("analytics-root"));
  const range = h("select", { id: "analytics-range", class: "input", "data-testid": "analytics-range", "aria-label": "时间范围" },
    RANGES.map(([d, label]) => h("option", { value: d }, label)));
  range.value = String(state.days);
  range.addEventListener("change", () => {
    state.days = Number(range.value);
    loadOverview().catch(() => {});
  });
  const refresh = h("button", { type: "button", class: "btn btn-ghost", "data-testid": "analytics-refresh" }, "刷新");
  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    try {
      await loadAll();
    } finally {
      refresh.disabled = false;
    }
  });
  root.appendChild(h("div", { class: "content-head" },
    h("div", null, h("h2", { class: "h1" }, "数据分析"),
      h("p", { class: "muted small" }, "满意度、客户阶段与流失、关联规则、服务环节评分和客户画像。调查和订单实时统计；规则、评分、画像来自每晚运行的分析任务。")),
    h("div", { class: "row" }, h("label", { class: "stage-picker" }, h("span", { class: "field-label" }, "时间范围"), range), refresh)));

  const kpis = h("div", { id: "an-kpis", class: "kpis", "data-testid": "analytics-kpis" });
  root.appendChild(kpis);
  const grid = h("div", { class: "an-grid" });
  root.appendChild(grid);
  card(grid, "an-trend", "满意度趋势", "CSAT：总体满意度回答 4–5 分的占比；NPS：推荐者（9–10 分）占比减贬损者（0–6 分）占比，−100 到 100。", "csat-trend");
  card(grid, "an-stage", "各阶段满意度", "按调查时顾客所处的阶段。", "stage-satisfaction");
  card(grid, "an-funnel", "客户阶段漏斗与流转", "当前各阶段的客户数（不含已合并的账户），以及所选时间内的阶段变化。", "funnel-section");
  const side = h("div", { class: "an-stack" });
  grid.appendChild(side);
  card(side, "an-churn", "流失率与复购率", "基数：时间范围开始前已有付款订单的客户。", "churn-section");
  card(side, "an-sentiment", "情感分布", "顾客消息的情绪（由情感分析任务判定），按周。", "sentiment-section");
  const wide = h("div", { class: "an-wide" });
  root.appendChild(wide);
  card(wide, "an-personas", "客户画像", "客户类型 × 当前阶段（由画像任务聚类得出）。", "personas-section");
  card(wide, "an-rules", "关联规则", "支持度：同时出现的占比；置信度：有前者时出现后者的概率；提升度 > 1 表示两者正相关。", "rules-section");
  card(wide, "an-steps", "服务环节评分", "0–100 分，越高越好；标记“需改进”的是对满意度影响最大的薄弱环节。", "steps-section");
  card(wide, "an-jobs", "分析任务", "定时任务的计划与最近一次运行。", "jobs-section");
  state.built = true;
}

function loadOverview() {
  return fill($("an-trend"), () => api("GET", BASE + "/overview?days=" + state.days), (el, data) => {
    renderKpis(data);
    renderTrend(el, data);
    renderStages(clear($("an-stage")), data);
    renderFunnel(clear($("an-funnel")), data);
    renderChurn(clear($("an-churn")), data);
    renderSentiment(clear($("an-sentiment")), data);
  });
}

function renderKpis(d) {
  const el = clear($("an-kpis"));
  const r = d.responses;
  el.appendChild(kpi("CSAT 满意度", pct(d.csat), d.csat_answers + " 份回答", "kpi-csat"));
  el.appendChild(kpi("NPS 净推荐值", signed(d.nps), d.nps_answers + " 份回答", "kpi-nps"));
  el.appendChild(kpi("调查完成率", pct(r.rate), r.completed + " / " + r.asked + " 份完成", "kpi-response"));
  el.appendChild(kpi("待跟进任务", String(d.open_follow_ups), "差评回访等，尚未处理", "kpi-followups",
    d.open_follow_ups ? "warn" : null));
}

function renderTrend(el, d) {
  const answered = d.satisfaction.some((p) => p.csat_answers || p.nps_answers);
  if (!answered) {
    el.appendChild(empty("所选时间内还没有满意度调查的回答。", "csat-empty"));
    return;
  }
  const week = d.bucket === "week";
  el.appendChild(C.line({
    title: "满意度趋势（" + (week ? "按周" : "按天") + "）",
    description: "CSAT " + pct(d.csat) + "，NPS " + signed(d.nps) + "，共 " + d.satisfaction.length + (week ? " 周" : " 天"),
    labels: d.satisfaction.map((p) => shortDate(p.period) + (week ? " 起" : "")),
    series: [{ name: "CSAT（%）", values: d.satisfaction.map((p) => p.csat) },
             { name: "NPS", values: d.satisfaction.map((p) => p.nps) }],
    yMax: 100, digits: 1, xName: week ? "周（起始日）" : "日期", testid: "csat-chart",
  }));
}

function renderStages(el, d) {
  if (!d.by_stage.some((s) => s.csat_answers || s.nps_answers)) {
    el.appendChild(empty("所选时间内还没有满意度调查的回答。"));
    return;
  }
  el.appendChild(C.columns({
    title: "各阶段 CSAT 与 NPS", description: "按调查时顾客所处的阶段",
    categories: d.by_stage.map((s) => s.label),
    series: [{ name: "CSAT（%）", values: d.by_stage.map((s) => s.csat) },
             { name: "NPS", values: d.by_stage.map((s) => s.nps) }],
    yMax: 100, digits: 1, xName: "阶段", testid: "stage-chart",
  }));
}

function renderFunnel(el, d) {
  const total = d.funnel.reduce((s, x) => s + x.customers, 0);
  if (!total) {
    el.appendChild(empty("还没有客户。"));
  } else {
    el.appendChild(C.funnel({
      title: "客户阶段漏斗", description: "共 " + total + " 位客户",
      items: d.funnel.map((s) => ({ label: s.label, value: s.customers, className: "hxc-stage-" + s.stage })),
      testid: "funnel",
    }));
  }
  el.appendChild(h("h4", { class: "h4" }, "阶段流转（所选时间内）"));
  if (!d.transitions.length) {
    el.appendChild(empty("所选时间内没有阶段变化。", "transitions-empty"));
    return;
  }
  el.appendChild(table(["从", "到", { text: "次数", num: true }],
    d.transitions.map((t) => h("tr", { "data-testid": "transition-row" },
      h("td", null, stagePill(t.from_stage, t.from_label)), h("td", null, stagePill(t.to_stage, t.to_label)),
      h("td", { class: "num" }, String(t.count)))),
    { "data-testid": "transitions-table" }));
}

function renderChurn(el, d) {
  const days = d.days;
  el.appendChild(h("div", { class: "kpis kpis-2" },
    kpi("流失率", pct(d.churn.rate), d.churn.base
      ? d.churn.count + " / " + d.churn.base + " 位在近 " + days + " 天内转为流失客户"
      : "时间范围开始前还没有购买过的客户", "kpi-churn", d.churn.rate > 20 ? "warn" : null),
    kpi("复购率", pct(d.repurchase.rate), d.repurchase.base
      ? d.repurchase.count + " / " + d.repurchase.base + " 位在近 " + days + " 天内再次下单"
      : "时间范围开始前还没有购买过的客户", "kpi-repurchase")));
  el.appendChild(h("p", { class: "muted small" },
    "只计付款订单（不含待付款、已取消、已退款）。流失率 = 范围内阶段变为“流失客户”的人数 ÷ 基数；复购率 = 范围内再次下单的人数 ÷ 基数。"));
}

function renderSentiment(el, d) {
  const weeks = d.sentiment;
  if (!weeks.some((w) => w.total)) {
    el.appendChild(empty("尚未运行：情感分析任务还没有为所选时间内的消息判定情绪。", "sentiment-empty"));
    return;
  }
  const share = (w, key) => (w.total ? (100 * w[key]) / w.total : null);
  el.appendChild(C.columns({
    title: "顾客消息情感分布（按周，%）", description: "共 " + weeks.reduce((s, w) => s + w.total, 0) + " 条已判定的消息",
    categories: weeks.map((w) => shortDate(w.period)),
    series: SENTIMENTS.map(([key, name]) => ({ name: name, values: weeks.map((w) => share(w, key)), className: "hxc-" + key })),
    stacked: true, yMax: 100, digits: 1, unit: "%", xName: "周（起始日）", testid: "sentiment-chart",
  }));
}

function loadRules() {
  return fill($("an-rules"), () => Promise.all([
    api("GET", BASE + "/rules?kind=basket&limit=10"),
    api("GET", BASE + "/rules?kind=conversation&limit=10"),
  ]), (el, [basket, talk]) => {
    append(el, reportSummary(basket.report || talk.report, "挖掘结果"));
    const cols = h("div", { class: "grid-2 an-rules" });
    const measure = (r) => h("div", { class: "rule-measures muted small" },
      "支持度 " + pct(100 * r.support) + " · 置信度 " + pct(100 * r.confidence) + " · 提升度 " + num(r.lift));
    const basketCol = h("div", { "data-testid": "rules-basket" }, h("h4", { class: "h4" }, "一起购买的商品"));
    if (!basket.rules.length) {
      basketCol.appendChild(empty("尚未运行：关联规则任务还没有找到购物篮规则。", "rules-empty"));
    } else {
      basketCol.appendChild(h("ol", { class: "rule-list" }, basket.rules.map((r) => h("li", { class: "rule", "data-testid": "rule-item" },
        h("div", null, "买了 ", h("strong", null, r.antecedents.join("、")), " 的客户也买 ", h("strong", null, r.consequents.join("、"))),
        measure(r)))));
    }
    const talkCol = h("div", { "data-testid": "rules-conversation" }, h("h4", { class: "h4" }, "对话特征 → NPS / 复购"));
    if (!talk.rules.length) {
      talkCol.appendChild(empty("尚未运行：关联规则任务还没有找到对话规则。", "rules-empty"));
    } else {
      talkCol.appendChild(h("ol", { class: "rule-list" }, talk.rules.map((r) => h("li", { class: "rule", "data-testid": "rule-item" },
        h("div", null, r.antecedents.map(fact).join(" 且 "), " → ", h("strong", null, r.consequents.map(fact).join("、"))),
        measure(r)))));
    }
    cols.appendChild(basketCol);
    cols.appendChild(talkCol);
    el.appendChild(cols);
    const when = basket.computed_at || talk.computed_at;
    if (when) el.appendChild(h("p", { class: "muted small" }, "计算于 " + fmtTime(when) + "；购物篮规则共 " + basket.total + " 条，对话规则共 " + talk.total + " 条。"));
  });
}

function loadSteps() {
  return fill($("an-steps"), () => api("GET", BASE + "/steps"), (el, d) => {
    if (!d.steps.length) {
      el.appendChild(empty("尚未运行：服务环节评分任务还没有结果。", "steps-empty"));
      return;
    }
    append(el, reportSummary(d.report, "评分结论"));
    const weakest = d.steps.filter((s) => s.weakest);
    el.appendChild(C.scores({
      title: "服务环节评分（0–100）",
      description: d.steps.map((s) => s.label + " " + C.fmt(s.score, 1)).join("，") +
        (weakest.length ? "；需改进：" + weakest.map((s) => s.label).join("、") : ""),
      items: d.steps.map((s) => ({ label: s.label, value: s.score, flag: s.weakest,
        note: "影响 " + num(s.impact, 2) + " 分 · " + s.conversations + " 次对话" })),
      testid: "step-scores",
    }));
    el.appendChild(h("ul", { class: "step-list" }, d.steps.map((s) => h("li", {
      class: "step-item" + (s.weakest ? " step-weak" : ""), "data-testid": "step-score", "data-step": s.step },
      h("span", { class: "strong" }, s.label), " ", C.fmt(s.score, 1), " 分",
      s.weakest ? h("span", { class: "pill pill-weak", "data-testid": "step-weakest" }, "需改进") : null,
      h("span", { class: "muted small" }, "　改善后满意度预计可提升 " + num(s.impact, 2) + " 分 · 基于 " + s.conversations + " 次对话 · 模型 " + s.model)))));
    const models = d.report && recordsTable(findRecords(d.report.data, ["comparison", "models", "model_comparison"]),
      "model-table", d.report.data.model);
    if (models) {
      el.appendChild(h("h4", { class: "h4" }, "模型对比（留出数据上的误差，越小越好；R² 越大越好）"));
      el.appendChild(models);
    }
    el.appendChild(h("p", { class: "muted small" }, "计算于 " + fmtTime(d.computed_at)));
  });
}

function loadPersonas() {
  return fill($("an-personas"), () => api("GET", BASE + "/personas"), (el, d) => {
    if (!d.rows.length) {
      el.appendChild(empty("还没有客户。"));
      return;
    }
    const classified = d.rows.some((r) => r.persona);
    if (!classified) el.appendChild(empty("尚未运行：客户画像任务还没有为客户分类。", "personas-empty"));
    const max = Math.max(1, ...d.rows.map((r) => Math.max(0, ...Object.values(r.stages))));
    const heat = (n) => "an-heat-" + (n ? Math.min(4, 1 + Math.floor((4 * n) / (max + 1))) : 0);
    el.appendChild(table([{ text: "客户类型" }].concat(d.stages.map((s) => ({ text: s.label, num: true })), [{ text: "合计", num: true }]),
      d.rows.map((r) => h("tr", { "data-testid": "persona-row", "data-persona": r.persona || "" },
        h("td", null, r.label),
        d.stages.map((s) => h("td", { class: "num " + heat(r.stages[s.stage] || 0) }, String(r.stages[s.stage] || 0))),
        h("td", { class: "num strong" }, String(r.total)))),
      { "data-testid": "persona-table" }));
    if (d.report) {
      el.appendChild(reportSummary(d.report, "聚类结果"));
      const profiles = recordsTable(findRecords(d.report.data, ["profile", "profiles", "clusters"]), "persona-profiles");
      if (profiles) el.appendChild(h("details", { class: "an-details" }, h("summary", null, "各类客户的特征（聚类中心）"), profiles));
    }
    if (d.tags.length) {
      el.appendChild(h("h4", { class: "h4" }, "标签"));
      el.appendChild(h("div", { class: "tag-families" }, d.tags.map((f) => h("div", { class: "tag-family" },
        h("span", { class: "field-label" }, f.label), " ",
        f.values.map((v) => h("span", { class: "pill" }, v.value + " " + v.customers))))));
    }
  });
}

function loadJobs() {
  return fill($("an-jobs"), () => api("GET", BASE + "/jobs"), (el, d) => {
    const status = (run) => run ? h("span", { class: "pill pill-run-" + run.status }, RUN_STATUS[run.status] || run.status) : h("span", { class: "pill pill-off" }, "尚未运行");
    const counts = (run) => run && run.counts ? Object.entries(run.counts).map(([k, v]) => k + " " + v).join("，") : "";
    const secs = (run) => run && typeof run.duration_seconds === "number" ? run.duration_seconds.toFixed(1) + " 秒" : "—";
    el.appendChild(table(["任务", "说明", "计划（crontab）", "上次运行", "开始时间", { text: "用时", num: true }, "结果", "错误"],
      d.jobs.map((j) => h("tr", { "data-testid": "job-row", "data-job": j.name },
        h("td", null, h("div", { class: "strong" }, labels.jobs[j.name] || j.name), h("code", { class: "small muted" }, j.name)),
        h("td", { class: "small muted" }, j.description), h("td", null, h("code", null, j.crontab)),
        h("td", null, status(j.last_run)), h("td", { class: "nowrap" }, j.last_run ? fmtTime(j.last_run.started_at) : "—"),
        h("td", { class: "num nowrap" }, secs(j.last_run)), h("td", { class: "small" }, counts(j.last_run)),
        h("td", { class: "small an-error" }, j.last_run && j.last_run.error ? j.last_run.error : ""))),
      { "data-testid": "jobs-table" }));
    if (d.runs.length) {
      el.appendChild(h("details", { class: "an-details" }, h("summary", null, "最近 " + d.runs.length + " 次运行"),
        table(["编号", "任务", "方式", "状态", "开始时间", { text: "用时", num: true }, "结果", "错误"],
          d.runs.map((r) => h("tr", null, h("td", null, "#" + r.id), h("td", null, labels.jobs[r.job] || r.job),
            h("td", null, STARTED_BY[r.started_by] || r.started_by), h("td", null, status(r)),
            h("td", { class: "nowrap" }, fmtTime(r.started_at)), h("td", { class: "num nowrap" }, secs(r)),
            h("td", { class: "small" }, counts(r)), h("td", { class: "small an-error" }, r.error || ""))))));
    }
  });
}

function loadAll() {
  return Promise.all([loadOverview(), loadRules(), loadSteps(), loadPersonas(), loadJobs()]);
}

export async function loadAnalytics() {
  if (!state.built) buildAnalytics();
  await loadAll();
}
