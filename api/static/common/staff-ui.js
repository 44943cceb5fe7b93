/* Shared by the staff pages (admin console, staff workspace): DOM building, dates, the
 * JSON API client and the toast / confirm widgets. Plain ES2020 module, no dependencies;
 * everything from the server or the user goes in as text only. Labels: labels.js.
 */
export const $ = (id) => document.getElementById(id);

export function h(tag, props) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}

export function append(el, child) {
  if (child === undefined || child === null || child === false) return;
  if (Array.isArray(child)) child.forEach((c) => append(el, c));
  else el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
}

export function clear(el) {
  el.textContent = "";
  return el;
}

export function setText(el, text) {
  const value = text === undefined || text === null ? "" : String(text);
  if (el.textContent !== value) el.textContent = value;
}

export function pad2(n) {
  return String(n).padStart(2, "0");
}

export function parseDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function fmtDate(iso) {
  const d = parseDate(iso);
  return d ? d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) : "";
}

export function fmtTime(iso) {
  const d = parseDate(iso);
  if (!d) return iso ? String(iso) : "";
  return fmtDate(iso) + " " + pad2(d.getHours()) + ":" + pad2(d.getMinutes());
}

export function money(value) {
  const n = Number(value);
  return Number.isFinite(n) ? "¥" + n.toFixed(2) : String(value);
}

// ------------------------------------------------------------------ HTTP

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/* The message to show for a failed request. ``describeDetail`` lets a page word a
 * string detail or FastAPI's list of field errors its own way. */
function describe(status, data, describeDetail) {
  const detail = data && data.detail;
  const own = describeDetail ? describeDetail(detail) : null;
  if (own) return own;
  if (typeof detail === "string" && detail.trim()) return detail.trim();
  if (Array.isArray(detail) && detail.length) return "填写有误：请检查输入内容。";
  if (status === 0) return "网络连接失败，请检查网络后重试。";
  if (status >= 500) return "服务器暂时出错（" + status + "），请稍后重试。";
  if (status === 404) return "要找的记录不存在。";
  if (status === 403) return "没有权限执行此操作。";
  return "请求失败（" + status + "）。";
}

/* A JSON client for the staff API: the session cookie, the X-Requested-With header
 * the API demands on writes, Chinese error messages, and ``onError(status, data)``
 * for the page to react to a lost session (401) or a missing role (403). */
export function createApi(options) {
  const onError = options.onError || (() => {});
  return async function api(method, url, body, opts) {
    opts = opts || {};
    const headers = { Accept: "application/json", "X-Requested-With": "fetch" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(url, {
        method: method,
        credentials: "same-origin",
        cache: "no-store",
        headers: headers,
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (_) {
      throw new ApiError(0, describe(0, null, options.describeDetail));
    }
    let data = null;
    if (res.status !== 204) {
      try {
        data = await res.json();
      } catch (_) {
        data = null;
      }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, describe(res.status, data, options.describeDetail));
      err.retryAfter = res.headers.get("Retry-After");
      if (!(res.status === 401 && opts.allow401)) onError(res.status, data);
      throw err;
    }
    return data;
  };
}

// ------------------------------------------------------------------ widgets

let toastTimer = null;
export function toast(text, kind) {
  const el = $("toast");
  el.textContent = text;
  el.dataset.kind = kind || "ok";
  el.hidden = false;
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, kind === "error" ? 6000 : 3000);
}

/* The page's #confirm-dialog; resolves true for OK, false for cancel or Esc. */
export function confirmDialog(text, okLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel || "确定";
  return new Promise((resolve) => {
    const done = (value) => {
      $("confirm-ok").removeEventListener("click", onOk);
      $("confirm-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onOk = () => done(true);
    const onCancel = (e) => {
      if (e) e.preventDefault();
      done(false);
    };
    $("confirm-ok").addEventListener("click", onOk);
    $("confirm-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}
