/* The one login flow of the staff pages (workspace and admin console): the login form,
 * logging out, a lost session (401) and the first look at /api/auth/me. The page says
 * which views it has and what to do on entering (``onEnter(me)``, after the labels are
 * loaded) and on leaving (``onLeave()``, before the login form shows).
 *
 * Views: <body data-view="…"> and one element #<view>-view per view; body[data-ready]
 * is set once the page shows what it settled on.
 */
import { $, ApiError } from "./staff-ui.js";
import { loadLabels } from "./labels.js";

let page = null; // { api, views, onEnter, onLeave, beforeLogout }

export function setView(view) {
  document.body.dataset.view = view;
  for (const v of page.views) $(v + "-view").hidden = v !== view;
}

export function markReady() {
  document.body.dataset.ready = "1";
}

export function showLogin(message) {
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  page.onLeave();
  setView("login");
  $("login-error").textContent = message || "";
  $("login-password").value = "";
  $("login-submit").disabled = false;
  ($("login-username").value ? $("login-password") : $("login-username")).focus();
  markReady();
}

export function sessionLost() {
  if (!page || document.body.dataset.view === "login") return;
  showLogin("登录已失效，请重新登录。");
}

async function enter(me) {
  await loadLabels(page.api);
  await page.onEnter(me);
}

async function submit(e) {
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
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const me = await page.api("POST", "/api/auth/login", { username: username, password: password }, { allow401: true });
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
    button.removeAttribute("aria-busy");
  }
}

export async function logout() {
  if (page.beforeLogout) page.beforeLogout();
  try {
    await page.api("POST", "/api/auth/logout", undefined, { allow401: true });
  } catch (_) {
    /* the session is gone either way */
  }
  showLogin("已退出登录。");
}

/* Wires the form and the #logout button, then asks who is logged in. */
export async function startLogin(options) {
  page = options;
  $("login-form").addEventListener("submit", submit);
  $("logout").addEventListener("click", logout);
  try {
    const me = await page.api("GET", "/api/auth/me", undefined, { allow401: true });
    await enter(me);
  } catch (err) {
    showLogin(err instanceof ApiError && err.status === 401 ? "" : err.detail || String(err));
  }
}
