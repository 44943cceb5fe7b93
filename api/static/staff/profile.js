/* The customer's profile beside the open conversation: stage, persona, tags, masked
 * identities, orders, self-service requests (requests.js), past conversations, open
 * follow-ups and recent surveys. */
import { $, fmtDate, h, money, setText } from "../common/staff-ui.js";
import { IDENTITY_KINDS, channelName, labels, personaName, stageName } from "../common/labels.js";
import { openFollowUpDialog } from "./follow-ups.js";
import { refreshRequests, resetRequests } from "./requests.js";
import {
  CONV_STATUS, SENTIMENTS, SURVEY_INDICATORS, SURVEY_STATUS, SURVEY_TRIGGERS, TAG_FAMILIES, TAG_LEVELS,
  fmtDateTime, fmtHM, followUpReason,
} from "./text.js";

let shownKey = ""; // the profile as last drawn (JSON): redrawn only when it changed

export function resetProfile() {
  shownKey = "";
  resetRequests();
}

export function renderProfile(p) {
  if (!p) return;
  refreshRequests(p.id);
  const key = JSON.stringify(p);
  if (key === shownKey) return;
  shownKey = key;
  $("profile-empty").hidden = true;
  $("profile-body").hidden = false;
  const name = p.display_name || "访客#" + p.id;
  setText($("profile-avatar"), name.slice(0, 1));
  setText($("profile-name"), name);
  setText($("profile-id"), p.id);
  const stage = $("profile-stage");
  setText(stage, p.stage_label || stageName(p.stage));
  stage.className = "stage-pill stage-" + (p.stage || "none");
  stage.dataset.stage = p.stage;
  setText($("profile-persona"), p.persona ? personaName(p.persona) : "—");
  setText($("profile-points"), String(p.points));

  const tags = $("profile-tags");
  tags.textContent = "";
  const families = familyTags(p.tag_families);
  if (!p.tags.length && !families.length) tags.appendChild(h("span", { class: "muted small" }, "暂无"));
  for (const t of p.tags) tags.appendChild(h("span", { class: "pill" }, t));
  for (const f of families) {
    tags.appendChild(h("span", { class: "pill pill-family", "data-testid": "profile-tag-family", "data-family": f.family,
      "data-level": f.level, title: f.label + "：" + f.tag }, h("span", { class: "pill-family-name" }, f.label), f.tag));
  }

  const ids = $("profile-identities");
  ids.textContent = "";
  if (!p.identities.length) ids.appendChild(h("li", { class: "muted small" }, "仅网页访客，未留其他身份"));
  for (const raw of p.identities) {
    const i = raw.indexOf(":");
    const kind = i > 0 ? raw.slice(0, i) : "";
    const value = i > 0 ? raw.slice(i + 1) : raw;
    ids.appendChild(h("li", { class: "kv" }, h("span", { class: "muted" }, IDENTITY_KINDS[kind] || kind || "身份"),
      h("span", { class: "mono" }, value)));
  }

  const orders = $("profile-orders");
  orders.textContent = "";
  setText($("profile-orders-total"), p.orders_total ? "（共 " + p.orders_total + " 笔）" : "");
  if (!p.orders.length) orders.appendChild(h("li", { class: "muted small" }, "暂无订单"));
  for (const o of p.orders) {
    orders.appendChild(h("li", { class: "order" },
      h("div", { class: "kv" }, h("span", { class: "mono" }, o.order_no), h("span", { class: "strong" }, money(o.amount))),
      h("div", { class: "kv small" }, h("span", { class: "order-status order-" + o.status },
        labels.order_statuses[o.status] || o.status),
      h("span", { class: "muted" }, fmtDate(o.placed_at)))));
  }

  const past = $("profile-past");
  past.textContent = "";
  if (!p.past_conversations.length) past.appendChild(h("li", { class: "muted small" }, "这是顾客的第一次会话"));
  for (const c of p.past_conversations) {
    past.appendChild(h("li", { class: "kv small" },
      h("span", null, fmtDate(c.started_at) + " · " + channelName(c.channel)),
      h("span", { class: "muted" }, (CONV_STATUS[c.status] || c.status) + " · " + c.messages + " 条消息")));
  }

  const followUps = Array.isArray(p.follow_ups) ? p.follow_ups : [];
  const fuList = $("profile-follow-ups");
  fuList.textContent = "";
  $("profile-follow-ups-section").hidden = !followUps.length;
  for (const t of followUps) {
    fuList.appendChild(h("li", { class: "profile-fu", "data-testid": "profile-follow-up", "data-follow-up-id": t.id },
      h("div", { class: "kv small" }, h("span", { class: "fu-reason", "data-reason": t.reason }, followUpReason(t.reason)),
        h("span", { class: "muted" }, fmtDateTime(t.created_at))),
      t.detail ? h("p", { class: "fu-detail" }, t.detail) : null,
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "profile-follow-up-done",
        "aria-label": "标记完成：" + followUpReason(t.reason),
        onclick: (e) => openFollowUpDialog(Object.assign({ customer_name: p.display_name, stage: p.stage }, t),
          e.currentTarget) }, "标记完成")));
  }

  const surveys = $("profile-surveys");
  surveys.textContent = "";
  const list = Array.isArray(p.surveys) ? p.surveys : [];
  if (!list.length) surveys.appendChild(h("p", { class: "muted small" }, "暂无满意度调查"));
  for (const sv of list) surveys.appendChild(buildSurvey(sv));
}

