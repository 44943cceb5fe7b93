/* 回响管理控制台 — the 数据分析 and 自动优化 tabs.
 * Plain ES2020, no dependencies; loaded after staff-ui.js and charts.js, before admin.js.
 * admin.js calls window.HXAnalytics.loadAnalytics(api) / loadLoop(api) when the tab is
 * first opened, with its API client (which handles a lost session or role).
 * Everything from the server is rendered with textContent only.
 */
(function () {
  "use strict";

  const { $, h, append, clear, fmtTime, LABELS, ApiError, toast, confirmDialog } = window.HXStaff;
  const C = window.HXCharts;
  const BASE = "/api/admin/analytics";

  const PERSONAS = LABELS.personas;
  const MODES = { auto: "自动", pinned: "已固定", vetoed: "已否决" };
  // analytics/jobs.py and the modules that register jobs
  const JOB_NAMES = { "recompute-stages": "重算客户阶段", "campaign-offers": "发放活动优惠", sentiment: "情感分析",
                      association: "关联规则挖掘", "step-scores": "服务环节评分", personas: "客户画像与标签",
                      loop: "自动优化" };
  const RUN_STATUS = { ok: "成功", failed: "失败", running: "运行中" };
  const STARTED_BY = { scheduler: "定时", cli: "手动" };
  const SENTIMENTS = [["positive", "正面"], ["neutral", "中性"], ["negative", "负面"]];
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
  // analytics/steps.py MODEL_NAMES
  const MODEL_NAMES = { linear: "Ridge 线性回归", bp: "BP 神经网络", bp_restarts: "BP（多次随机初始化）",
                        pso_bp: "PSO-BP 神经网络" };
  const RANGES = [[30, "近 30 天"], [90, "近 90 天"], [365, "近一年"]];

  let api = null;
  const state = { days: 90, built: false, loopBuilt: false };

  // ------------------------------------------------------------------ helpers

  function stageName(stage) {
    return LABELS.stages[stage] || stage || "未知阶段";
  }

  function personaName(p) {
    return p ? PERSONAS[p] || p : "所有客户类型";
  }

  function pct(v) {
    return C.fmt(v, 1, "%");
  }

  function signed(v) {
    return typeof v === "number" ? (v > 0 ? "+" : "") + v.toFixed(1) : "—";
  }

  function num(v, digits) {
    return typeof v === "number" ? v.toFixed(digits === undefined ? 2 : digits) : "—";
  }

  function shortDate(iso) {
    return iso ? iso.slice(5) : "";
  }

  function errorText(err) {
    return err instanceof ApiError ? err.detail : "加载失败：" + String(err);
  }

  function empty(text, testid) {
    return h("p", { class: "empty", "data-testid": testid || "empty" }, text);
  }

  /* A card with a title, a note and a body; returns the body to fill. */
  function card(parent, id, title, note, testid) {
    const body = h("div", { id: id, class: "an-body" });
    parent.appendChild(h("section", { class: "card an-card", "data-testid": testid, "aria-labelledby": id + "-h" },
      h("div", { class: "card-head" }, h("h3", { class: "h3", id: id + "-h" }, title)),
      note ? h("p", { class: "muted small an-note" }, note) : null,
      body));
    return body;
  }

  /* Fill ``el`` with what ``render`` makes of the answer to ``load``, or an error in place. */
  async function fill(el, load, render) {
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

  function table(headers, rows, attrs) {
    return h("div", { class: "table-wrap" },
      h("table", Object.assign({ class: "table" }, attrs || {}),
        h("thead", null, h("tr", null, headers.map((t) => h("th", { class: t.num ? "num" : null }, t.text || t)))),
        h("tbody", null, rows)));
  }

  function kpi(label, value, note, testid, tone) {
    return h("div", { class: "kpi" + (tone ? " kpi-" + tone : ""), "data-testid": testid },
      h("div", { class: "kpi-label" }, label),
      h("div", { class: "kpi-value", "data-testid": testid ? testid + "-value" : null }, value),
      note ? h("div", { class: "kpi-note muted small" }, note) : null);
  }

  function reportSummary(report, what) {
    if (!report) return null;
    return h("p", { class: "an-summary" }, h("span", { class: "pill pill-update" }, what || "分析结论"), " ",
      report.summary || "（无摘要）", h("span", { class: "muted small" }, "　" + fmtTime(report.created_at)));
  }

  function stagePill(stage, label) {
    return h("span", { class: "stage-pill stage-" + (stage || "none") }, label || stageName(stage));
  }

  /* A list of records (or {name: record}) as a table, for the jobs' free-form reports.
   * A nested object of plain values (e.g. a cluster's feature means) becomes columns; the
   * row named ``best`` (or marked chosen / best) is highlighted. */
  function recordsTable(records, testid, best) {
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
      if (k === "name" && MODEL_NAMES[v]) return MODEL_NAMES[v];
      if (k === "persona" && PERSONAS[v]) return PERSONAS[v];
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
  function findRecords(data, names) {
    if (!data || typeof data !== "object") return null;
    for (const n of names) if (data[n] && typeof data[n] === "object") return data[n];
    return Object.values(data).find((v) => Array.isArray(v) && v.length && typeof v[0] === "object") || null;
  }

  function fact(item) {
    const text = String(item);
    const at = text.indexOf("=");
    if (at < 0) return text;
    const key = text.slice(0, at), value = text.slice(at + 1);
    let shown = FACT_VALUES[value] || value;
    if (key === "stage") shown = stageName(value);
    if (key === "persona") shown = personaName(value);
    return (FACT_NAMES[key] || key) + "：" + shown;
  }

  // ------------------------------------------------------------------ 数据分析

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
          h("td", null, h("div", { class: "strong" }, JOB_NAMES[j.name] || j.name), h("code", { class: "small muted" }, j.name)),
          h("td", { class: "small muted" }, j.description), h("td", null, h("code", null, j.crontab)),
          h("td", null, status(j.last_run)), h("td", { class: "nowrap" }, j.last_run ? fmtTime(j.last_run.started_at) : "—"),
          h("td", { class: "num nowrap" }, secs(j.last_run)), h("td", { class: "small" }, counts(j.last_run)),
          h("td", { class: "small an-error" }, j.last_run && j.last_run.error ? j.last_run.error : ""))),
        { "data-testid": "jobs-table" }));
      if (d.runs.length) {
        el.appendChild(h("details", { class: "an-details" }, h("summary", null, "最近 " + d.runs.length + " 次运行"),
          table(["编号", "任务", "方式", "状态", "开始时间", { text: "用时", num: true }, "结果", "错误"],
            d.runs.map((r) => h("tr", null, h("td", null, "#" + r.id), h("td", null, JOB_NAMES[r.job] || r.job),
              h("td", null, STARTED_BY[r.started_by] || r.started_by), h("td", null, status(r)),
              h("td", { class: "nowrap" }, fmtTime(r.started_at)), h("td", { class: "num nowrap" }, secs(r)),
              h("td", { class: "small" }, counts(r)), h("td", { class: "small an-error" }, r.error || ""))))));
      }
    });
  }

  function loadAll() {
    return Promise.all([loadOverview(), loadRules(), loadSteps(), loadPersonas(), loadJobs()]);
  }

  async function loadAnalytics(apiFn) {
    api = apiFn || api;
    if (!state.built) buildAnalytics();
    await loadAll();
  }

  // ------------------------------------------------------------------ 自动优化

  function buildLoop() {
    const root = clear($("loop-root"));
    const refresh = h("button", { type: "button", class: "btn btn-ghost", "data-testid": "loop-refresh" }, "刷新");
    refresh.addEventListener("click", async () => {
      refresh.disabled = true;
      try {
        await reloadLoop();
      } finally {
        refresh.disabled = false;
      }
    });
    root.appendChild(h("div", { class: "content-head" },
      h("div", null, h("h2", { class: "h1" }, "自动优化"),
        h("p", { class: "muted small" }, "分析任务每晚根据满意度、复购和顾客情绪，为每组回复变体和优惠重新分配流量（汤普森采样，并保留少量流量继续探索）。您可以固定某一项（本组只用它）、否决某一项（不再使用），或恢复自动。每次修改都记入历史版本。")),
      refresh));
    root.appendChild(h("div", { id: "loop-summary" }));
    const variants = h("div", { id: "loop-variants", "data-testid": "loop-variants" });
    const offers = h("div", { id: "loop-offers", "data-testid": "loop-offers" });
    root.appendChild(h("section", { class: "an-section" }, h("h3", { class: "h2 an-section-title" }, "回复变体"), variants));
    root.appendChild(h("section", { class: "an-section" }, h("h3", { class: "h2 an-section-title" }, "优惠"), offers));
    state.loopBuilt = true;
  }

  function reloadLoop() {
    return fill($("loop-variants"), () => api("GET", BASE + "/loop"), (el, d) => {
      const summary = clear($("loop-summary"));
      if (d.report) summary.appendChild(reportSummary(d.report, "本次优化"));
      renderLoopKind(el, "variant", d.variants);
      renderLoopKind(clear($("loop-offers")), "offer", d.offers);
    });
  }

  function renderLoopKind(el, kind, data) {
    if (!data.groups.length) {
      el.appendChild(empty(kind === "variant"
        ? "尚未运行：自动优化任务还没有为回复变体分配流量（每组至少要有一条变体）。"
        : "尚未运行：自动优化任务还没有为优惠分配流量。", "loop-empty"));
      return;
    }
    el.appendChild(h("p", { class: "muted small" }, "最近一次计算：" + fmtTime(data.computed_at) + "；权重是每组内分到的流量比例。"));
    data.groups.forEach((g) => el.appendChild(loopGroup(kind, g)));
  }

  function loopGroup(kind, g) {
    const title = kind === "variant"
      ? [stagePill(g.stage, g.stage_label), h("code", null, g.template || g.group_key), " ", h("span", { class: "muted small" }, personaName(g.persona))]
      : [stagePill(g.stage, g.stage_label), h("span", null, "的优惠")];
    const chosen = g.arms.find((a) => a.chosen);
    return h("section", { class: "card loop-group", "data-testid": "loop-group", "data-group": g.group_key },
      h("div", { class: "card-head" }, h("h4", { class: "h3 loop-title" }, title),
        h("span", { class: "muted small" }, chosen ? "当前首选：#" + chosen.arm_id : "本组没有可用项")),
      h("ul", { class: "loop-arms" }, g.arms.map((a) => loopArm(kind, g, a))));
  }

  function loopArm(kind, g, a) {
    const mode = a.current_mode || a.mode;
    const what = kind === "variant"
      ? (a.exists ? a.text : "（该变体已删除）")
      : (a.exists ? a.title + "（" + a.code + "）" : "（该优惠已删除）");
    const buttons = [];
    if (a.exists) {
      if (mode !== "pinned") buttons.push(modeButton(kind, g, a, "pinned", "固定", "loop-pin", "btn btn-ghost btn-sm"));
      if (mode !== "vetoed") buttons.push(modeButton(kind, g, a, "vetoed", "否决", "loop-veto", "btn btn-danger-ghost btn-sm"));
      if (mode !== "auto") buttons.push(modeButton(kind, g, a, "auto", "恢复自动", "loop-auto", "btn btn-ghost btn-sm"));
    }
    const pending = a.current_mode && a.current_mode !== a.mode
      ? h("span", { class: "muted small" }, "（计算时为“" + MODES[a.mode] + "”；新设置已生效，权重在下次计算时更新）") : null;
    return h("li", { class: "loop-arm" + (a.chosen ? " loop-chosen" : "") + (a.enabled === false ? " loop-off" : ""),
      "data-testid": "loop-arm", "data-kind": kind, "data-arm-id": a.arm_id, "data-mode": mode },
      h("div", { class: "loop-main" },
        h("div", { class: "loop-text" }, h("span", { class: "muted small" }, "#" + a.arm_id + " "), what, " ",
          a.chosen ? h("span", { class: "pill pill-on", "data-testid": "loop-chosen" }, "首选") : null,
          a.enabled === false ? h("span", { class: "pill pill-off" }, "已停用") : null),
        h("div", { class: "loop-meta" },
          h("span", { class: "mode-badge mode-" + mode, "data-testid": "loop-mode", "data-mode": mode }, MODES[mode] || mode),
          C.meter(a.weight, "权重"),
          h("span", { class: "small" }, "观测 " + a.observations + " 次 · 平均得分 " + num(a.mean_reward) + " · 最优概率 " + pct(100 * a.p_best)),
          pending),
        h("div", { class: "loop-why small" }, a.explanation)),
      h("div", { class: "loop-actions" }, buttons));
  }

  function modeButton(kind, g, a, mode, label, testid, cls) {
    return h("button", { type: "button", class: cls, "data-testid": testid, onclick: (e) => setMode(kind, g, a, mode, e.currentTarget) }, label);
  }

  function confirmText(kind, g, a, mode) {
    const name = kind === "variant" ? "「" + g.stage_label + " · " + (g.template || "") + "」" : "「" + g.stage_label + "」";
    const what = kind === "variant" ? "\n\n" + (a.text || "") : "\n\n" + (a.title || "");
    if (kind === "variant") {
      if (mode === "pinned") return "固定后，" + name + "这一组只说这条变体，自动优化不再调整本组，直到恢复自动。本组原先固定的变体会恢复自动。" + what;
      if (mode === "vetoed") return "否决后，这条变体不再说给顾客，自动优化也不会再选它，直到恢复自动。" + what;
      return "恢复自动后，由自动优化按效果为这条变体分配流量。" + what;
    }
    if (mode === "pinned") return "固定后，在同等优先级、顾客符合条件的优惠中总是发放这一项，直到恢复自动。" + what;
    if (mode === "vetoed") return "否决后，顾客询问优惠时不再发放这一项，直到恢复自动。" + what;
    return "恢复自动后，由自动优化按各阶段的效果分配这一项的发放比例。" + what;
  }

  async function setMode(kind, g, a, mode, button) {
    const label = { pinned: "固定", vetoed: "否决", auto: "恢复自动" }[mode];
    const ok = await confirmDialog(confirmText(kind, g, a, mode), label);
    if (!ok) return;
    button.disabled = true;
    try {
      const path = BASE + "/loop/" + (kind === "variant" ? "variants" : "offers") + "/" + a.arm_id + "/mode";
      const res = await api("PUT", path, { mode: mode });
      let msg = (mode === "auto" ? "已恢复自动：#" : "已" + label + "：#") + a.arm_id;
      if (res.unpinned && res.unpinned.length) msg += "；原先固定的 #" + res.unpinned.join("、#") + " 已恢复自动";
      toast(msg);
      await reloadLoop();
    } catch (err) {
      toast(errorText(err), "error");
      button.disabled = false;
    }
  }

  async function loadLoop(apiFn) {
    api = apiFn || api;
    if (!state.loopBuilt) buildLoop();
    await reloadLoop();
  }

  window.HXAnalytics = { loadAnalytics, loadLoop };
})();
