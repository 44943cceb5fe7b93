/* 回响管理控制台 (Huixiang admin console).
 * Plain ES2020, no dependencies, no external resources.
 * Everything from the server or the user is rendered with textContent only.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ labels

  const {
    $, h, clear, fmtTime, money, LABELS, roleName, ApiError, createApi, toast, confirmDialog,
  } = window.HXStaff;
  // Used until /api/admin/stages answers.
  const STAGES_FALLBACK = Object.entries(LABELS.stages).map(([name, label]) => ({ name, label }));
  const OFFER_KINDS = {
    coupon: "优惠券",
    upgrade: "升级礼遇",
    benefit: "会员权益",
    winback: "召回礼",
    campaign: "营销活动",
  };
  const OFFER_TRIGGERS = {
    chat: "顾客询问时",
    birthday: "生日",
    member_day: "会员日",
    festival: "节日活动",
  };
  const REVISION_ACTIONS = { create: "创建", update: "修改", delete: "删除", rollback: "回滚" };
  const MERGE_REASONS = { login: "登录识别", phone: "手机号一致", staff: "人工合并", wechat: "微信识别" };
  const MERGE_STATUS = { proposed: "待确认", merged: "已合并", undone: "已撤销", rejected: "已拒绝" };
  const MERGE_ACTIONS = { proposed: "提出合并建议", merged: "完成合并", rejected: "拒绝合并", undone: "撤销合并" };
  const AUTHORS = { customer: "顾客", bot: "智能助手", staff: "人工客服", system: "系统" };
  const STAGE_TRIGGERS = { order: "下单", nightly: "每日重算", import: "导入", merge: "账户合并" };
  const TIMELINE_KINDS = { message: "消息", order: "订单", stage_change: "阶段变化", offer: "优惠", merge: "账户合并" };
  const MOVED_LABELS = { identities: "身份", conversations: "会话", orders: "订单", offer_issuances: "优惠", inbound_receipts: "微信事件", points: "积分" };
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
  const MAX_VARIANT_CHARS = 1000;
  const ADMIN_ROLE_NEEDED = "此操作需要管理员（admin）权限"; // api/deps.py
  const PAGE = 50;

  // ------------------------------------------------------------------ state

  const state = {
    me: null,
    stages: STAGES_FALLBACK,
    stageLabel: {},
    templates: [],
    tplName: null,
    stage: "growing",
    editing: null, // null (closed) | "new" | variant id
    variantRevisions: [],
    offers: [],
    offerEditing: null,
    issuance: { offer: null, offset: 0 },
    customers: { stage: "", offset: 0, total: 0 },
    customer: null,
    timelineNext: null,
    historyFor: null,
    loaded: {},
    started: false,
  };

  function charCount(text) {
    let n = 0;
    for (const _ of text) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  function stageName(stage) {
    return state.stageLabel[stage] || stage || "未知阶段";
  }

  function stagePill(stage) {
    return h("span", { class: "stage-pill stage-" + (stage || "none"), "data-stage": stage }, stageName(stage));
  }

  // ------------------------------------------------------------------ HTTP

  function mergeBy(by, reason) {
    if (!by) return "";
    return by === reason || by === "system" ? "系统自动" : by;
  }

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

  const api = createApi({
    describeDetail,
    onError(status, data) {
      if (status === 401) sessionLost();
      else if (status === 403 && data && data.detail === ADMIN_ROLE_NEEDED) adminLost();
    },
  });

  function qs(params) {
    const parts = [];
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") continue;
      parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(String(v)));
    }
    return parts.length ? "?" + parts.join("&") : "";
  }

  // ------------------------------------------------------------------ UI helpers

  function failed(err) {
    toast(err instanceof ApiError ? err.detail : "操作失败：" + String(err), "error");
  }

  async function busy(button, fn) {
    if (button) {
      if (button.disabled) return undefined;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    try {
      return await fn();
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  }

  function openDialog(id) {
    const dialog = $(id);
    if (!dialog.open) dialog.showModal();
  }

  document.querySelectorAll("dialog [data-close]").forEach((btn) => {
    btn.addEventListener("click", () => btn.closest("dialog").close());
  });

  // ------------------------------------------------------------------ views / auth

  function setView(view) {
    document.body.dataset.view = view;
    $("login-view").hidden = view !== "login";
    $("denied-view").hidden = view !== "denied";
    $("app-view").hidden = view !== "app";
  }

  function markReady() {
    document.body.dataset.ready = "1";
  }

  function closeDialogs() {
    document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  }

  function showLogin(message) {
    closeDialogs();
    state.me = null;
    state.loaded = {};
    setView("login");
    $("login-error").textContent = message || "";
    $("login-password").value = "";
    $("login-submit").disabled = false;
    ($("login-username").value ? $("login-password") : $("login-username")).focus();
    markReady();
  }

  function sessionLost() {
    if (document.body.dataset.view === "login") return;
    showLogin("登录已失效，请重新登录。");
  }

  function adminLost() {
    if (state.me) showDenied(Object.assign({}, state.me, { role: "agent" }));
  }

  function showDenied(me) {
    closeDialogs();
    state.me = me;
    setView("denied");
    const who = (me.display_name || me.username) + "（" + me.username + "）";
    $("denied-text").textContent = "当前账号 " + who + " 的角色是“" + roleName(me.role) + "”，管理控制台需要管理员（admin）角色。";
    markReady();
  }

  async function enter(me) {
    if (me.role !== "admin") {
      showDenied(me);
      return;
    }
    state.me = me;
    $("user-name").textContent = me.display_name && me.display_name !== me.username
      ? me.display_name + "（" + me.username + "）" : me.username;
    $("user-role").textContent = roleName(me.role);
    setView("app");
    state.loaded = {};
    try {
      await loadStages();
      await refreshTemplates();
      state.loaded.replies = true;
      route();
      refreshMergeBadge();
      markReady();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
      failed(err);
    }
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    const error = $("login-error");
    if (!username || !password) {
      error.textContent = !username ? "请输入用户名。" : "请输入密码。";
      (!username ? $("login-username") : $("login-password")).focus();
      return;
    }
    error.textContent = "";
    await busy($("login-submit"), async () => {
      try {
        const me = await api("POST", "/api/auth/login", { username: username, password: password }, { allow401: true });
        $("login-password").value = "";
        await enter(me);
      } catch (err) {
        let text = err instanceof ApiError ? err.detail : "登录失败，请稍后重试。";
        if (err.status === 429 && err.retryAfter) {
          const minutes = Math.ceil(Number(err.retryAfter) / 60);
          if (minutes > 0) text += "（约 " + minutes + " 分钟后可再试）";
        }
        error.textContent = text;
        $("login-password").select();
      }
    });
  });

  async function logout() {
    try {
      await api("POST", "/api/auth/logout", undefined, { allow401: true });
    } catch (_) {
      /* the session is gone either way */
    }
    showLogin("已退出登录。");
  }

  $("logout").addEventListener("click", logout);
  $("denied-logout").addEventListener("click", logout);

  // ------------------------------------------------------------------ routing

  const TABS = ["replies", "offers", "customers", "merges", "analytics", "loop"];

  function route() {
    if (!state.me || state.me.role !== "admin") return;
    const match = /^#\/(\w+)/.exec(window.location.hash || "");
    const tab = match && TABS.includes(match[1]) ? match[1] : "replies";
    document.querySelectorAll("[data-panel]").forEach((p) => {
      p.hidden = p.dataset.panel !== tab;
    });
    document.querySelectorAll(".tab").forEach((t) => {
      const on = t.dataset.tab === tab;
      t.classList.toggle("active", on);
      if (on) t.setAttribute("aria-current", "page");
      else t.removeAttribute("aria-current");
    });
    document.body.dataset.tab = tab;
    if (!state.loaded[tab]) {
      state.loaded[tab] = true;
      const load = { offers: loadOffers, customers: loadCustomers, merges: loadMerges,
                     analytics: () => window.HXAnalytics.loadAnalytics(api), loop: () => window.HXAnalytics.loadLoop(api) }[tab];
      if (load) load().catch(failed);
    }
  }

  window.addEventListener("hashchange", route);

  // ------------------------------------------------------------------ replies

  async function loadStages() {
    const stages = await api("GET", "/api/admin/stages");
    if (Array.isArray(stages) && stages.length) state.stages = stages;
    state.stageLabel = {};
    state.stages.forEach((s) => {
      state.stageLabel[s.name] = s.label;
    });
    if (!state.stageLabel[state.stage]) state.stage = state.stages[0].name;
    const select = clear($("stage-select"));
    state.stages.forEach((s) => select.appendChild(h("option", { value: s.name }, s.label)));
    select.value = state.stage;
    const filter = clear($("customer-stage"));
    filter.appendChild(h("option", { value: "" }, "全部阶段"));
    state.stages.forEach((s) => filter.appendChild(h("option", { value: s.name }, s.label)));
    const checks = clear($("offer-stages"));
    state.stages.forEach((s) => checks.appendChild(
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "stages", value: s.name, "data-testid": "offer-stage-" + s.name }), h("span", null, s.label))));
    const persona = clear($("variant-persona"));
    persona.appendChild(h("option", { value: "" }, "所有客户类型"));
    for (const [k, v] of Object.entries(LABELS.personas)) persona.appendChild(h("option", { value: k }, v + "（" + k + "）"));
  }

  async function refreshTemplates() {
    const [templates, revisions] = await Promise.all([
      api("GET", "/api/admin/templates"),
      api("GET", "/api/admin/revisions" + qs({ entity: "variant", limit: 500 })).catch(() => []),
    ]);
    state.templates = Array.isArray(templates) ? templates : [];
    state.variantRevisions = Array.isArray(revisions) ? revisions : [];
    if (!state.tplName || !currentTemplate()) {
      const greet = state.templates.find((t) => t.name === "utter_greet");
      state.tplName = greet ? greet.name : state.templates.length ? state.templates[0].name : null;
    }
    renderTemplateList();
    renderTemplate();
  }

  function currentTemplate() {
    return state.templates.find((t) => t.name === state.tplName) || null;
  }

  function stageVariants(tpl) {
    return tpl ? tpl.variants.filter((v) => v.stage === state.stage) : [];
  }

  function renderTemplateList() {
    const list = clear($("template-list"));
    const q = $("template-filter").value.trim().toLowerCase();
    let shown = 0;
    for (const tpl of state.templates) {
      const first = tpl.defaults[0] || "";
      if (q && !tpl.name.toLowerCase().includes(q) && !tpl.defaults.some((d) => d.toLowerCase().includes(q)) &&
          !tpl.variants.some((v) => v.text.toLowerCase().includes(q))) continue;
      shown++;
      const here = stageVariants(tpl).length;
      const button = h("button", {
        type: "button", class: "template-item" + (tpl.name === state.tplName ? " active" : ""),
        "data-template": tpl.name, "data-testid": "template-item",
        "aria-current": tpl.name === state.tplName ? "true" : null,
        onclick: () => selectTemplate(tpl.name),
      },
      h("span", { class: "template-name" }, tpl.name,
        here ? h("span", { class: "count", title: stageName(state.stage) + "的变体数" }, String(here)) : null),
      h("span", { class: "template-snippet" }, first));
      list.appendChild(h("li", null, button));
    }
    if (!shown) list.appendChild(h("li", { class: "empty" }, "没有匹配的模板。"));
  }

  function selectTemplate(name) {
    state.tplName = name;
    closeEditor();
    $("preview").hidden = true;
    renderTemplateList();
    renderTemplate();
  }

  function renderTemplate() {
    const tpl = currentTemplate();
    $("tpl-body").hidden = !tpl;
    $("tpl-title").textContent = tpl ? tpl.name : "请选择左侧的回复模板";
    if (!tpl) return;

    const defaults = clear($("default-texts"));
    tpl.defaults.forEach((d) => defaults.appendChild(h("li", { class: "default-text" }, d)));

    const chips = clear($("var-chips"));
    for (const [name, label] of Object.entries(tpl.variables)) {
      chips.appendChild(h("button", {
        type: "button", class: "chip", "data-var": name, "data-testid": "var-chip", title: "插入 {" + name + "}：" + label,
        onmousedown: (e) => e.preventDefault(), // keep the cursor in the editor
        onclick: () => insertVariable(name),
      }, h("code", null, "{" + name + "}"), h("span", { class: "chip-label" }, label)));
    }

    $("stage-label-variants").textContent = stageName(state.stage);
    const variants = stageVariants(tpl);
    const list = clear($("variant-list"));
    $("variants-empty").hidden = variants.length > 0;
    const enabledWeight = variants.filter((v) => v.enabled && v.weight > 0).reduce((a, v) => a + v.weight, 0);
    variants.forEach((v) => list.appendChild(variantItem(v, enabledWeight)));
    renderDeleted(tpl);
    $("editor-stage").textContent = stageName(state.stage);
  }

  function variantItem(v, enabledWeight) {
    const share = v.enabled && v.weight > 0 && enabledWeight > 0 ? Math.round((v.weight / enabledWeight) * 100) : 0;
    return h("li", {
      class: "variant" + (v.enabled ? "" : " variant-off") + (state.editing === v.id ? " editing" : ""),
      "data-testid": "variant-item", "data-variant-id": v.id, "data-enabled": v.enabled ? "1" : "0",
    },
    h("div", { class: "variant-text", "data-testid": "variant-text-display" }, v.text),
    h("div", { class: "variant-meta" },
      h("span", { class: "pill " + (v.enabled ? "pill-on" : "pill-off") }, v.enabled ? "已启用" : "已停用"),
      h("span", null, "权重 " + v.weight + (share ? "（约 " + share + "%）" : "")),
      v.persona ? h("span", null, "仅" + (LABELS.personas[v.persona] || v.persona)) : null,
      h("span", { "data-testid": "variant-version" }, "第 " + v.version + " 版"),
      h("span", { class: "muted" }, v.updated_by + " 更新于 " + fmtTime(v.updated_at))),
    h("div", { class: "variant-actions" },
      h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-edit", onclick: () => openEditor(v) }, "编辑"),
      h("button", {
        type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-toggle",
        onclick: (e) => toggleVariant(v, e.currentTarget),
      }, v.enabled ? "停用" : "启用"),
      h("button", {
        type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-history",
        onclick: () => openHistory("variant", v.id, "变体 #" + v.id + "（" + v.template + " · " + stageName(v.stage) + "）"),
      }, "历史版本"),
      h("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-testid": "variant-delete", onclick: (e) => deleteVariant(v, e.currentTarget) }, "删除")));
  }

  function renderDeleted(tpl) {
    // Deleted variants of this template and stage: their last snapshot is in the history.
    const byEntity = new Map();
    for (const r of state.variantRevisions) {
      if (!byEntity.has(r.entity_id)) byEntity.set(r.entity_id, []);
      byEntity.get(r.entity_id).push(r); // newest first
    }
    const live = new Set(state.templates.flatMap((t) => t.variants.map((v) => v.id)));
    const list = clear($("deleted-list"));
    for (const [id, revs] of byEntity) {
      if (live.has(id) || revs[0].action !== "delete") continue;
      const last = revs[0]; // a deletion keeps the record as it was
      if (!last.data || last.data.template !== tpl.name || last.data.stage !== state.stage) continue;
      list.appendChild(h("li", { class: "variant variant-off", "data-testid": "deleted-variant", "data-variant-id": id },
        h("div", { class: "variant-text" }, last.data.text),
        h("div", { class: "variant-meta" },
          h("span", { class: "pill pill-off" }, "已删除"),
          h("span", { class: "muted" }, revs[0].changed_by + " 删除于 " + fmtTime(revs[0].changed_at))),
        h("div", { class: "variant-actions" },
          h("button", {
            type: "button", class: "btn btn-ghost btn-sm", "data-testid": "variant-history",
            onclick: () => openHistory("variant", id, "已删除的变体 #" + id),
          }, "历史版本 / 恢复"))));
    }
    $("deleted-box").hidden = !list.children.length;
  }

  $("template-filter").addEventListener("input", renderTemplateList);

  $("stage-select").addEventListener("change", () => {
    state.stage = $("stage-select").value;
    if (state.editing !== null && state.editing !== "new") closeEditor();
    $("preview").hidden = true;
    renderTemplateList();
    renderTemplate();
  });

  // ---- the editor

  const editorEls = {
    box: $("editor"),
    title: $("editor-title"),
    text: $("variant-text"),
    weight: $("variant-weight"),
    persona: $("variant-persona"),
    enabled: $("variant-enabled"),
    note: $("variant-note"),
    error: $("variant-error"),
    count: $("variant-count"),
  };

  function openEditor(variant) {
    state.editing = variant ? variant.id : "new";
    editorEls.title.textContent = variant ? "编辑变体 #" + variant.id + "（当前第 " + variant.version + " 版）" : "新增变体";
    editorEls.text.value = variant ? variant.text : "";
    editorEls.weight.value = variant ? String(variant.weight) : "1";
    editorEls.persona.value = variant && variant.persona ? variant.persona : "";
    editorEls.enabled.checked = variant ? variant.enabled : true;
    editorEls.note.value = "";
    setEditorError("");
    updateCount();
    editorEls.box.hidden = false;
    renderTemplate();
    editorEls.text.focus();
    editorEls.box.scrollIntoView({ block: "nearest" });
  }

  function closeEditor() {
    state.editing = null;
    editorEls.box.hidden = true;
    setEditorError("");
  }

  function setEditorError(text) {
    editorEls.error.textContent = text;
    editorEls.text.setAttribute("aria-invalid", text ? "true" : "false");
  }

  function updateCount() {
    const n = charCount(editorEls.text.value.trim());
    editorEls.count.textContent = n + "/" + MAX_VARIANT_CHARS;
    editorEls.count.classList.toggle("over", n > MAX_VARIANT_CHARS);
  }

  function insertVariable(name) {
    if (editorEls.box.hidden) openEditor(null);
    const ta = editorEls.text;
    const token = "{" + name + "}";
    const start = ta.selectionStart ?? ta.value.length;
    const end = ta.selectionEnd ?? ta.value.length;
    ta.setRangeText(token, start, end, "end");
    ta.focus();
    updateCount();
  }

  editorEls.text.addEventListener("input", () => {
    updateCount();
    if (editorEls.error.textContent) setEditorError("");
  });

  $("variant-new").addEventListener("click", () => openEditor(null));
  $("variant-cancel").addEventListener("click", () => {
    closeEditor();
    renderTemplate();
  });

  function editorBody() {
    const weight = Number(editorEls.weight.value);
    return {
      text: editorEls.text.value,
      weight: weight,
      persona: editorEls.persona.value || null,
      enabled: editorEls.enabled.checked,
      note: editorEls.note.value.trim(),
    };
  }

  function checkDraft(body) {
    if (!body.text.trim()) return "回复内容不能为空。";
    if (!Number.isFinite(body.weight) || editorEls.weight.value === "") return "权重须为 0 到 100 之间的数字。";
    return "";
  }

  $("variant-save").addEventListener("click", (e) => busy(e.currentTarget, async () => {
    const tpl = currentTemplate();
    if (!tpl || state.editing === null) return;
    const body = editorBody();
    const problem = checkDraft(body);
    if (problem) {
      setEditorError(problem);
      return;
    }
    setEditorError("");
    try {
      let saved;
      if (state.editing === "new") {
        saved = await api("POST", "/api/admin/variants", Object.assign({ template: tpl.name, stage: state.stage }, body));
      } else {
        saved = await api("PATCH", "/api/admin/variants/" + state.editing, body);
      }
      closeEditor();
      await refreshTemplates();
      toast("已保存：变体 #" + saved.id + " 第 " + saved.version + " 版，已对" + stageName(saved.stage) + "生效。");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // back on the login screen
      setEditorError(err instanceof ApiError ? err.detail : String(err));
    }
  }));

  async function toggleVariant(v, button) {
    await busy(button, async () => {
      try {
        await api("PATCH", "/api/admin/variants/" + v.id, { enabled: !v.enabled, note: v.enabled ? "停用" : "启用" });
        await refreshTemplates();
        toast(v.enabled ? "已停用变体 #" + v.id : "已启用变体 #" + v.id);
      } catch (err) {
        failed(err);
      }
    });
  }

  async function deleteVariant(v, button) {
    const ok = await confirmDialog("删除变体 #" + v.id + "？\n\n“" + v.text + "”\n\n删除后" + stageName(v.stage) +
      "将不再看到它；需要时可在“已删除的变体”里从历史版本恢复。", "删除");
    if (!ok) return;
    await busy(button, async () => {
      try {
        await api("DELETE", "/api/admin/variants/" + v.id);
        if (state.editing === v.id) closeEditor();
        await refreshTemplates();
        toast("已删除变体 #" + v.id);
      } catch (err) {
        failed(err);
      }
    });
  }

  // ---- preview

  async function preview(withDraft, button) {
    const tpl = currentTemplate();
    if (!tpl) return;
    const body = { stage: state.stage, template: tpl.name };
    if (withDraft) {
      const draft = editorBody();
      if (!draft.text.trim()) {
        setEditorError("请先输入回复内容再预览。");
        return;
      }
      body.text = draft.text;
      body.persona = draft.persona;
    }
    await busy(button, async () => {
      try {
        const result = await api("POST", "/api/admin/preview", body);
        if (withDraft) setEditorError("");
        renderPreview(result, withDraft);
      } catch (err) {
        if (withDraft && err instanceof ApiError && err.status === 422) setEditorError(err.detail);
        else failed(err);
      }
    });
  }

  function renderPreview(result, draft) {
    const box = clear($("preview-messages"));
    const total = result.candidates.reduce((a, c) => a + (c.weight || 0), 0);
    box.appendChild(h("div", { class: "pmsg pmsg-customer" }, h("div", { class: "bubble" }, "你好")));
    result.candidates.forEach((c) => {
      let caption;
      if (c.source === "draft") caption = "草稿（尚未保存）";
      else if (c.source === "default") caption = "默认回复（该阶段没有可用变体）";
      else caption = "变体 #" + c.variant_id + " · 权重 " + c.weight + (result.candidates.length > 1 && total ? " · 约 " + Math.round((c.weight / total) * 100) + "% 的机会" : "");
      box.appendChild(h("div", { class: "pmsg pmsg-bot", "data-source": c.source },
        h("div", { class: "bubble", "data-testid": "preview-bubble" }, c.text),
        h("div", { class: "pmsg-caption" }, caption)));
    });
    $("preview-caption").textContent = stageName(result.stage) + " · " + result.template + (draft ? " · 草稿" : " · 已保存的内容");
    const s = result.sample || {};
    $("preview-sample").textContent = "示例顾客：" + (s.name || "") + "，" + stageName(result.stage) + "，积分 " + (s.points ?? "") +
      (s.coupon_code ? "，持有券 " + s.coupon_code : "") + "。实际发送时会填入每位顾客自己的信息；缺少某个变量的值时，该变体不会被选用。";
    $("preview").hidden = false;
    $("preview").scrollIntoView({ block: "nearest" });
  }

  $("preview-button").addEventListener("click", (e) => preview(true, e.currentTarget));
  $("preview-saved").addEventListener("click", (e) => preview(false, e.currentTarget));

  // ------------------------------------------------------------------ history

  async function openHistory(entity, id, title) {
    state.historyFor = { entity: entity, id: id, title: title };
    $("history-title").textContent = "历史版本 · " + title;
    $("history-error").textContent = "";
    clear($("history-list")).appendChild(h("li", { class: "empty" }, "加载中…"));
    openDialog("history-dialog");
    await loadHistory();
  }

  async function loadHistory() {
    const f = state.historyFor;
    if (!f) return;
    let revisions;
    try {
      revisions = await api("GET", "/api/admin/revisions" + qs({ entity: f.entity, entity_id: f.id, limit: 500 }));
    } catch (err) {
      $("history-error").textContent = err instanceof ApiError ? err.detail : String(err);
      return;
    }
    const list = clear($("history-list"));
    if (!revisions.length) list.appendChild(h("li", { class: "empty" }, "没有历史记录。"));
    const exists = revisions.length && revisions[0].action !== "delete";
    revisions.forEach((r, i) => {
      const older = revisions[i + 1];
      const changed = r.action !== "delete" && older ? changedFields(older.data, r.data, f.entity) : [];
      const current = i === 0 && exists;
      list.appendChild(h("li", {
        class: "history-row" + (current ? " current" : ""), "data-testid": "history-row",
        "data-version": r.version, "data-revision-id": r.id, "data-action": r.action,
      },
      h("div", { class: "history-head" },
        h("strong", { class: "history-version" }, "第 " + r.version + " 版"),
        h("span", { class: "pill pill-" + r.action }, REVISION_ACTIONS[r.action] || r.action),
        current ? h("span", { class: "pill pill-on" }, "当前") : null,
        h("span", null, r.changed_by),
        h("span", { class: "muted" }, fmtTime(r.changed_at)),
        h("span", { class: "spacer" }),
        !current && r.action !== "delete" ? h("button", {
          type: "button", class: "btn btn-ghost btn-sm", "data-testid": "rollback",
          onclick: (e) => rollback(r, e.currentTarget),
        }, "回滚到此版本") : null),
      r.note ? h("div", { class: "history-note" }, "说明：" + r.note) : null,
      r.action === "delete" ? h("div", { class: "muted" }, "（此版本为删除；要恢复请回滚到删除之前的版本）")
        : revisionBody(f.entity, r.data, changed)));
    });
  }

  function changedFields(before, after, entity) {
    const keys = entity === "variant" ? ["text", "enabled", "weight", "persona", "stage"]
      : ["title", "detail", "kind", "trigger", "stages", "rules", "period_days", "valid_days", "coupon_prefix",
        "priority", "enabled", "starts_on", "ends_on"];
    return keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  }

  function revisionBody(entity, d, changed) {
    const mark = (key) => (changed.includes(key) ? " changed" : "");
    if (entity === "variant") {
      return h("div", { class: "history-body" },
        h("div", { class: "history-text" + mark("text"), "data-testid": "history-text" }, d.text),
        h("div", { class: "variant-meta" },
          h("span", { class: mark("stage") }, stageName(d.stage)),
          h("span", { class: mark("enabled") }, d.enabled ? "启用" : "停用"),
          h("span", { class: mark("weight") }, "权重 " + d.weight),
          h("span", { class: mark("persona") }, d.persona ? "仅" + (LABELS.personas[d.persona] || d.persona) : "所有客户类型")));
    }
    return h("div", { class: "history-body" },
      h("div", { class: "history-text" + mark("title") + mark("detail") }, d.title + " —— " + d.detail),
      h("div", { class: "variant-meta" },
        h("span", { class: mark("kind") }, OFFER_KINDS[d.kind] || d.kind),
        h("span", { class: mark("trigger") }, OFFER_TRIGGERS[d.trigger] || d.trigger),
        h("span", { class: mark("stages") }, d.stages && d.stages.length ? d.stages.map(stageName).join("、") : "所有阶段"),
        h("span", { class: mark("rules") }, rulesText(d.rules) || "无领取条件"),
        h("span", { class: mark("enabled") }, d.enabled ? "启用" : "停用"),
        h("span", { class: mark("period_days") + mark("valid_days") }, "周期 " + d.period_days + " 天 · 有效 " + d.valid_days + " 天"),
        d.starts_on || d.ends_on ? h("span", { class: mark("starts_on") + mark("ends_on") }, (d.starts_on || "…") + " 至 " + (d.ends_on || "…")) : null,
        h("span", { class: mark("priority") }, "优先级 " + d.priority)));
  }

  async function rollback(r, button) {
    const ok = await confirmDialog("回滚到第 " + r.version + " 版？\n\n内容会恢复成第 " + r.version +
      " 版的样子，并记为一个新版本；历史记录不会被删除。", "回滚");
    if (!ok) return;
    await busy(button, async () => {
      try {
        const rev = await api("POST", "/api/admin/revisions/" + r.id + "/rollback");
        toast("已回滚到第 " + r.version + " 版（现为第 " + rev.version + " 版）。");
        await loadHistory();
        if (r.entity === "variant") await refreshTemplates();
        else await loadOffers();
      } catch (err) {
        $("history-error").textContent = err instanceof ApiError ? err.detail : String(err);
      }
    });
  }

  // ------------------------------------------------------------------ offers

  function rulesText(rules) {
    if (!rules) return "";
    const parts = [];
    for (const [k, v] of Object.entries(rules)) {
      if (k === "min_spent") parts.push("累计消费≥" + v + " 元");
      else if (k === "min_orders") parts.push("订单≥" + v);
      else if (k === "max_orders") parts.push("订单≤" + v);
      else if (k === "min_points") parts.push("积分≥" + v);
      else if (k === "days_of_month") parts.push("每月 " + (Array.isArray(v) ? v.join("、") : v) + " 日");
      else if (k === "window_days") parts.push("生日前后 " + v + " 天");
      else if (k === "personas") parts.push("客户类型：" + (Array.isArray(v) ? v.map((p) => LABELS.personas[p] || p).join("、") : v));
      else parts.push(k + "=" + JSON.stringify(v));
    }
    return parts.join("；");
  }

  async function loadOffers() {
    const offers = await api("GET", "/api/admin/offers");
    state.offers = offers;
    const body = clear($("offers-body"));
    offers.forEach((o) => body.appendChild(offerRow(o)));
    if (!offers.length) body.appendChild(h("tr", null, h("td", { colspan: 10, class: "empty" }, "还没有优惠活动。")));
  }

  function offerRow(o) {
    return h("tr", { "data-testid": "offer-row", "data-offer-code": o.code, "data-offer-id": o.id, class: o.enabled ? "" : "row-off" },
      h("td", null, h("div", { class: "strong" }, o.title), h("div", { class: "muted small" }, o.code + " · " + o.detail)),
      h("td", { class: "nowrap" }, OFFER_KINDS[o.kind] || o.kind),
      h("td", { class: "nowrap" }, OFFER_TRIGGERS[o.trigger] || o.trigger),
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

  const offerForm = $("offer-form");
  const SIMPLE_RULES = ["min_orders", "max_orders", "min_spent", "min_points", "window_days"];

  function fillSelect(select, labels) {
    clear(select);
    for (const [k, v] of Object.entries(labels)) select.appendChild(h("option", { value: k }, v + "（" + k + "）"));
  }
  fillSelect(offerForm.elements.kind, OFFER_KINDS);
  fillSelect(offerForm.elements.trigger, OFFER_TRIGGERS);

  function syncTriggerFields() {
    const trigger = offerForm.elements.trigger.value;
    offerForm.querySelectorAll("[data-for-trigger]").forEach((el) => {
      el.hidden = el.dataset.forTrigger !== trigger;
    });
  }
  offerForm.elements.trigger.addEventListener("change", syncTriggerFields);

  function openOfferForm(o) {
    state.offerEditing = o || null;
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
    const rules = Object.assign({}, (state.offerEditing && state.offerEditing.rules) || {});
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
    if (!state.offerEditing) {
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

  offerForm.addEventListener("submit", (e) => {
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
        const editing = state.offerEditing;
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
  });

  $("offer-new").addEventListener("click", () => openOfferForm(null));

  async function openIssuances(o) {
    state.issuance = { offer: o, offset: 0 };
    $("issuance-title").textContent = "发放记录 · " + o.title + "（共 " + o.issued + " 张）";
    clear($("issuance-body"));
    openDialog("issuance-dialog");
    await loadIssuances();
  }

  async function loadIssuances() {
    const s = state.issuance;
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
        h("td", null, OFFER_TRIGGERS[r.trigger] || r.trigger),
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

  $("issuance-more").addEventListener("click", (e) => busy(e.currentTarget, loadIssuances));

  // ------------------------------------------------------------------ customers

  async function loadCustomers() {
    const c = state.customers;
    const page = await api("GET", "/api/customers" + qs({ stage: c.stage, limit: PAGE, offset: c.offset }));
    c.total = page.total;
    const list = clear($("customer-list"));
    page.items.forEach((cu) => {
      const ids = cu.identities.map((i) => (LABELS.identityKinds[i.kind] || i.kind) + " " + i.value_masked).join(" · ");
      list.appendChild(h("li", null, h("button", {
        type: "button", class: "customer-item" + (state.customer && state.customer.id === cu.id ? " active" : ""),
        "data-testid": "customer-item", "data-customer-id": cu.id, onclick: () => showCustomer(cu.id),
      },
      h("span", { class: "customer-line" },
        h("span", { class: "strong" }, "#" + cu.id + " " + (cu.display_name || "未留名")), stagePill(cu.stage)),
      h("span", { class: "muted small" }, "积分 " + cu.points + " · 最近 " + fmtTime(cu.last_seen_at)),
      ids ? h("span", { class: "muted small ellipsis" }, ids) : null)));
    });
    if (!page.items.length) list.appendChild(h("li", { class: "empty" }, "没有客户。"));
    const pages = Math.max(1, Math.ceil(c.total / PAGE));
    $("customers-page").textContent = "第 " + (Math.floor(c.offset / PAGE) + 1) + " / " + pages + " 页，共 " + c.total + " 位";
    $("customers-prev").disabled = c.offset === 0;
    $("customers-next").disabled = c.offset + PAGE >= c.total;
  }

  $("customer-stage").addEventListener("change", () => {
    state.customers.stage = $("customer-stage").value;
    state.customers.offset = 0;
    loadCustomers().catch(failed);
  });
  $("customers-prev").addEventListener("click", () => {
    state.customers.offset = Math.max(0, state.customers.offset - PAGE);
    loadCustomers().catch(failed);
  });
  $("customers-next").addEventListener("click", () => {
    state.customers.offset += PAGE;
    loadCustomers().catch(failed);
  });

  function showCustomer(id) {
    if (document.body.dataset.tab !== "customers") window.location.hash = "#/customers";
    openCustomer(id).catch(failed);
  }

  async function openCustomer(id) {
    $("customer-empty").hidden = true;
    $("customer-detail").hidden = false;
    $("merge-error").textContent = "";
    clear($("timeline"));
    $("timeline-more").hidden = true;
    $("timeline-empty").hidden = true;
    const customer = await api("GET", "/api/customers/" + id);
    state.customer = customer;
    document.querySelectorAll(".customer-item").forEach((b) => {
      b.classList.toggle("active", Number(b.dataset.customerId) === customer.id);
    });
    $("customer-title").textContent = "#" + customer.id + " " + (customer.display_name || "未留名客户");
    renderCustomerSub(customer, []);
    state.timelineNext = null;
    await loadTimeline(true);
  }

  function renderCustomerSub(c, merged) {
    const sub = clear($("customer-sub"));
    sub.append(stagePill(c.stage), " 积分 " + c.points + " · 首次 " + fmtTime(c.first_seen_at) + " · 最近 " + fmtTime(c.last_seen_at));
    if (c.last_ip_masked) sub.append(" · IP " + c.last_ip_masked);
    c.identities.forEach((i) => sub.append(" · " + (LABELS.identityKinds[i.kind] || i.kind) + " " + i.value_masked));
    if (merged.length) {
      sub.append(" · 已并入：");
      merged.forEach((m, n) => {
        if (n) sub.append("、");
        sub.append(h("button", { type: "button", class: "link", onclick: () => showCustomer(m) }, "#" + m));
      });
    }
  }

  async function loadTimeline(first) {
    const c = state.customer;
    if (!c) return;
    const cursor = first ? {} : state.timelineNext || {};
    let page;
    try {
      page = await api("GET", "/api/customers/" + c.id + "/timeline" + qs({ limit: 30, before: cursor.before, before_event: cursor.before_event }));
    } catch (err) {
      const m = err instanceof ApiError && err.status === 404 ? /已合并到客户 #(\d+)/.exec(err.detail) : null;
      const list = $("timeline");
      list.appendChild(h("li", { class: "empty" }, err.detail || String(err),
        m ? h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => showCustomer(Number(m[1])) }, "查看客户 #" + m[1]) : null));
      return;
    }
    if (first) renderCustomerSub(c, page.merged_customer_ids || []);
    const list = $("timeline");
    page.items.forEach((e) => list.appendChild(timelineItem(e, c.id)));
    state.timelineNext = page.next_before ? { before: page.next_before, before_event: page.next_before_event } : null;
    $("timeline-more").hidden = !state.timelineNext;
    $("timeline-empty").hidden = list.children.length > 0;
  }

  $("timeline-more").addEventListener("click", (e) => busy(e.currentTarget, () => loadTimeline(false)));

  function timelineItem(e, viewing) {
    const d = e[e.kind] || {};
    let body;
    if (e.kind === "message") {
      body = h("div", { class: "tl-msg tl-" + d.author },
        h("span", { class: "tl-who" }, AUTHORS[d.author] || d.author),
        h("div", { class: "bubble" }, d.text),
        h("div", { class: "muted small" }, [LABELS.channels[d.channel] || d.channel, d.intent ? "意图 " + d.intent : null, d.template ? "回复 " + d.template : null].filter(Boolean).join(" · ")));
    } else if (e.kind === "order") {
      body = h("div", null,
        h("div", null, h("span", { class: "strong" }, "订单 " + d.order_no), " · " + (d.status_label || d.status) + " · " + money(d.amount)),
        h("div", { class: "muted small" }, (d.items || []).map((i) => i.name + " ×" + i.quantity).join("，") + " · " + (LABELS.channels[d.channel] || d.channel)));
    } else if (e.kind === "stage_change") {
      body = h("div", null,
        h("div", null, stagePill(d.from_stage), " → ", stagePill(d.to_stage)),
        h("div", { class: "muted small" }, (STAGE_TRIGGERS[d.trigger] || d.trigger) + " · " + d.reason));
    } else if (e.kind === "offer") {
      body = h("div", null,
        h("div", null, h("span", { class: "strong" }, d.title), " (" + d.code + ") · " + (OFFER_TRIGGERS[d.trigger] || d.trigger)),
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
          " · 客户 #" + d.source_id + " → #" + d.target_id + " · " + (MERGE_REASONS[d.reason] || d.reason) +
          " · 现状：" + (MERGE_STATUS[d.status] || d.status)),
        h("div", { class: "muted small" }, [d.by ? "操作人：" + mergeBy(d.by, d.reason) : null, d.detail || ""].filter(Boolean).join(" · ")),
        actions.length ? h("div", { class: "actions" }, actions) : null);
    } else {
      body = h("div", null, JSON.stringify(d));
    }
    return h("li", { class: "tl-item tl-kind-" + e.kind, "data-testid": "timeline-item", "data-kind": e.kind, "data-key": e.key },
      h("div", { class: "tl-time" }, fmtTime(e.at)),
      h("div", { class: "tl-kind" }, TIMELINE_KINDS[e.kind] || e.kind),
      h("div", { class: "tl-body" }, body,
        e.customer_id !== viewing ? h("div", { class: "muted small" }, "（来自已并入的客户 #" + e.customer_id + "）") : null));
  }

  $("merge-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const c = state.customer;
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
  });

  // ------------------------------------------------------------------ merges

  const MERGE_VERBS = {
    confirm: { ask: "确认合并", done: "已确认合并" },
    reject: { ask: "拒绝这条合并建议", done: "已拒绝合并建议" },
    undo: { ask: "撤销这次合并（两个客户恢复为各自独立）", done: "已撤销合并" },
  };

  async function mergeAction(action, id, button) {
    const ok = await confirmDialog(MERGE_VERBS[action].ask + "？（合并记录 #" + id + "）", MERGE_VERBS[action].ask.slice(0, 4));
    if (!ok) return;
    await busy(button, async () => {
      try {
        await api("POST", "/api/merges/" + id + "/" + action);
        toast(MERGE_VERBS[action].done + "（#" + id + "）。");
      } catch (err) {
        failed(err);
      }
      refreshMergeBadge();
      if (document.body.dataset.tab === "merges") loadMerges().catch(failed);
      if (state.customer && document.body.dataset.tab === "customers") openCustomer(state.customer.id).catch(failed);
    });
  }

  async function loadMerges() {
    const status = $("merge-status").value;
    const page = await api("GET", "/api/merges" + qs({ status: status, limit: 200 }));
    const body = clear($("merges-body"));
    page.items.forEach((m) => {
      const actions = [];
      if (m.status === "proposed") {
        actions.push(h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "merge-confirm", onclick: (e) => mergeAction("confirm", m.id, e.currentTarget) }, "确认合并"));
        actions.push(h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "merge-reject", onclick: (e) => mergeAction("reject", m.id, e.currentTarget) }, "拒绝"));
      } else if (m.status === "merged") {
        actions.push(h("button", { type: "button", class: "btn btn-danger-ghost btn-sm", "data-testid": "merge-undo", onclick: (e) => mergeAction("undo", m.id, e.currentTarget) }, "撤销合并"));
      }
      const link = (id) => h("button", { type: "button", class: "link", onclick: () => showCustomer(id) }, "客户 #" + id);
      const when = m.status === "merged" ? m.merged_at : m.status === "proposed" ? m.created_at : m.undone_at || m.created_at;
      const who = m.status === "merged" ? m.merged_by : m.status === "proposed" ? null : m.undone_by;
      body.appendChild(h("tr", { "data-testid": "merge-row", "data-merge-id": m.id, "data-status": m.status },
        h("td", null, "#" + m.id),
        h("td", null, link(m.source_id)),
        h("td", null, link(m.target_id)),
        h("td", null, MERGE_REASONS[m.reason] || m.reason),
        h("td", { class: "small" }, m.detail || "", movedText(m.moved)
          ? h("div", { class: "muted small" }, "转移：" + movedText(m.moved)) : null),
        h("td", null, h("span", { class: "pill pill-" + m.status }, MERGE_STATUS[m.status] || m.status)),
        h("td", { class: "nowrap small" }, fmtTime(when), who ? h("div", { class: "muted" }, mergeBy(who, m.reason)) : null),
        h("td", { class: "nowrap" }, actions)));
    });
    $("merges-empty").hidden = page.items.length > 0;
    if (status === "proposed") setMergeBadge(page.total);
  }

  function movedText(moved) {
    return Object.entries(moved || {}).filter(([, v]) => v).map(([k, v]) => (MOVED_LABELS[k] || k) + " " + v).join("，");
  }

  function setMergeBadge(n) {
    const badge = $("merge-badge");
    badge.textContent = String(n);
    badge.hidden = !n;
  }

  async function refreshMergeBadge() {
    try {
      const page = await api("GET", "/api/merges" + qs({ status: "proposed", limit: 1 }));
      setMergeBadge(page.total);
    } catch (_) {
      /* the badge is a convenience */
    }
  }

  $("merge-status").addEventListener("change", () => loadMerges().catch(failed));

  // ------------------------------------------------------------------ start

  async function boot() {
    try {
      const me = await api("GET", "/api/auth/me", undefined, { allow401: true });
      await enter(me);
    } catch (err) {
      showLogin(err instanceof ApiError && err.status === 401 ? "" : err.detail || String(err));
    }
  }

  boot();
})();
