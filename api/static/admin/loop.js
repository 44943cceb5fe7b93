/* 自动优化: how the nightly loop shares traffic among each group's reply variants and
 * offers, and pinning / vetoing one (or back to automatic), asked first. */
import { $, clear, confirmDialog, fmtTime, h, toast } from "../common/staff-ui.js";
import { labels } from "../common/labels.js";
import * as C from "../common/charts.js";
import { api } from "./api.js";
import { BASE, empty, errorText, fill, num, pct, personaName, reportSummary, stagePill } from "./analytics-kit.js";

const MODES = { auto: "自动", pinned: "已固定", vetoed: "已否决" }; // what a mode is called once set
const state = { built: false };


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
  state.built = true;
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
  const label = labels.loop_modes[mode]; // what setting it is called (api/routes/analytics.py)
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

export async function loadLoop() {
  if (!state.built) buildLoop();
  await reloadLoop();
}
