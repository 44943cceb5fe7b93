/* The Chinese names of the codes the API returns (stages, personas, order statuses,
 * jobs, roles, steps, merge statuses, loop modes, model names, offer kinds and triggers):
 * GET /api/staff/labels, built from the Python constants (api/routes/labels.py), loaded
 * once after login by login.js. Also the few names that have no Python constant and
 * both staff pages use (channels, identity kinds).
 */

// Filled in place by loadLabels(): { stages: {code: name}, personas: {…}, … }.
export const labels = {
  stages: {}, jobs: {}, personas: {}, order_statuses: {}, steps: {}, merge_statuses: {}, loop_modes: {},
  tag_families: {}, models: {}, roles: {}, offer_kinds: {}, offer_triggers: {},
};
let loaded = false;

export async function loadLabels(api) {
  if (loaded) return;
  Object.assign(labels, await api("GET", "/api/staff/labels"));
  loaded = true;
}

export const CHANNELS = { web: "网页", wechat: "微信", app: "App", phone: "电话" };
export const IDENTITY_KINDS = { web_client: "网页访客", user_id: "会员账号", wechat_openid: "微信", phone: "手机号" };

export function stageName(stage) {
  return labels.stages[stage] || stage || "未知阶段";
}

export function personaName(persona) {
  return labels.personas[persona] || persona;
}

export function roleName(role) {
  return labels.roles[role] || role;
}

export function channelName(channel) {
  return CHANNELS[channel] || channel || "";
}
