/* The console's API client: a lost session (401) goes back to the login form, a lost
 * admin role (403) to the "denied" view; FastAPI's field errors are worded in Chinese. */
import { createApi } from "../common/staff-ui.js";
import { sessionLost } from "../common/login.js";
import { adminLost } from "./denied.js";

const RULE_LABELS = {
  min_orders: "最少订单",
  max_orders: "最多订单",
  min_spent: "累计消费≥",
  min_points: "积分≥",
  personas: "客户类型",
  days_of_month: "每月",
  window_days: "生日前后",
};
const FIELD_LABELS = {
  code: "优惠编码", title: "名称", detail: "说明", kind: "类型", trigger: "触发方式", stages: "适用阶段",
  rules: "领取条件", period_days: "发放周期", valid_days: "券有效期", coupon_prefix: "券码前缀",
  priority: "优先级", enabled: "启用", starts_on: "开始日期", ends_on: "结束日期", note: "修改说明",
  text: "回复内容", weight: "权重", persona: "客户类型", stage: "阶段", template: "模板",
  username: "用户名", password: "密码", source_id: "客户编号",
};
const ADMIN_ROLE_NEEDED = "此操作需要管理员（admin）权限"; // api/deps.py

/* FastAPI's own field errors, with the fields named in Chinese. */
function describeDetail(detail) {
  if (!Array.isArray(detail) || !detail.length) return null;
  const fields = [];
  for (const e of detail) {
    const loc = Array.isArray(e && e.loc) ? e.loc.filter((p) => p !== "body" && p !== "query") : [];
    const name = loc.length ? String(loc[loc.length - 1]) : "";
    const label = FIELD_LABELS[name] || RULE_LABELS[name] || name;
    if (label && !fields.includes(label)) fields.push(label);
  }
  return "填写有误：" + (fields.length ? fields.join("、") + " 不符合要求" : "请检查输入") + "。";
}

export const api = createApi({
  describeDetail,
  onError(status, data) {
    if (status === 401) sessionLost();
    else if (status === 403 && data && data.detail === ADMIN_ROLE_NEEDED) adminLost();
  },
});

export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(String(v)));
  }
  return parts.length ? "?" + parts.join("&") : "";
}
