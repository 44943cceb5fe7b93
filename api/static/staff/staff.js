/* 回响客服工作台 (Huixiang staff workspace).
 * Plain ES2020, no dependencies, no external resources.
 * Everything from the server or the user is rendered with textContent only.
 *
 * Live notices (server-sent events, /api/staff/events) say which conversation changed;
 * the queue (every 2 s) and the open conversation (every 1.5 s, only messages newer
 * than the last one seen, via ?after_id=) are also polled as the fallback.
 * Follow-up tasks (回访任务) are fetched on live notices (at most every 3 s) and every 30 s.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ labels

  const QUEUE_POLL_MS = 2000;
  const CONV_POLL_MS = 1500;
  const MAX_BACKOFF_MS = 15000;
  const TITLE = "回响客服工作台";
  const {
    $, h, append, setText, pad2, parseDate, fmtDate, money, LABELS, roleName, ApiError, createApi, toast,
    confirmDialog,
  } = window.HXStaff;

  const REASONS = {
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
  const DELIVERY = {
    held: ["发送中…", "sending"],
    pending: ["发送中…", "sending"],
    failed: ["未送达", "failed"],
  };
  const ORDER_STATUS = {
    pending_payment: "待付款",
    paid: "已付款，等待发货",
    shipped: "已发货，运输中",
    delivered: "已签收",
    completed: "已完成",
    refunding: "退款处理中",
    refunded: "已退款",
    cancelled: "已取消",
  };
  const CONV_STATUS = { open: "进行中", closed: "已结束" };
  const AUTHOR_LABELS = { customer: "顾客", bot: "智能助手", staff: "人工客服", system: "系统消息" };
  const LIFECYCLE = ["escalated", "claimed", "handed_back", "resolved"];

  const FOLLOW_UP_POLL_MS = 30000;
  const FOLLOW_UP_MIN_GAP_MS = 3000; // live notices come with every message: refresh at most this often
  const FOLLOW_UP_LIMIT = 200;
  const FOLLOW_UP_REASONS = { negative_comment: "差评留言", low_score: "低分未留言" };
  const SENTIMENTS = { positive: "正面", neutral: "中性", negative: "负面" };
  const SURVEY_TRIGGERS = { goodbye: "顾客道别后", resolved: "人工结束后", api: "其他渠道提交" };
  const SURVEY_STATUS = { asking: "进行中", completed: "已完成", abandoned: "未答完", declined: "已婉拒" };
  const SURVEY_INDICATORS = [["quality", "质量"], ["service", "服务"], ["value", "性价比"], ["innovation", "创新"]];
  // Seed 003's six tag families, as the persona job writes them into the customer's tags.
  const TAG_FAMILIES = [["channel", "渠道"], ["rating", "评价"], ["attributes", "属性"],
    ["contact_change", "咨询量"], ["complaint_risk", "投诉风险"], ["cluster", "分群"]];
  const TAG_LEVELS = { // family -> tag -> colour of the chip
    rating: { "好评": "good", "差评": "bad" },
    complaint_risk: { "高": "bad", "中": "warn", "低": "good" },
    contact_change: { "上升": "warn" },
  };

  // ------------------------------------------------------------------ state

  const state = {
    me: null,
    running: false, // polling on (logged in)
    live: null, // EventSource of /api/staff/events
    queue: { waiting: [], mine: [], others: [] },
    queueAt: 0, // performance.now() when the queue was fetched (for the ticking waits)
    queueFailures: 0,
    queueSeq: 0, // requests are numbered: an older answer never overwrites a newer one
    queueApplied: 0,
    knownWaiting: null, // Set of waiting ids seen before (null until the first load)
    newUntil: new Map(), // conversation id -> time until which it is marked new
    lastText: new Map(), // conversation id -> last message text (for the unread dot)
    unread: new Set(),
    queueTimer: null,
    tickTimer: null,
    canned: [],

    convId: null,
    convGen: 0,
    convTimer: null,
    convFailures: 0,
    convSeq: 0,
    convApplied: 0,
    conv: null, // QueueItem of the open conversation
    convAt: 0,
    lastId: 0,
    messages: new Map(),
    notes: new Map(),
    events: [],
    profileKey: "",
    gone: false, // the API no longer shows this conversation to us (404)
    acting: false,

    tab: "queue", // the left column shows "queue" or "follow-ups"
    fu: {
      view: "open", // "open" | "done"
      open: null, // open tasks (null until the first load)
      done: [],
      timer: null,
      soon: false, // a refresh after a live notice is already scheduled
      lastAt: 0, // performance.now() of the last refresh
      seq: 0,
      applied: 0,
      failed: false,
      task: null, // the task in the 完成回访 dialog
      opener: null, // the button that opened it (focus returns there)
      saving: false,
    },
  };

  function fmtHM(iso) {
    const d = parseDate(iso);
    return d ? pad2(d.getHours()) + ":" + pad2(d.getMinutes()) : "";
  }

  function fmtDateTime(iso) {
    const d = parseDate(iso);
    if (!d) return "";
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    return (sameDay ? "" : fmtDate(iso) + " ") + pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }

  function fmtWait(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + "秒";
    if (s < 3600) return Math.floor(s / 60) + "分" + pad2(s % 60) + "秒";
    return Math.floor(s / 3600) + "小时" + pad2(Math.floor((s % 3600) / 60)) + "分";
  }

  // Follow-up tasks may wait days: coarser than the queue's waits.
  function fmtAge(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 3600) return fmtWait(s);
    if (s < 86400) return Math.floor(s / 3600) + "小时" + pad2(Math.floor((s % 3600) / 60)) + "分";
    return Math.floor(s / 86400) + "天" + Math.floor((s % 86400) / 3600) + "小时";
  }

  function customerName(item) {
    return item.customer_name || "访客#" + item.customer_id;
  }

  function stageLabel(stage) {
    return LABELS.stages[stage] || stage || "未知阶段";
  }

  function reasonLabel(reason) {
    return reason ? REASONS[reason] || reason : "";
  }

  function channelLabel(channel) {
    return LABELS.channels[channel] || channel || "";
  }

  // ------------------------------------------------------------------ HTTP

  const api = createApi({
    onError(status) {
      if (status === 401) sessionLost();
    },
  });

  function convUrl(id, suffix) {
    return "/api/staff/conversations/" + encodeURIComponent(id) + (suffix || "");
  }

  // ------------------------------------------------------------------ UI helpers

  function showError(text) {
    setText($("ws-error"), text || "");
  }

  function setConn(ok) {
    const el = $("conn");
    el.dataset.state = ok ? "ok" : "down";
    setText(el, ok ? "实时同步中" : "连接中断，正在重试…");
    el.title = ok ? "队列每 2 秒、当前会话每 1.5 秒自动刷新" : "无法连接服务器，稍后会自动重试";
  }

  // ------------------------------------------------------------------ views / auth

  function setView(view) {
    document.body.dataset.view = view;
    $("login-view").hidden = view !== "login";
    $("app-view").hidden = view !== "app";
  }

  function markReady() {
    document.body.dataset.ready = "1";
  }

  // Server-sent events: "conversation X changed" the moment it does; the queue and the
  // open conversation are then fetched as a poll would. Polling stays as the fallback.
  function startLive() {
    if (!window.EventSource || state.live) return;
    const source = new EventSource("/api/staff/events");
    source.addEventListener("open", () => { document.body.dataset.live = "1"; });
    source.addEventListener("error", () => { document.body.dataset.live = "0"; });
    source.addEventListener("changed", (e) => {
      let id = null;
      try { id = JSON.parse(e.data).conversation_id; } catch (_) { /* a malformed notice: refresh all */ }
      refreshQueueSoon();
      if (!id || id === state.convId) refreshConversationSoon();
      followUpsSoon(); // a finished survey may have opened a follow-up task
    });
    state.live = source;
  }

  function stopPolling() {
    if (state.live) state.live.close();
    state.live = null;
    state.running = false;
    for (const key of ["queueTimer", "convTimer", "tickTimer"]) {
      if (state[key]) clearTimeout(state[key]);
      state[key] = null;
    }
    if (state.fu.timer) clearTimeout(state.fu.timer);
    state.fu.timer = null;
    state.fu.soon = false;
  }

  function showLogin(message) {
    stopPolling();
    document.querySelectorAll("dialog[open]").forEach((d) => d.close());
    state.me = null;
    closeConversation();
    setView("login");
    document.title = TITLE;
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

  async function enter(me) {
    state.me = me;
    setText($("user-name"), me.display_name && me.display_name !== me.username
      ? me.display_name + "（" + me.username + "）" : me.username);
    setText($("user-role"), roleName(me.role));
    $("section-others").hidden = me.role !== "admin";
    $("canned-form").hidden = me.role !== "admin";
    setView("app");
    state.running = true;
    startLive();
    state.knownWaiting = null;
    state.newUntil.clear();
    state.lastText.clear();
    state.unread.clear();
    setConn(true);
    loadCanned();
    state.fu.open = null;
    state.fu.done = [];
    loadFollowUps();
    await pollQueue();
    if (!state.running) return; // the session was lost meanwhile
    state.tickTimer = setInterval(tick, 1000);
    const fromHash = hashConversation();
    if (fromHash) openConversation(fromHash);
    markReady();
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
    const button = $("login-submit");
    button.disabled = true;
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
    } finally {
      button.disabled = false;
    }
  });

  $("logout").addEventListener("click", async () => {
    stopPolling();
    history.replaceState(null, "", location.pathname); // the next person starts with no conversation open
    try {
      await api("POST", "/api/auth/logout", undefined, { allow401: true });
    } catch (_) {
      /* the session is gone either way */
    }
    showLogin("已退出登录。");
  });

  // ------------------------------------------------------------------ queue

  function scheduleQueue(delay) {
    if (state.queueTimer) clearTimeout(state.queueTimer);
    state.queueTimer = state.running ? setTimeout(pollQueue, delay) : null;
  }

  async function pollQueue() {
    state.queueTimer = null;
    if (!state.running) return;
    const seq = ++state.queueSeq;
    try {
      const data = await api("GET", "/api/staff/queue");
      state.queueFailures = 0;
      setConn(true);
      if (seq < state.queueApplied || !state.running) return;
      state.queueApplied = seq;
      applyQueue(data);
    } catch (err) {
      if (err.status === 401) return;
      state.queueFailures = Math.min(state.queueFailures + 1, 4);
      setConn(false);
    }
    scheduleQueue(Math.min(QUEUE_POLL_MS * Math.pow(2, state.queueFailures), MAX_BACKOFF_MS));
  }

  function refreshQueueSoon() {
    if (state.running) scheduleQueue(0);
  }

  function applyQueue(data) {
    state.queue = { waiting: data.waiting || [], mine: data.mine || [], others: data.others || [] };
    state.queueAt = performance.now();
    const now = Date.now();

    // Newly arrived waiting conversations are marked for a while.
    const ids = new Set(state.queue.waiting.map((i) => i.conversation_id));
    let arrived = 0;
    if (state.knownWaiting) {
      for (const id of ids) {
        if (!state.knownWaiting.has(id)) {
          state.newUntil.set(id, now + 15000);
          arrived++;
        }
      }
    }
    state.knownWaiting = ids;
    for (const [id, until] of state.newUntil) if (until < now || !ids.has(id)) state.newUntil.delete(id);

    // A changed last message in a conversation that is not open: unread.
    for (const item of state.queue.mine.concat(state.queue.others)) {
      const before = state.lastText.get(item.conversation_id);
      if (before !== undefined && before !== item.last_message && item.conversation_id !== state.convId) {
        state.unread.add(item.conversation_id);
      }
      state.lastText.set(item.conversation_id, item.last_message);
    }

    renderList($("list-waiting"), state.queue.waiting, "暂无等待中的顾客");
    renderList($("list-mine"), state.queue.mine, "您当前没有接待中的会话");
    if (state.me && state.me.role === "admin") renderList($("list-others"), state.queue.others, "其他客服暂无会话");
    setText($("count-waiting"), state.queue.waiting.length);
    setText($("count-mine"), state.queue.mine.length);
    setText($("count-others"), state.queue.others.length);
    $("count-waiting").dataset.zero = state.queue.waiting.length ? "0" : "1";
    updateTitle(arrived);
    tick();
  }

  function updateTitle(arrived) {
    const n = state.queue.waiting.length;
    const unread = state.unread.size;
    let title = TITLE;
    if (n) title = "（" + n + " 位等待）" + title;
    if (unread) title = "【" + unread + " 条新消息】" + title;
    if (arrived && document.visibilityState !== "visible") title = "【新顾客】" + title;
    document.title = title;
  }

  // Queue items are kept per conversation and updated in place, so a poll never
  // replaces the button under the mouse.
  function renderList(list, items, emptyText) {
    const existing = new Map();
    list.querySelectorAll(":scope > li[data-key]").forEach((li) => existing.set(li.dataset.key, li));
    let empty = list.querySelector(":scope > li.queue-empty");
    if (!items.length) {
      existing.forEach((li) => li.remove());
      if (!empty) list.appendChild(h("li", { class: "queue-empty" }, emptyText));
      return;
    }
    if (empty) empty.remove();
    let prev = null;
    for (const item of items) {
      let li = existing.get(item.conversation_id);
      if (li) existing.delete(item.conversation_id);
      else li = buildQueueItem(item);
      updateQueueItem(li, item);
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    }
    existing.forEach((li) => li.remove());
  }

  function buildQueueItem(item) {
    const parts = {
      name: h("span", { class: "qi-name ellipsis" }),
      stage: h("span", { class: "stage-pill" }),
      flag: h("span", { class: "qi-flag" }),
      reason: h("span", { class: "qi-reason" }),
      channel: h("span", { class: "qi-channel" }),
      last: h("span", { class: "qi-last ellipsis" }),
      wait: h("span", { class: "qi-wait", "data-testid": "queue-wait" }),
      pos: h("span", { class: "qi-pos" }),
      dot: h("span", { class: "qi-dot", title: "有新消息", "aria-label": "有新消息" }),
    };
    const button = h("button", { type: "button", class: "qi", "data-testid": "queue-item" },
      h("span", { class: "qi-top" }, parts.name, parts.dot, parts.stage),
      h("span", { class: "qi-tags" }, parts.reason, parts.channel, parts.flag),
      parts.last,
      h("span", { class: "qi-bottom" }, parts.wait, parts.pos));
    button.addEventListener("click", () => openConversation(button.dataset.conversationId));
    const li = h("li", { "data-key": item.conversation_id }, button);
    li._parts = parts;
    li._button = button;
    return li;
  }

  function updateQueueItem(li, item) {
    const p = li._parts;
    const b = li._button;
    const id = item.conversation_id;
    b.dataset.conversationId = id;
    b.dataset.handler = item.handler;
    b.classList.toggle("active", id === state.convId);
    b.classList.toggle("is-new", state.newUntil.has(id));
    setText(p.name, customerName(item));
    setText(p.stage, stageLabel(item.stage));
    p.stage.className = "stage-pill stage-" + (item.stage || "none");
    setText(p.reason, reasonLabel(item.reason));
    p.reason.hidden = !item.reason;
    setText(p.channel, channelLabel(item.channel));
    setText(p.last, item.last_message || "");
    p.dot.hidden = !state.unread.has(id);

    const me = state.me ? state.me.id : null;
    let flag = "";
    if (item.handler === "waiting" && item.preferred_staff_id != null) {
      flag = item.preferred_staff_id === me ? "专属·优先给您" : "已指定专属客服";
    }
    setText(p.flag, flag);
    p.flag.hidden = !flag;
    p.flag.dataset.mine = item.preferred_staff_id === me ? "1" : "0";
    b.dataset.reserved = item.preferred_staff_id != null && item.preferred_staff_id === me ? "me"
      : item.preferred_staff_id != null ? "other" : "";

    if (item.handler === "waiting") {
      p.wait.dataset.base = String(item.waiting_seconds || 0);
      setText(p.pos, item.position ? "第 " + item.position + " 位" : "");
    } else {
      delete p.wait.dataset.base;
      setText(p.wait, item.claimed_at ? "接入于 " + fmtDateTime(item.claimed_at) : "");
      setText(p.pos, "");
    }
  }

  function elapsedSince(at) {
    return at ? (performance.now() - at) / 1000 : 0;
  }

  // Every second: the waiting times count up between polls.
  function tick() {
    const since = elapsedSince(state.queueAt);
    document.querySelectorAll(".qi-wait[data-base]").forEach((el) => {
      const s = Number(el.dataset.base) + since;
      setText(el, "已等待 " + fmtWait(s));
      el.dataset.level = s >= 300 ? "long" : s >= 120 ? "warn" : "";
    });
    document.querySelectorAll(".fu-wait[data-created]").forEach((el) => {
      const created = Date.parse(el.dataset.created);
      if (Number.isNaN(created)) return;
      const s = (Date.now() - created) / 1000;
      setText(el, "已等待 " + fmtAge(s));
      el.dataset.level = s >= 86400 ? "long" : s >= 4 * 3600 ? "warn" : "";
    });
    const wait = $("conv-wait");
    if (wait && state.conv && state.conv.handler === "waiting" && !state.gone) {
      setText(wait, "已等待 " + fmtWait((state.conv.waiting_seconds || 0) + elapsedSince(state.convAt)));
    }
    const now = Date.now();
    let changed = false;
    for (const [id, until] of state.newUntil) {
      if (until < now) {
        state.newUntil.delete(id);
        changed = true;
      }
    }
    if (changed) {
      document.querySelectorAll(".qi.is-new").forEach((b) => {
        if (!state.newUntil.has(b.dataset.conversationId)) b.classList.remove("is-new");
      });
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.running) updateTitle(0);
  });

  // ------------------------------------------------------------------ conversation

  function hashConversation() {
    const m = /(?:^#|&)c=([^&]+)/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function resetConversationState() {
    if (state.convTimer) clearTimeout(state.convTimer);
    state.convTimer = null;
    state.convGen++;
    state.conv = null;
    state.lastId = 0;
    state.messages.clear();
    state.notes.clear();
    state.events = [];
    state.profileKey = "";
    state.gone = false;
    state.convFailures = 0;
    $("messages").textContent = "";
    showError("");
  }

  function closeConversation() {
    resetConversationState();
    state.convId = null;
    $("conv-empty").hidden = false;
    $("conv-body").hidden = true;
    $("profile-empty").hidden = false;
    $("profile-body").hidden = true;
    closeCanned();
  }

  async function openConversation(id) {
    if (!id) return;
    if (id === state.convId && !state.gone) {
      $("reply-input").disabled || $("reply-input").focus();
      return;
    }
    resetConversationState();
    state.convId = id;
    state.unread.delete(id);
    if (hashConversation() !== id) history.replaceState(null, "", "#c=" + encodeURIComponent(id));
    document.querySelectorAll(".qi").forEach((b) => b.classList.toggle("active", b.dataset.conversationId === id));
    document.querySelectorAll(".qi-dot").forEach((d) => {
      if (d.closest(".qi").dataset.conversationId === id) d.hidden = true;
    });
    updateTitle(0);
    $("conv-empty").hidden = true;
    $("conv-body").hidden = false;
    setText($("conv-name"), "加载中…");
    $("conv-meta").textContent = "";
    setText($("conv-state"), "");
    $("reply-input").value = "";
    $("note-input").value = "";
    updateControls();
    await pollConversation(true);
  }

  function scheduleConv(delay) {
    if (state.convTimer) clearTimeout(state.convTimer);
    state.convTimer = state.running && state.convId && !state.gone ? setTimeout(() => pollConversation(false), delay) : null;
  }

  async function pollConversation(first) {
    state.convTimer = null;
    if (!state.running || !state.convId || state.gone) return;
    const gen = state.convGen;
    const id = state.convId;
    const seq = ++state.convSeq;
    try {
      const data = await api("GET", convUrl(id, "?after_id=" + sinceId()));
      if (gen !== state.convGen) return; // another conversation was opened meanwhile
      state.convFailures = 0;
      if (seq < state.convApplied) return; // a newer answer is already shown
      state.convApplied = seq;
      applyConversation(data, first);
    } catch (err) {
      if (gen !== state.convGen || err.status === 401) return;
      if (err.status === 404) {
        conversationGone(err.detail);
        return;
      }
      state.convFailures = Math.min(state.convFailures + 1, 4);
      if (first) showError("会话加载失败：" + err.detail);
    }
    scheduleConv(Math.min(CONV_POLL_MS * Math.pow(2, state.convFailures), MAX_BACKOFF_MS));
  }

  function refreshConversationSoon() {
    if (state.convId && !state.gone) scheduleConv(0);
  }

  function conversationGone(detail) {
    state.gone = true;
    if (state.convTimer) clearTimeout(state.convTimer);
    state.convTimer = null;
    showError((detail || "会话不存在，或不在您的接待范围内") + "（可能已被其他客服接入）。");
    if (!state.conv) {
      setText($("conv-name"), "无法查看此会话");
      $("profile-empty").hidden = false;
      $("profile-body").hidden = true;
    }
    setText($("conv-state"), "不在您的接待范围内");
    $("conv-state").dataset.state = "gone";
    updateControls();
    refreshQueueSoon();
  }

  function applyConversation(data, first) {
    state.conv = data.conversation;
    state.convAt = performance.now();
    let changed = first;
    for (const m of data.messages || []) {
      const old = state.messages.get(m.id);
      if (!old || old.text !== m.text || old.staff_name !== m.staff_name || old.delivery !== m.delivery) {
        state.messages.set(m.id, m);
        changed = true;
      }
      if (m.id > state.lastId) state.lastId = m.id;
    }
    state.events = data.events || [];
    for (const e of state.events) {
      const old = state.notes.get(e.id);
      if (e.kind === "note" && (!old || old.text !== e.text)) {
        state.notes.set(e.id, e);
        changed = true;
      }
    }
    if (changed) renderTimeline(first);
    renderHeader();
    renderProfile(data.customer);
    updateControls();
  }

  // The last hand-over event tells who has the conversation and whether it is closed.
  function lifecycle() {
    let last = null;
    for (const e of state.events) if (LIFECYCLE.includes(e.kind)) last = e;
    return last;
  }

  function convStatus() {
    const c = state.conv;
    if (!c) return { key: "loading", text: "" };
    if (state.gone) return { key: "gone", text: "不在您的接待范围内" };
    const me = state.me ? state.me.id : null;
    const last = lifecycle();
    if (c.handler === "waiting") return { key: "waiting", text: "等待接入" };
    if (c.handler === "staff") {
      if (c.assigned_staff_id === me) return { key: "mine", text: "由我接待" };
      const who = last && last.kind === "claimed" && last.staff_name ? last.staff_name : "其他客服";
      return { key: "other", text: "由「" + who + "」接待" };
    }
    if (last && last.kind === "resolved") return { key: "closed", text: "已结束" };
    return { key: "bot", text: "智能客服接待中" };
  }

  function renderHeader() {
    const c = state.conv;
    if (!c) return;
    setText($("conv-name"), customerName(c));
    const meta = $("conv-meta");
    meta.textContent = "";
    const bits = [h("span", { class: "stage-pill stage-" + (c.stage || "none") }, stageLabel(c.stage)),
      h("span", null, channelLabel(c.channel))];
    if (c.reason) bits.push(h("span", { class: "qi-reason" }, reasonLabel(c.reason)));
    if (c.handler === "waiting") {
      bits.push(h("span", { id: "conv-wait", class: "qi-wait" }));
      // The detail's own position is computed among this one conversation only; the
      // queue's is the real place in line.
      const inQueue = state.queue.waiting.find((i) => i.conversation_id === c.conversation_id);
      if (inQueue && inQueue.position) bits.push(h("span", null, "第 " + inQueue.position + " 位"));
    } else if (c.handler === "staff" && c.claimed_at) {
      bits.push(h("span", null, "接入于 " + fmtDateTime(c.claimed_at)));
    }
    bits.push(h("span", { class: "mono", title: c.conversation_id }, "会话 " + c.conversation_id.slice(0, 8)));
    append(meta, bits);
    const st = convStatus();
    setText($("conv-state"), st.text);
    $("conv-state").dataset.state = st.key;
    tick();
  }

  function updateControls() {
    const c = state.conv;
    const st = convStatus();
    const admin = !!(state.me && state.me.role === "admin");
    const visible = !!c && !state.gone;
    const mine = visible && st.key === "mine";
    $("claim").hidden = !(c && c.handler === "waiting");
    $("claim").disabled = !visible || state.acting || c.handler !== "waiting";
    $("take-over").hidden = !(admin && visible && c.handler === "bot" && st.key !== "closed");
    $("take-over").disabled = state.acting;
    const canRelease = visible && c.handler === "staff" && (mine || admin);
    $("hand-back").disabled = !canRelease || state.acting;
    $("resolve").disabled = !canRelease || state.acting;
    $("reply-input").disabled = !mine;
    $("reply-send").disabled = !mine || state.acting;
    $("reply-input").placeholder = mine ? "输入回复，Enter 发送，Shift+Enter 换行"
      : st.key === "waiting" ? "点击“接入”后即可回复顾客…"
        : st.key === "other" ? "该会话由其他客服接待，您不能回复"
          : st.key === "closed" ? "会话已结束" : "会话当前不由您接待";
    $("note-input").disabled = !visible;
    $("note-add").disabled = !visible || state.acting;
  }

  // ---------------------------------------------------------------- timeline

  function isNearBottom() {
    const s = $("timeline");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function renderTimeline(force) {
    const scroller = $("timeline");
    const stick = force || isNearBottom();
    const top = scroller.scrollTop;
    const items = [];
    for (const m of state.messages.values()) items.push({ t: Date.parse(m.created_at) || 0, order: 0, id: m.id, m: m });
    for (const n of state.notes.values()) items.push({ t: Date.parse(n.at) || 0, order: 1, id: n.id, n: n });
    items.sort((a, b) => a.t - b.t || a.order - b.order || a.id - b.id);
    const list = $("messages");
    list.textContent = "";
    if (!items.length) list.appendChild(h("li", { class: "timeline-empty muted" }, "暂无消息"));
    for (const it of items) list.appendChild(it.m ? buildMessage(it.m) : buildNote(it.n));
    scroller.scrollTop = stick ? scroller.scrollHeight : top;
  }

  // Fetch again from the oldest message still being sent, so its outcome shows.
  function sinceId() {
    let since = state.lastId;
    for (const m of state.messages.values()) {
      if ((m.delivery === "held" || m.delivery === "pending") && m.id - 1 < since) since = m.id - 1;
    }
    return since;
  }

  function deliveryMark(m) {
    const mark = DELIVERY[m.delivery];
    if (!mark) return null;
    return h("span", { class: "delivery delivery-" + mark[1], "data-testid": "ws-delivery",
      title: m.delivery_error || "" }, mark[0] + (m.delivery_error ? "：" + m.delivery_error : ""));
  }

  function buildMessage(m) {
    const author = AUTHOR_LABELS[m.author] ? m.author : "system";
    let who = AUTHOR_LABELS[author];
    if (author === "customer" && state.conv) who = customerName(state.conv);
    if (author === "staff" && m.staff_name) who = "人工客服 · " + m.staff_name;
    if (author === "system") {
      return h("li", { class: "msg msg-system", "data-testid": "ws-message", "data-author": author, "data-id": m.id },
        h("span", { class: "msg-text" }, m.text), h("time", { class: "msg-time", datetime: m.created_at }, fmtHM(m.created_at)),
        deliveryMark(m));
    }
    return h("li", { class: "msg msg-" + author, "data-testid": "ws-message", "data-author": author, "data-id": m.id },
      h("div", { class: "msg-meta" }, h("span", { class: "msg-who" }, who),
        h("time", { class: "msg-time", datetime: m.created_at, title: fmtDate(m.created_at) + " " + fmtHM(m.created_at) },
          fmtHM(m.created_at))),
      h("div", { class: "bubble" }, h("span", { class: "msg-text" }, m.text)), deliveryMark(m));
  }

  function buildNote(n) {
    return h("li", { class: "note", "data-testid": "ws-note", "data-id": n.id },
      h("div", { class: "note-meta" },
        h("span", { class: "note-tag" }, "内部备注"),
        h("span", null, (n.staff_name || "客服") + " · " + fmtHM(n.at)),
        h("span", { class: "note-private" }, "仅客服可见")),
      h("div", { class: "note-text" }, n.text || ""));
  }

  // ---------------------------------------------------------------- profile

  function renderProfile(p) {
    if (!p) return;
    const key = JSON.stringify(p);
    if (key === state.profileKey) return;
    state.profileKey = key;
    $("profile-empty").hidden = true;
    $("profile-body").hidden = false;
    const name = p.display_name || "访客#" + p.id;
    setText($("profile-avatar"), name.slice(0, 1));
    setText($("profile-name"), name);
    setText($("profile-id"), p.id);
    const stage = $("profile-stage");
    setText(stage, p.stage_label || stageLabel(p.stage));
    stage.className = "stage-pill stage-" + (p.stage || "none");
    stage.dataset.stage = p.stage;
    setText($("profile-persona"), p.persona ? LABELS.personas[p.persona] || p.persona : "—");
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
      ids.appendChild(h("li", { class: "kv" }, h("span", { class: "muted" }, LABELS.identityKinds[kind] || kind || "身份"),
        h("span", { class: "mono" }, value)));
    }

    const orders = $("profile-orders");
    orders.textContent = "";
    setText($("profile-orders-total"), p.orders_total ? "（共 " + p.orders_total + " 笔）" : "");
    if (!p.orders.length) orders.appendChild(h("li", { class: "muted small" }, "暂无订单"));
    for (const o of p.orders) {
      orders.appendChild(h("li", { class: "order" },
        h("div", { class: "kv" }, h("span", { class: "mono" }, o.order_no), h("span", { class: "strong" }, money(o.amount))),
        h("div", { class: "kv small" }, h("span", { class: "order-status order-" + o.status }, ORDER_STATUS[o.status] || o.status),
          h("span", { class: "muted" }, fmtDate(o.placed_at)))));
    }

    const past = $("profile-past");
    past.textContent = "";
    if (!p.past_conversations.length) past.appendChild(h("li", { class: "muted small" }, "这是顾客的第一次会话"));
    for (const c of p.past_conversations) {
      past.appendChild(h("li", { class: "kv small" },
        h("span", null, fmtDate(c.started_at) + " · " + channelLabel(c.channel)),
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

  function followUpReason(reason) {
    return FOLLOW_UP_REASONS[reason] || reason || "";
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
      h("span", { class: "stage-pill stage-" + (sv.stage || "none"), title: "调查时的客户阶段" }, stageLabel(sv.stage)));

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

  // ---------------------------------------------------------------- actions

  async function act(button, fn) {
    if (state.acting) return;
    state.acting = true;
    updateControls();
    if (button) button.setAttribute("aria-busy", "true");
    try {
      await fn();
    } finally {
      state.acting = false;
      if (button) button.removeAttribute("aria-busy");
      updateControls();
    }
  }

  function actionFailed(prefix, err) {
    if (err.status === 401) return;
    if (err.status === 404) {
      conversationGone(prefix + err.detail);
      return;
    }
    showError(prefix + err.detail);
    refreshConversationSoon();
    refreshQueueSoon();
  }

  $("claim").addEventListener("click", () => act($("claim"), async () => {
    const id = state.convId;
    showError("");
    try {
      const msg = await api("POST", convUrl(id, "/claim"));
      if (id !== state.convId) return;
      state.messages.set(msg.id, msg);
      toast("已接入，顾客已收到提示");
      await pollConversation(false);
      refreshQueueSoon();
      $("reply-input").focus();
    } catch (err) {
      actionFailed("接入失败：", err);
    }
  }));

  $("take-over").addEventListener("click", async () => {
    const ok = await confirmDialog("介入这个正在由智能客服接待的会话？\n\n顾客会收到人工客服已接入的提示，之后由您回复。", "介入");
    if (!ok) return;
    await act($("take-over"), async () => {
      showError("");
      try {
        await api("POST", convUrl(state.convId, "/take-over"));
        await pollConversation(false);
        refreshQueueSoon();
      } catch (err) {
        actionFailed("介入失败：", err);
      }
    });
  });

  async function sendReply() {
    const input = $("reply-input");
    const text = input.value.trim();
    if (input.disabled || state.acting) return;
    if (!text) {
      showError("回复内容不能为空。");
      input.focus();
      return;
    }
    await act($("reply-send"), async () => {
      const id = state.convId;
      showError("");
      try {
        const msg = await api("POST", convUrl(id, "/messages"), { text: text });
        if (id !== state.convId) return;
        if (input.value.trim() === text) input.value = "";
        state.messages.set(msg.id, msg);
        renderTimeline(true);
        refreshConversationSoon();
      } catch (err) {
        actionFailed("发送失败：", err);
      }
    });
    input.focus();
  }

  $("reply-send").addEventListener("click", sendReply);
  $("reply-input").addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey) return;
    if (e.isComposing || e.keyCode === 229) return; // the IME is choosing characters
    e.preventDefault();
    sendReply();
  });
  $("reply-input").addEventListener("input", () => {
    if ($("ws-error").textContent === "回复内容不能为空。") showError("");
  });

  $("note-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("note-input");
    const text = input.value.trim();
    if (!text) {
      showError("备注内容不能为空。");
      input.focus();
      return;
    }
    await act($("note-add"), async () => {
      const id = state.convId;
      showError("");
      try {
        const note = await api("POST", convUrl(id, "/notes"), { text: text });
        if (id !== state.convId) return;
        input.value = "";
        state.notes.set(note.id, note);
        renderTimeline(true);
        toast("备注已添加（顾客看不到）");
      } catch (err) {
        actionFailed("添加备注失败：", err);
      }
    });
  });

  async function release(kind) {
    const handBack = kind === "hand-back";
    const ok = await confirmDialog(handBack
      ? "把会话转回智能客服？\n\n顾客会收到“人工客服已离开，接下来由智能客服继续为您服务”的提示。"
      : "结束本次会话？\n\n会话将关闭，顾客会收到服务结束的提示；顾客再发消息会开始新的会话。",
    handBack ? "转回机器人" : "结束会话");
    if (!ok) return;
    await act($(kind), async () => {
      const id = state.convId;
      showError("");
      try {
        await api("POST", convUrl(id, "/" + kind));
        toast(handBack ? "已转回智能客服" : "会话已结束");
        await pollConversation(false);
        refreshQueueSoon();
      } catch (err) {
        actionFailed((handBack ? "转回失败：" : "结束失败："), err);
      }
    });
  }

  $("hand-back").addEventListener("click", () => release("hand-back"));
  $("resolve").addEventListener("click", () => release("resolve"));

  // ---------------------------------------------------------------- canned replies

  async function loadCanned() {
    try {
      state.canned = await api("GET", "/api/staff/canned-replies");
    } catch (err) {
      if (err.status === 401) return;
      state.canned = [];
    }
    renderCanned();
  }

  function renderCanned() {
    const list = $("canned-list");
    list.textContent = "";
    const admin = !!(state.me && state.me.role === "admin");
    if (!state.canned.length) {
      list.appendChild(h("li", { class: "muted small canned-empty" },
        admin ? "还没有快捷回复，可在下方新增。" : "还没有快捷回复，请联系管理员添加。"));
    }
    for (const c of state.canned) {
      const li = h("li", { class: "canned-item" },
        h("button", { type: "button", class: "canned-use", "data-testid": "canned-item", "data-id": c.id, title: c.text,
          onclick: () => insertCanned(c.text) },
        h("span", { class: "strong" }, c.title), h("span", { class: "canned-preview" }, c.text)));
      if (admin) {
        li.appendChild(h("button", { type: "button", class: "canned-del", "aria-label": "删除快捷回复 " + c.title,
          title: "删除", onclick: () => deleteCanned(c) }, "×"));
      }
      list.appendChild(li);
    }
  }

  function insertCanned(text) {
    const input = $("reply-input");
    closeCanned();
    if (input.disabled) {
      toast("接入会话后才能回复顾客", "error");
      return;
    }
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    const caret = start + text.length;
    input.focus();
    input.setSelectionRange(caret, caret);
  }

  async function deleteCanned(c) {
    const ok = await confirmDialog("删除快捷回复“" + c.title + "”？\n\n" + c.text, "删除");
    if (!ok) return;
    try {
      await api("DELETE", "/api/staff/canned-replies/" + c.id);
      await loadCanned();
    } catch (err) {
      if (err.status !== 401) toast(err.detail, "error");
    }
  }

  $("canned-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = $("canned-title").value.trim();
    const text = $("canned-text").value.trim();
    if (!title || !text) {
      toast(!title ? "请填写快捷回复的标题" : "请填写快捷回复的内容", "error");
      return;
    }
    try {
      await api("POST", "/api/staff/canned-replies", { title: title, text: text });
      $("canned-title").value = "";
      $("canned-text").value = "";
      await loadCanned();
    } catch (err) {
      if (err.status !== 401) toast(err.detail, "error");
    }
  });

  function closeCanned() {
    $("canned-panel").hidden = true;
    $("canned-toggle").setAttribute("aria-expanded", "false");
  }

  $("canned-toggle").addEventListener("click", () => {
    const panel = $("canned-panel");
    if (!panel.hidden) {
      closeCanned();
      return;
    }
    panel.hidden = false;
    $("canned-toggle").setAttribute("aria-expanded", "true");
    loadCanned();
  });

  document.addEventListener("click", (e) => {
    if (!$("canned-panel").hidden && !e.target.closest(".canned-wrap")) closeCanned();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("canned-panel").hidden) {
      closeCanned();
      $("canned-toggle").focus();
    }
  });

  window.addEventListener("hashchange", () => {
    const id = hashConversation();
    if (id && id !== state.convId && state.running) openConversation(id);
  });

  // ---------------------------------------------------------------- tabs: queue / follow-ups

  function setTab(tab, focus) {
    state.tab = tab;
    const fu = tab === "follow-ups";
    for (const [id, on] of [["tab-queue", !fu], ["tab-follow-ups", fu]]) {
      $(id).setAttribute("aria-selected", on ? "true" : "false");
      $(id).tabIndex = on ? 0 : -1;
      $(id).classList.toggle("active", on);
    }
    $("queue-panel").hidden = fu;
    $("follow-ups").hidden = !fu;
    document.body.dataset.tab = tab;
    if (focus) $(fu ? "tab-follow-ups" : "tab-queue").focus();
    if (fu) loadFollowUps();
  }

  $("tab-queue").addEventListener("click", () => setTab("queue"));
  $("tab-follow-ups").addEventListener("click", () => setTab("follow-ups"));
  document.querySelector(".side-tabs").addEventListener("keydown", (e) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    const next = e.key === "Home" ? "queue" : e.key === "End" ? "follow-ups"
      : state.tab === "queue" ? "follow-ups" : "queue";
    setTab(next, true);
  });

  // ---------------------------------------------------------------- follow-up tasks

  function scheduleFollowUps(delay) {
    if (state.fu.timer) clearTimeout(state.fu.timer);
    state.fu.timer = state.running ? setTimeout(loadFollowUps, delay) : null;
  }

  // After a live notice: soon, but no more often than every few seconds.
  function followUpsSoon() {
    if (!state.running || state.fu.soon) return;
    state.fu.soon = true;
    scheduleFollowUps(Math.max(0, state.fu.lastAt + FOLLOW_UP_MIN_GAP_MS - performance.now()));
  }

  async function loadFollowUps() {
    if (state.fu.timer) clearTimeout(state.fu.timer);
    state.fu.timer = null;
    state.fu.soon = false;
    if (!state.running) return;
    state.fu.lastAt = performance.now();
    const seq = ++state.fu.seq;
    const wantDone = state.tab === "follow-ups" && state.fu.view === "done";
    try {
      const [open, done] = await Promise.all([
        api("GET", "/api/staff/follow-ups?status=open&limit=" + FOLLOW_UP_LIMIT),
        wantDone ? api("GET", "/api/staff/follow-ups?status=done&limit=50") : Promise.resolve(null),
      ]);
      if (seq < state.fu.applied || !state.running) return;
      state.fu.applied = seq;
      state.fu.open = Array.isArray(open) ? open : [];
      if (done) state.fu.done = done;
      state.fu.failed = false;
      renderFollowUps();
    } catch (err) {
      if (err.status === 401 || seq < state.fu.applied) return;
      state.fu.failed = true;
      setText($("fu-error"), "回访任务加载失败：" + err.detail);
    } finally {
      if (seq === state.fu.seq && state.running && !state.fu.timer) scheduleFollowUps(FOLLOW_UP_POLL_MS);
    }
  }

  function renderFollowUps() {
    const open = state.fu.open || [];
    const n = open.length;
    const badge = $("count-follow-ups");
    setText(badge, n >= FOLLOW_UP_LIMIT ? FOLLOW_UP_LIMIT + "+" : String(n));
    badge.dataset.zero = n ? "0" : "1";
    badge.setAttribute("aria-label", "待回访 " + n + " 个");
    setText($("fu-error"), "");
    const showDone = state.fu.view === "done";
    $("fu-show-open").setAttribute("aria-pressed", showDone ? "false" : "true");
    $("fu-show-done").setAttribute("aria-pressed", showDone ? "true" : "false");
    const items = showDone ? state.fu.done : open;
    const list = $("fu-list");
    list.dataset.view = state.fu.view;

    // Kept per task and replaced only when it changed: a refresh never swaps the
    // button under the mouse or the keyboard focus.
    const existing = new Map();
    list.querySelectorAll(":scope > li[data-key]").forEach((li) => existing.set(li.dataset.key, li));
    const empty = list.querySelector(":scope > li.queue-empty");
    if (empty) empty.remove();
    if (!items.length) {
      existing.forEach((li) => li.remove());
      list.appendChild(h("li", { class: "queue-empty" }, showDone ? "暂无已完成的回访任务" : "暂无待回访的顾客 🎉"));
      tick();
      return;
    }
    let prev = null;
    for (const task of items) {
      const key = state.fu.view + ":" + task.id;
      const sig = JSON.stringify(task);
      let li = existing.get(key);
      if (li) existing.delete(key);
      if (!li || li.dataset.sig !== sig) {
        const fresh = buildFollowUp(task);
        fresh.dataset.key = key;
        fresh.dataset.sig = sig;
        if (li) {
          const hadFocus = li.contains(document.activeElement);
          li.replaceWith(fresh);
          if (hadFocus) (fresh.querySelector("[data-testid='follow-up-done']") || fresh.querySelector("button") || $("fu-list")).focus();
        }
        li = fresh;
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    }
    existing.forEach((li) => {
      if (li.contains(document.activeElement)) $("tab-follow-ups").focus();
      li.remove();
    });
    tick();
  }

  function buildFollowUp(t) {
    const name = t.customer_name || "访客#" + t.customer_id;
    const done = t.status === "done";
    const actions = h("div", { class: "fu-actions" });
    if (t.conversation_id) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "follow-up-open",
        "aria-label": "查看" + name + "的会话", onclick: () => openConversation(t.conversation_id) }, "查看会话"));
    }
    if (!done) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "follow-up-done",
        "aria-label": "标记完成：" + name + "（" + followUpReason(t.reason) + "）",
        onclick: (e) => openFollowUpDialog(t, e.currentTarget) }, "标记完成"));
    }
    return h("li", null,
      h("article", { class: "fu-item", "data-testid": "follow-up-item", "data-follow-up-id": t.id,
        "data-conversation-id": t.conversation_id, "data-reason": t.reason, "data-status": t.status },
      h("div", { class: "qi-top" }, h("span", { class: "qi-name ellipsis", "data-testid": "follow-up-customer" }, name),
        h("span", { class: "stage-pill stage-" + (t.stage || "none") }, stageLabel(t.stage))),
      h("div", { class: "qi-tags" },
        h("span", { class: "fu-reason", "data-reason": t.reason, "data-testid": "follow-up-reason" }, followUpReason(t.reason)),
        done ? h("span", null, "完成于 " + fmtDateTime(t.done_at))
          : h("span", { class: "fu-wait", "data-created": t.created_at, title: "创建于 " + fmtDateTime(t.created_at) })),
      t.detail ? h("p", { class: "fu-detail", "data-testid": "follow-up-detail" }, t.detail) : null,
      done && t.outcome ? h("p", { class: "fu-outcome" }, h("span", { class: "strong" }, "回访结果："), t.outcome) : null,
      actions));
  }

  $("fu-show-open").addEventListener("click", () => {
    state.fu.view = "open";
    renderFollowUps();
  });
  $("fu-show-done").addEventListener("click", () => {
    state.fu.view = "done";
    renderFollowUps();
    loadFollowUps();
  });
  $("fu-refresh").addEventListener("click", () => loadFollowUps());

  function openFollowUpDialog(task, opener) {
    const dialog = $("follow-up-dialog");
    if (dialog.open) return;
    state.fu.task = task;
    state.fu.opener = opener || null;
    const name = task.customer_name || "访客#" + task.customer_id;
    setText($("fu-dialog-who"), name + " · " + stageLabel(task.stage) + " · " + followUpReason(task.reason)
      + " · 创建于 " + fmtDateTime(task.created_at));
    setText($("fu-dialog-detail"), task.detail || "");
    $("fu-dialog-detail").hidden = !task.detail;
    $("fu-outcome").value = "";
    $("fu-outcome").removeAttribute("aria-invalid");
    setText($("fu-dialog-error"), "");
    $("fu-submit").disabled = false;
    dialog.showModal();
    $("fu-outcome").focus();
  }

  function closeFollowUpDialog() {
    const dialog = $("follow-up-dialog");
    if (dialog.open) dialog.close();
  }

  $("follow-up-dialog").addEventListener("close", () => {
    const opener = state.fu.opener;
    state.fu.task = null;
    state.fu.opener = null;
    if (opener && opener.isConnected && document.body.dataset.view === "app") opener.focus();
  });
  $("fu-cancel").addEventListener("click", closeFollowUpDialog);
  $("fu-outcome").addEventListener("input", () => {
    if ($("fu-outcome").value.trim()) {
      $("fu-outcome").removeAttribute("aria-invalid");
      setText($("fu-dialog-error"), "");
    }
  });
  $("fu-outcome").addEventListener("keydown", (e) => {
    // Ctrl/⌘+Enter submits; Enter alone is a new line in the outcome.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      $("fu-form").requestSubmit();
    }
  });

  $("fu-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const task = state.fu.task;
    if (!task || state.fu.saving) return;
    const outcome = $("fu-outcome").value.trim();
    if (!outcome) {
      setText($("fu-dialog-error"), "请填写回访结果。");
      $("fu-outcome").setAttribute("aria-invalid", "true");
      $("fu-outcome").focus();
      return;
    }
    state.fu.saving = true;
    $("fu-submit").disabled = true;
    $("fu-submit").setAttribute("aria-busy", "true");
    try {
      await api("POST", "/api/staff/follow-ups/" + encodeURIComponent(task.id) + "/done", { outcome: outcome });
      if (state.fu.open) state.fu.open = state.fu.open.filter((t) => t.id !== task.id);
      closeFollowUpDialog();
      toast("回访任务已完成：" + (task.customer_name || "访客#" + task.customer_id));
      renderFollowUps();
      loadFollowUps();
      refreshConversationSoon(); // the profile's open follow-ups
    } catch (err) {
      if (err.status === 401) return;
      if (err.status === 409 || err.status === 404) {
        closeFollowUpDialog();
        toast(err.detail, "error");
        loadFollowUps();
        refreshConversationSoon();
      } else {
        setText($("fu-dialog-error"), "提交失败：" + err.detail);
      }
    } finally {
      state.fu.saving = false;
      $("fu-submit").disabled = false;
      $("fu-submit").removeAttribute("aria-busy");
    }
  });

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