function familyTags(families) {
  const out = [];
  if (!families || typeof families !== "object") return out;
  const known = TAG_FAMILIES.map(([key]) => key);
  const keys = known.filter((k) => k in families).concat(Object.keys(families).filter((k) => !known.includes(k)));
  for (const key of keys) {
    const label = (TAG_FAMILIES.find(([k]) => k === key) || [key, key])[1];
    const raw = families[key];
    const values = Array.isArray(raw) ? raw : raw === null || raw === undefined || raw === "" ? [] : [raw];
    for (const v of values) {
      const tag = String(v);
      out.push({ family: key, label: label, tag: tag, level: (TAG_LEVELS[key] || {})[tag] || "" });
    }
  }
  return out;
}

function stars(score, max) {
  const n = Math.max(0, Math.min(max, Number(score) || 0));
  return "★".repeat(n) + "☆".repeat(max - n);
}

function npsClass(nps) {
  return nps >= 9 ? ["promoter", "推荐者"] : nps >= 7 ? ["passive", "中立者"] : ["detractor", "贬损者"];
}

function scoreText(v) {
  return v === null || v === undefined ? "—" : String(v);
}

function buildSurvey(sv) {
  const when = sv.finished_at || sv.started_at;
  const head = h("div", { class: "survey-head small" },
    h("span", { class: "survey-when", title: fmtDate(when) + " " + fmtHM(when) }, fmtDate(when)),
    h("span", { class: "muted" }, SURVEY_TRIGGERS[sv.trigger] || sv.trigger || ""),
    h("span", { class: "stage-pill stage-" + (sv.stage || "none"), title: "调查时的客户阶段" }, stageName(sv.stage)));

  const overall = sv.overall === null || sv.overall === undefined
    ? h("span", { class: "muted" }, "整体满意度未作答")
    : [h("span", { class: "survey-stars", "data-score": sv.overall, "aria-hidden": "true" }, stars(sv.overall, 5)),
      h("span", { class: "strong" }, "整体 " + sv.overall + "/5")];
  const status = sv.status && sv.status !== "completed"
    ? h("span", { class: "survey-status", "data-status": sv.status }, SURVEY_STATUS[sv.status] || sv.status) : null;

  const indicators = h("ul", { class: "survey-indicators", "aria-label": "分项评分（1–5 分）" });
  for (const [key, label] of SURVEY_INDICATORS) {
    indicators.appendChild(h("li", { "data-key": key, "data-empty": sv[key] === null || sv[key] === undefined ? "1" : "0" },
      h("span", { class: "muted" }, label), h("span", { class: "strong" }, scoreText(sv[key]))));
  }
  const hasNps = sv.nps !== null && sv.nps !== undefined;
  const nps = hasNps ? npsClass(sv.nps) : null;
  indicators.appendChild(h("li", { "data-key": "nps", "data-empty": hasNps ? "0" : "1", "data-nps": nps ? nps[0] : null,
    title: "推荐意愿 0–10" }, h("span", { class: "muted" }, "NPS"), h("span", { class: "strong" }, scoreText(sv.nps)),
  nps ? h("span", { class: "nps-class" }, nps[1]) : null));

  let comment = null;
  if (sv.comment) {
    const sentiment = sv.comment_sentiment || "";
    comment = h("p", { class: "survey-comment" },
      sentiment ? h("span", { class: "sentiment", "data-sentiment": sentiment, "data-testid": "survey-sentiment" },
        SENTIMENTS[sentiment] || sentiment) : null,
      h("span", { class: "survey-comment-text" }, sv.comment));
  }
  return h("article", { class: "survey-card", "data-testid": "profile-survey", "data-survey-id": sv.id,
    "data-status": sv.status },
  head, h("div", { class: "survey-overall" }, overall, status), indicators, comment);
}
