/* 回响客服 (Huixiang) — customer web chat.
 * Plain ES2020, no dependencies, no external resources.
 * All server/user text is rendered with textContent only.
 * One classic script of about 900 lines: the customer's page is one screen (the
 * conversation) whose parts share its state, and a plain script also runs in the
 * older in-app browsers customers open shop links in.
 */
(function () {
  "use strict";

  const MAX_CHARS = 2000;
  const NEAR_LIMIT = 1800;
  const POLL_MS = 3000;
  const POLL_MAX_MS = 30000;
  const SEND_TIMEOUT_MS = 60000;
  const SESSION_TIMEOUT_MS = 20000;
  const POLL_TIMEOUT_MS = 15000;
  const SEND_RETRY_DELAYS = [1000, 2000, 4000]; // network error / 5xx: retry same client_message_id

  const AUTHORS = ["customer", "bot", "staff", "system"];
  const SR_PREFIX = {
    customer: "我：",
    bot: "智能助手：",
    staff: "", // the visible "人工客服" label is read instead
    system: "系统消息：",
  };
  // The satisfaction survey (asked after goodbye or when staff end the conversation):
  // the bot message that asks a question carries survey: {key, low, high}; the page
  // offers its answers as buttons that send exactly what the customer could type.
  const SURVEY_SKIP = "跳过";
  const SURVEY_STOP = "不用了";
  const SURVEY_NO_COMMENT = "没有";
  const SURVEY_SCALE_HINT = {
    nps: ["不会推荐", "一定会推荐"],
    score: ["很不满意", "非常满意"],
  };
  const INPUT_PLACEHOLDER = "请输入您的问题…";
  const COMMENT_PLACEHOLDER = "请输入您的意见或建议…";
  const STATUS_TEXT = {
    bot: "智能助手在线",
    staff: "人工客服已接入",
    waiting: "正在为您转接人工客服…",
  };

  const $ = (id) => document.getElementById(id);
  const els = {
    body: document.body,
    status: $("status"),
    scroller: $("scroller"),
    welcome: $("welcome"),
    messages: $("messages"),
    typing: $("typing"),
    newMsg: $("new-msg"),
    survey: $("survey-replies"),
    sessionError: $("session-error"),
    sessionErrorText: $("session-error-text"),
    retry: $("retry"),
    form: $("composer-form"),
    input: $("input"),
    send: $("send"),
    error: $("error"),
    counter: $("counter"),
    chips: Array.from(document.querySelectorAll(".chip")),
  };

  const state = {
    conversationId: null,
    handler: null,
    ready: false, // a session is established and history rendered
    connecting: false,
    sending: false,
    lastId: 0, // highest message id rendered (for ?after_id=)
    seen: new Set(), // message ids already rendered
    pending: null, // optimistic bubble element for the message being sent
    pollTimer: null,
    polling: false,
    pollAgain: false,
    live: null, // EventSource of the current conversation
    liveFor: null,
    pollFailures: 0,
    convGen: 0, // bumped whenever the conversation changes; stale poll results are dropped
    failed: null, // {text, cid, conv}: last send that failed with a network error / 5xx
    surveyFor: "", // id of the message whose survey answers are shown ("" = none)
    surveyFocus: false, // an answer button had the focus: focus the next question's buttons
    errorKind: "", // "" | "empty" | "limit" | "send" | "connect"
  };

  // Brand-signed login passthrough: ?uid=...&uh=...
  const params = new URLSearchParams(window.location.search);
  const signedUserId = params.get("uid");
  const signedUserHash = params.get("uh");

  // ---------------------------------------------------------------- utils

  function newClientMessageId() {
    try {
      if (window.crypto && typeof window.crypto.randomUUID === "function") {
        return window.crypto.randomUUID();
      }
    } catch (_) {
      /* randomUUID throws / is missing outside secure contexts: fall through */
    }
    const bytes = new Uint8Array(16);
    if (window.crypto && typeof window.crypto.getRandomValues === "function") {
      window.crypto.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function charCount(text) {
    // Count Unicode code points (what the server's len() sees), not UTF-16 units.
    let n = 0;
    for (const _ of text) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  function parseDate(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function formatHM(d) {
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }

  function formatFull(d) {
    return (
      d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " +
      formatHM(d) + ":" + pad2(d.getSeconds())
    );
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function numericId(m) {
    const n = Number(m && m.id);
    return Number.isFinite(n) ? n : NaN;
  }

  // ---------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || (status ? "HTTP " + status : "network error"));
      this.status = status; // 0 = network failure / timeout / unreadable response
      this.detail = detail || "";
    }
    get retryable() {
      return this.status === 0 || this.status >= 500;
    }
  }

  function extractDetail(data) {
    if (data && typeof data.detail === "string" && data.detail.trim()) return data.detail.trim();
    return ""; // FastAPI validation errors (list) are English/technical: use our own wording
  }

  async function api(method, url, body, timeoutMs) {
    const ctrl = typeof AbortController === "function" ? new AbortController() : null;
    const timer = ctrl ? setTimeout(() => ctrl.abort(), timeoutMs) : null;
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      let res;
      try {
        res = await fetch(url, {
          method: method,
          credentials: "same-origin",
          cache: "no-store",
          headers: headers,
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: ctrl ? ctrl.signal : undefined,
        });
      } catch (_) {
        throw new ApiError(0, "");
      }
      let data = null;
      try {
        data = await res.json();
      } catch (_) {
        data = null;
      }
      if (!res.ok) throw new ApiError(res.status, extractDetail(data));
      if (!data || typeof data !== "object") throw new ApiError(0, ""); // e.g. an HTML error page from a proxy
      return data;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  function openSession() {
    const body =
      signedUserId && signedUserHash ? { user_id: signedUserId, user_hash: signedUserHash } : {};
    return api("POST", "/api/web/session", body, SESSION_TIMEOUT_MS);
  }

  function messagesUrl(conversationId) {
    return "/api/web/conversations/" + encodeURIComponent(conversationId) + "/messages";
  }

  // ---------------------------------------------------------------- UI: status / errors

  function applyConversation(conv) {
    if (!conv || typeof conv !== "object") return;
    if (conv.handler) setHandler(conv.handler);
  }

  function setHandler(handler) {
    state.handler = handler;
    els.status.dataset.handler = handler;
    els.status.textContent = STATUS_TEXT[handler] || STATUS_TEXT.bot;
  }

  function showError(text, kind) {
    els.error.textContent = text;
    state.errorKind = kind || "send";
  }

  function clearError() {
    els.error.textContent = "";
    state.errorKind = "";
  }

  function updateControls() {
    const canSend = state.ready && !state.sending && !state.connecting;
    els.send.disabled = !canSend;
    els.send.setAttribute("aria-busy", state.sending ? "true" : "false");
    els.chips.forEach((c) => {
      c.disabled = !canSend;
    });
    els.survey.querySelectorAll("button").forEach((b) => {
      b.disabled = !canSend;
    });
    els.input.disabled = !state.ready;
  }

  function setTyping(on) {
    els.typing.hidden = !on;
    if (on) scrollToBottom();
  }

  // ---------------------------------------------------------------- UI: messages

  function isNearBottom() {
    const s = els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    els.scroller.scrollTop = els.scroller.scrollHeight;
    els.newMsg.hidden = true;
  }

  function hasMessages() {
    return els.messages.querySelector(".msg") !== null;
  }

  function updateWelcome() {
    els.welcome.hidden = !(state.ready && !hasMessages() && !state.pending);
  }

  function buildTime(date) {
    const t = document.createElement("time");
    t.className = "msg-time";
    if (date) {
      t.dateTime = date.toISOString();
      t.title = formatFull(date);
      t.textContent = formatHM(date);
    }
    return t;
  }

  function buildMessage(m) {
    const author = AUTHORS.includes(m.author) ? m.author : "system";
    const el = document.createElement("div");
    el.className = "msg msg-" + author;
    el.dataset.id = m.id === undefined || m.id === null ? "" : String(m.id);
    el.dataset.author = author;

    if (author === "staff") {
      const label = document.createElement("div");
      label.className = "msg-label";
      label.textContent = "人工客服";
      el.appendChild(label);
    }

    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (SR_PREFIX[author]) {
      const sr = document.createElement("span");
      sr.className = "sr-only";
      sr.textContent = SR_PREFIX[author];
      bubble.appendChild(sr);
    }
    const text = document.createElement("span");
    text.className = "msg-text";
    text.textContent = typeof m.text === "string" ? m.text : String(m.text ?? "");
    bubble.appendChild(text);
    el.appendChild(bubble);

    const date = parseDate(m.created_at);
    if (date) el.appendChild(buildTime(date));

    const survey = author === "bot" && m.survey && typeof m.survey === "object" ? m.survey : null;
    if (survey && typeof survey.key === "string") {
      el.dataset.surveyKey = survey.key;
      if (Number.isInteger(survey.low) && Number.isInteger(survey.high) && survey.low <= survey.high) {
        el.dataset.surveyLow = String(survey.low);
        el.dataset.surveyHigh = String(survey.high);
      }
    }
    return el;
  }

  // Insert keeping ascending id order; real messages go before the pending bubble.
  function insertMessage(el, id) {
    const list = els.messages;
    if (Number.isFinite(id)) {
      for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
        if (!node.classList.contains("msg")) continue;
        const nid = Number(node.dataset.id);
        if (!Number.isFinite(nid) || nid < id) {
          node.after(el);
          return;
        }
      }
      const firstMsg = list.querySelector(".msg");
      if (firstMsg) {
        list.insertBefore(el, firstMsg);
        return;
      }
    }
    if (state.pending && state.pending.parentNode === list) list.insertBefore(el, state.pending);
    else list.appendChild(el);
  }

  /**
   * Render messages not yet shown. Returns the number of new messages.
   * opts.force: always scroll to bottom (own send, initial load).
   * opts.fromPoll: messages arrived via polling.
   */
  function renderMessages(list, opts) {
    opts = opts || {};
    if (!Array.isArray(list) || list.length === 0) return 0;
    const stick = opts.force || isNearBottom();
    const sorted = list
      .filter((m) => m && typeof m === "object")
      .slice()
      .sort((a, b) => (numericId(a) || 0) - (numericId(b) || 0));
    let added = 0;
    let sawStaff = false;

    for (const m of sorted) {
      const key = m.id === undefined || m.id === null ? null : String(m.id);
      if (key !== null && state.seen.has(key)) continue;
      if (key !== null) state.seen.add(key);

      // A poll may deliver our own message before the send response does.
      if (m.author === "customer" && state.pending && state.pending.dataset.text === m.text) {
        removePending();
      }

      const id = numericId(m);
      insertMessage(buildMessage(m), id);
      if (Number.isFinite(id) && id > state.lastId) state.lastId = id;
      if (m.author === "staff") sawStaff = true;
      added++;
    }

    // The poll endpoint only returns messages; a new staff message means a human has joined.
    if (opts.fromPoll && sawStaff && state.handler !== "staff") setHandler("staff");

    if (added) {
      updateWelcome();
      updateSurveyReplies();
      if (stick) scrollToBottom();
      else els.newMsg.hidden = false;
    }
    return added;
  }

  function resetMessages() {
    const pending = state.pending;
    els.messages.textContent = "";
    state.seen.clear();
    state.lastId = 0;
    state.convGen++;
    if (pending) els.messages.appendChild(pending);
    updateSurveyReplies();
  }

  function addPending(text) {
    removePending();
    const el = document.createElement("div");
    el.className = "pending";
    el.dataset.text = text;
    el.setAttribute("aria-hidden", "true"); // announced once it is really stored
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    const time = document.createElement("span");
    time.className = "msg-time";
    time.textContent = "发送中…";
    el.append(bubble, time);
    els.messages.appendChild(el);
    state.pending = el;
    updateWelcome();
    updateSurveyReplies();
    scrollToBottom();
  }

  function removePending() {
    if (state.pending) {
      state.pending.remove();
      state.pending = null;
      updateSurveyReplies();
    }
  }

  function addDivider(text) {
    const el = document.createElement("div");
    el.className = "divider";
    el.textContent = text;
    els.messages.prepend(el);
  }

  // ---------------------------------------------------------------- survey answers

  // The question waiting for an answer: the newest message, when it is a bot message
  // asking a survey question, and nothing is being sent.
  function currentSurveyQuestion() {
    if (state.pending) return null;
    const all = els.messages.querySelectorAll(".msg");
    const last = all.length ? all[all.length - 1] : null;
    if (!last || last.dataset.author !== "bot" || !last.dataset.surveyKey) return null;
    const low = last.dataset.surveyLow !== undefined ? Number(last.dataset.surveyLow) : null;
    const high = last.dataset.surveyHigh !== undefined ? Number(last.dataset.surveyHigh) : null;
    if (low !== null && high !== null && high - low > 20) return null; // not a scale the page can show
    return { id: last.dataset.id, key: last.dataset.surveyKey, low: low, high: high };
  }

  function surveyButton(text, label, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "survey-chip " + className;
    b.dataset.text = text;
    b.setAttribute("aria-label", label);
    return b;
  }

  function buildSurveyReplies(q) {
    const box = els.survey;
    box.textContent = "";
    box.dataset.key = q.key;
    box.dataset.for = q.id;
    const caption = document.createElement("p");
    caption.className = "survey-caption";
    caption.id = "survey-caption";
    box.appendChild(caption);

    if (q.low !== null && q.high !== null) {
      const isNps = q.high - q.low > 5;
      const hint = SURVEY_SCALE_HINT[isNps ? "nps" : "score"];
      caption.textContent = "点选分数：" + q.low + " " + hint[0] + "，" + q.high + " " + hint[1];
      const scale = document.createElement("div");
      scale.className = "survey-scale";
      scale.dataset.scale = isNps ? "nps" : "stars";
      for (let v = q.low; v <= q.high; v++) {
        const extra = v === q.low ? "（" + hint[0] + "）" : v === q.high ? "（" + hint[1] + "）" : "";
        const b = surveyButton(String(v), v + " 分" + extra, "survey-score");
        const num = document.createElement("span");
        num.className = "survey-num";
        num.textContent = String(v);
        b.appendChild(num);
        if (!isNps) {
          const star = document.createElement("span");
          star.className = "survey-star";
          star.setAttribute("aria-hidden", "true");
          star.textContent = "★";
          b.appendChild(star);
        }
        scale.appendChild(b);
      }
      box.appendChild(scale);
      const more = document.createElement("div");
      more.className = "survey-more";
      const skip = surveyButton(SURVEY_SKIP, "跳过这一题", "survey-skip");
      skip.textContent = SURVEY_SKIP;
      const stop = surveyButton(SURVEY_STOP, "不用了，结束调查", "survey-stop");
      stop.textContent = SURVEY_STOP;
      more.append(skip, stop);
      box.appendChild(more);
    } else {
      caption.textContent = "请在下方输入您的意见，或点“" + SURVEY_NO_COMMENT + "”结束调查";
      const more = document.createElement("div");
      more.className = "survey-more";
      const none = surveyButton(SURVEY_NO_COMMENT, "没有了，结束调查", "survey-none");
      none.textContent = SURVEY_NO_COMMENT;
      more.appendChild(none);
      box.appendChild(more);
    }
    box.setAttribute("aria-describedby", "survey-caption");
  }

  function updateSurveyReplies() {
    const q = currentSurveyQuestion();
    const key = q ? q.id + ":" + q.key : "";
    if (key !== state.surveyFor) {
      state.surveyFor = key;
      const hadFocus = els.survey.contains(document.activeElement);
      if (q) buildSurveyReplies(q);
      else els.survey.textContent = "";
      els.survey.hidden = !q;
      els.input.placeholder = q && q.low === null ? COMMENT_PLACEHOLDER : INPUT_PLACEHOLDER;
      if (hadFocus) state.surveyFocus = true; // rebuilt under the keyboard user's focus
    }
    updateControls();
    focusSurvey();
  }

  // Keyboard users keep their place: after an answer button was used, focus goes to the
  // next question's buttons, or to the input when the survey is over. Buttons are
  // disabled while a message is being sent, so this waits until the send is done.
  function focusSurvey() {
    if (!state.surveyFocus || state.sending || state.connecting) return;
    state.surveyFocus = false;
    const first = els.survey.querySelector(".survey-score") || els.survey.querySelector("button");
    if (!els.survey.hidden && first && !first.disabled) first.focus({ preventScroll: true });
    else if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) els.input.focus({ preventScroll: true });
  }

  els.survey.addEventListener("click", (e) => {
    const b = e.target.closest("button.survey-chip");
    if (!b || b.disabled || !els.survey.contains(b)) return;
    sendText(b.dataset.text || "", false);
  });

  // Arrow keys move between the scores, Home / End to the ends (Tab still goes through).
  els.survey.addEventListener("keydown", (e) => {
    const b = e.target.closest("button.survey-score");
    if (!b) return;
    const all = Array.from(els.survey.querySelectorAll("button.survey-score"));
    const i = all.indexOf(b);
    let next = -1;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") next = Math.min(i + 1, all.length - 1);
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = Math.max(i - 1, 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = all.length - 1;
    if (next < 0) return;
    e.preventDefault();
    all[next].focus();
  });

  // ---------------------------------------------------------------- session

  function applySession(data, isReset) {
    const conv = data && data.conversation;
    if (!conv || !conv.id) throw new ApiError(0, "");
    const changed = state.conversationId !== null && state.conversationId !== String(conv.id);
    if (changed || state.conversationId === null) resetMessages();
    state.conversationId = String(conv.id);
    applyConversation(conv);
    if (!conv.handler) setHandler("bot");
    if (changed && isReset) addDivider("— 已为您开启新的会话 —");
    renderMessages(Array.isArray(data.messages) ? data.messages : [], { force: true });
  }

  function showSessionError(err) {
    let text;
    if (err && err.status >= 400 && err.status < 500) {
      text = err.detail || "身份校验失败，暂时无法连接客服，请刷新页面或稍后再试。";
    } else if (err && err.status >= 500) {
      text = "客服系统暂时繁忙，请稍后重试。";
    } else {
      text = "网络连接失败，暂时无法连接客服，请检查网络后重试。";
    }
    els.sessionErrorText.textContent = text;
    els.sessionError.hidden = false;
    els.retry.disabled = false;
    els.welcome.hidden = true;
    els.status.dataset.handler = "error";
    els.status.textContent = "连接失败";
    els.body.dataset.state = "error";
  }

  async function connect() {
    if (state.connecting) return;
    state.connecting = true;
    els.retry.disabled = true;
    els.sessionError.hidden = true;
    els.status.dataset.handler = "";
    els.status.textContent = "正在连接…";
    els.body.dataset.state = "loading";
    updateControls();
    try {
      const data = await openSession();
      applySession(data, false);
      state.ready = true;
      state.pollFailures = 0;
      els.body.dataset.state = "ready";
      updateWelcome();
      scrollToBottom();
      els.body.dataset.ready = "1";
      schedulePoll(POLL_MS);
    } catch (err) {
      showSessionError(err);
    } finally {
      state.connecting = false;
      updateControls();
      if (state.ready && window.matchMedia && window.matchMedia("(pointer: fine)").matches) {
        els.input.focus({ preventScroll: true });
      }
    }
  }

  // ---------------------------------------------------------------- sending

  async function postWithRetry(conversationId, text, cid) {
    let lastErr = null;
    for (let attempt = 0; attempt <= SEND_RETRY_DELAYS.length; attempt++) {
      if (attempt > 0) await sleep(SEND_RETRY_DELAYS[attempt - 1]);
      try {
        return await api(
          "POST",
          messagesUrl(conversationId),
          { text: text, client_message_id: cid },
          SEND_TIMEOUT_MS
        );
      } catch (err) {
        lastErr = err;
        if (!(err instanceof ApiError) || !err.retryable) throw err;
      }
    }
    throw lastErr;
  }

  // Sends; on 409 (conversation closed) opens a fresh session once and resends there.
  async function deliver(text, cid) {
    let reset = false;
    for (;;) {
      try {
        return await postWithRetry(state.conversationId, text, cid);
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && !reset) {
          reset = true;
          const data = await openSession();
          applySession(data, true);
          cid = newClientMessageId(); // new conversation, new message
          state.failed = null;
          continue;
        }
        throw err;
      }
    }
  }

  function validate(text) {
    if (!text.trim()) {
      showError("请先输入您想咨询的内容再发送哦～", "empty");
      return false;
    }
    const n = charCount(text); // same count as the live counter
    if (n > MAX_CHARS) {
      showError("消息最多 " + MAX_CHARS + " 字，当前 " + n + " 字，请精简后再发送。", "limit");
      return false;
    }
    return true;
  }

  async function sendText(raw, fromInput) {
    if (!state.ready || state.connecting) {
      showError("正在连接客服，请稍候…", "connect");
      return;
    }
    if (state.sending) return;
    if (!validate(raw)) {
      if (fromInput) els.input.focus();
      return;
    }
    const text = raw.trim();
    // An answer button was used: once the next question is shown, focus its buttons.
    state.surveyFocus = !fromInput && els.survey.contains(document.activeElement);

    const conv = state.conversationId;
    const cid =
      state.failed && state.failed.text === text && state.failed.conv === conv
        ? state.failed.cid // resending after a network failure: keep it idempotent
        : newClientMessageId();

    clearError();
    state.sending = true;
    updateControls();
    if (fromInput) {
      els.input.value = "";
      onInputChanged();
    }
    addPending(text);
    setTyping(true);

    try {
      const data = await deliver(text, cid);
      state.failed = null;
      removePending();
      applyConversation(data.conversation);
      const batch = [];
      if (data.message) batch.push(data.message);
      if (Array.isArray(data.replies)) batch.push(...data.replies);
      renderMessages(batch, { force: true });
      clearError();
    } catch (err) {
      removePending();
      updateWelcome();
      if (err instanceof ApiError && err.retryable) {
        state.failed = { text: text, cid: cid, conv: conv };
      }
      if (fromInput && !els.input.value) {
        els.input.value = text; // give the text back so nothing is lost
        onInputChanged();
      }
      showError(describeSendError(err), "send");
    } finally {
      state.sending = false;
      setTyping(false);
      updateControls();
      focusSurvey();
      schedulePoll(POLL_MS);
    }
  }

  function describeSendError(err) {
    if (!(err instanceof ApiError)) return "发送失败，请稍后重试。";
    if (err.detail) return err.detail;
    if (err.status === 0) return "网络不太稳定，消息没有发送成功，请检查网络后重试。";
    if (err.status >= 500) return "客服系统暂时繁忙，消息没有发送成功，请稍后重试。";
    if (err.status === 404) return "会话不存在或已失效，请刷新页面后重试。";
    if (err.status === 409) return "当前会话已结束，请刷新页面后重试。";
    if (err.status === 413 || err.status === 422) return "消息格式不正确或内容过长，请修改后重试。";
    if (err.status === 429) return "发送太频繁了，请稍等片刻再试。";
    return "发送失败，请稍后重试。";
  }

  // ---------------------------------------------------------------- polling

  function schedulePoll(delay) {
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = null;
    if (!state.ready || document.visibilityState !== "visible") return;
    ensureLive();
    state.pollTimer = setTimeout(pollTick, delay);
  }

  function nextPollDelay() {
    return Math.min(POLL_MS * Math.pow(2, state.pollFailures), POLL_MAX_MS);
  }

  async function pollTick() {
    state.pollTimer = null;
    if (!state.ready || !state.conversationId) return;
    if (document.visibilityState !== "visible") return; // resumed by visibilitychange
    if (state.sending || state.polling || state.connecting) {
      schedulePoll(POLL_MS);
      return;
    }
    state.polling = true;
    const gen = state.convGen;
    const conv = state.conversationId;
    try {
      const url = messagesUrl(conv) + "?after_id=" + encodeURIComponent(String(state.lastId));
      const data = await api("GET", url, undefined, POLL_TIMEOUT_MS);
      state.pollFailures = 0;
      if (gen === state.convGen && conv === state.conversationId) {
        if (data.conversation) applyConversation(data.conversation);
        renderMessages(data.messages, { fromPoll: !data.conversation });
      }
    } catch (_) {
      state.pollFailures = Math.min(state.pollFailures + 1, 5); // quiet back-off
    } finally {
      state.polling = false;
      // A live notice that arrived during this poll may be about a newer message.
      schedulePoll(state.pollAgain ? 0 : nextPollDelay());
      state.pollAgain = false;
    }
  }

  // ---------------------------------------------------------------- live notices

  // Server-sent events say "something changed" the moment a person replies; the page
  // then fetches it exactly as a poll does. Polling stays as the fallback.
  function ensureLive() {
    if (!window.EventSource || !state.conversationId) return;
    if (state.live && state.liveFor === state.conversationId) return;
    if (state.live) state.live.close();
    state.liveFor = state.conversationId;
    const source = new EventSource(messagesUrl(state.conversationId).replace(/\/messages$/, "/events"));
    source.addEventListener("open", () => { els.body.dataset.live = "1"; });
    source.addEventListener("error", () => { els.body.dataset.live = "0"; });
    source.addEventListener("changed", () => {
      if (state.polling) state.pollAgain = true;
      else schedulePoll(0);
    });
    state.live = source;
  }

  // ---------------------------------------------------------------- input

  function autoGrow() {
    const ta = els.input;
    if (!ta.value) {
      ta.style.height = ""; // back to the CSS single-line height
      return;
    }
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight + 2, 140) + "px";
  }

  function onInputChanged() {
    const n = charCount(els.input.value);
    els.counter.textContent = n + "/" + MAX_CHARS;
    els.counter.classList.toggle("near", n > NEAR_LIMIT && n <= MAX_CHARS);
    els.counter.classList.toggle("over", n > MAX_CHARS);
    const over = n > MAX_CHARS;
    els.input.setAttribute("aria-invalid", over ? "true" : "false");
    if (over) {
      showError("已超出 " + (n - MAX_CHARS) + " 字，消息最多 " + MAX_CHARS + " 字，请精简后再发送。", "limit");
    } else if (state.errorKind === "limit" || state.errorKind === "empty" || state.errorKind === "send") {
      clearError();
    }
    autoGrow();
  }

  els.input.addEventListener("input", onInputChanged);

  els.input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    // Never send while an IME (拼音输入法) is composing: Enter confirms the candidate.
    if (e.isComposing || e.keyCode === 229) return;
    if (e.shiftKey) return; // newline
    e.preventDefault();
    sendText(els.input.value, true);
  });

  els.form.addEventListener("submit", (e) => {
    e.preventDefault();
    sendText(els.input.value, true);
  });

  els.chips.forEach((chip) => {
    chip.addEventListener("click", () => {
      sendText(chip.dataset.text || chip.textContent || "", false);
    });
  });

  els.retry.addEventListener("click", () => {
    connect();
  });

  els.newMsg.addEventListener("click", () => {
    scrollToBottom();
  });

  els.scroller.addEventListener(
    "scroll",
    () => {
      if (!els.newMsg.hidden && isNearBottom()) els.newMsg.hidden = true;
    },
    { passive: true }
  );

  window.addEventListener("resize", autoGrow, { passive: true });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") schedulePoll(0);
    else if (state.pollTimer) {
      clearTimeout(state.pollTimer);
      state.pollTimer = null;
    }
  });

  window.addEventListener("online", () => {
    if (state.ready) {
      state.pollFailures = 0;
      schedulePoll(0);
    } else if (!state.connecting && !els.sessionError.hidden) {
      connect();
    }
  });

  // ---------------------------------------------------------------- start

  onInputChanged();
  updateControls();
  connect();
})();
