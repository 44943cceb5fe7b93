/* The workspace's own words and formats: names of codes that have no Python constant
 * (the shared ones come from /api/staff/labels, common/labels.js), times and waits. */
import { fmtDate, pad2, parseDate } from "../common/staff-ui.js";

export const REASONS = {
  handoff_requested: "顾客要求人工",
  repeated_fallback: "机器人连续未理解",
  priority_complaint: "重要顾客投诉",
  strongly_negative: "情绪强烈不满",
  bot_unavailable: "机器人故障",
  bot_no_reply: "机器人无回复",
  staff_takeover: "人工介入",
  merge_proposed: "待确认账户合并",
  delivery_failed: "微信消息未送达",
};
// Messages to WeChat customers that have not gone out yet, or never will.
export const DELIVERY = {
  held: ["发送中…", "sending"],
  pending: ["发送中…", "sending"],
  failed: ["未送达", "failed"],
};
export const CONV_STATUS = { open: "进行中", closed: "已结束" };
export const AUTHOR_LABELS = { customer: "顾客", bot: "智能助手", staff: "人工客服", system: "系统消息" };
export const FOLLOW_UP_REASONS = { negative_comment: "差评留言", low_score: "低分未留言" };
export const SENTIMENTS = { positive: "正面", neutral: "中性", negative: "负面" };
export const SURVEY_TRIGGERS = { goodbye: "顾客道别后", resolved: "人工结束后", api: "其他渠道提交" };
export const SURVEY_STATUS = { asking: "进行中", completed: "已完成", abandoned: "未答完", declined: "已婉拒" };
export const SURVEY_INDICATORS = [["quality", "质量"], ["service", "服务"], ["value", "性价比"], ["innovation", "创新"]];
// Seed 003's six tag families, as the persona job writes them into the customer's tags
// (shorter than the analytics page's names in /api/staff/labels tag_families: chips are small).
export const TAG_FAMILIES = [["channel", "渠道"], ["rating", "评价"], ["attributes", "属性"],
  ["contact_change", "咨询量"], ["complaint_risk", "投诉风险"], ["cluster", "分群"]];
export const TAG_LEVELS = { // family -> tag -> colour of the chip
  rating: { "好评": "good", "差评": "bad" },
  complaint_risk: { "高": "bad", "中": "warn", "低": "good" },
  contact_change: { "上升": "warn" },
};

export function fmtHM(iso) {
  const d = parseDate(iso);
  return d ? pad2(d.getHours()) + ":" + pad2(d.getMinutes()) : "";
}

export function fmtDateTime(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return (sameDay ? "" : fmtDate(iso) + " ") + pad2(d.getHours()) + ":" + pad2(d.getMinutes());
}

export function fmtWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + "秒";
  if (s < 3600) return Math.floor(s / 60) + "分" + pad2(s % 60) + "秒";
  return Math.floor(s / 3600) + "小时" + pad2(Math.floor((s % 3600) / 60)) + "分";
}

// Follow-up tasks may wait days: coarser than the queue's waits.
export function fmtAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 3600) return fmtWait(s);
  if (s < 86400) return Math.floor(s / 3600) + "小时" + pad2(Math.floor((s % 3600) / 60)) + "分";
  return Math.floor(s / 86400) + "天" + Math.floor((s % 86400) / 3600) + "小时";
}

export function elapsedSince(at) {
  return at ? (performance.now() - at) / 1000 : 0;
}

export function customerName(item) {
  return item.customer_name || "访客#" + item.customer_id;
}

export function reasonLabel(reason) {
  return reason ? REASONS[reason] || reason : "";
}

export function followUpReason(reason) {
  return FOLLOW_UP_REASONS[reason] || reason || "";
}
