/* 回响客服工作台 (Huixiang staff workspace): the entry module. Plain ES2020 modules, no
 * dependencies, no build step; everything from the server or the user is rendered with
 * textContent only.
 *
 * Modules: state.js (who is logged in), api.js, text.js (words and formats), queue.js,
 * conversation.js (the open conversation), timeline.js, profile.js, actions.js,
 * canned.js, follow-ups.js (tabs and follow-up tasks), live.js (server-sent events);
 * the login flow, labels and widgets are shared with the admin console (../common/).
 */
import { $, setText } from "../common/staff-ui.js";
import { roleName } from "../common/labels.js";
import { markReady, setView, startLogin } from "../common/login.js";
import { initActions } from "./actions.js";
import { api } from "./api.js";
import { initCanned, loadCanned } from "./canned.js";
import {
  closeConversation, hashConversation, initConversation, openConversation, stopConversation, tickConversation,
} from "./conversation.js";
import { initFollowUps, loadFollowUps, resetFollowUps, stopFollowUps, tickFollowUps } from "./follow-ups.js";
import { startLive, stopLive } from "./live.js";
import { TITLE, initQueue, pollQueue, resetQueue, setConn, stopQueue, tickQueue } from "./queue.js";
import { session } from "./state.js";

let tickTimer = null;

function tick() {
  tickQueue();
  tickFollowUps();
  tickConversation();
}

function stopPolling() {
  stopLive();
  session.running = false;
  stopQueue();
  stopConversation();
  if (tickTimer) clearInterval(tickTimer);
  tickTimer = null;
  stopFollowUps();
}

async function enter(me) {
  session.me = me;
  setText($("user-name"), me.display_name && me.display_name !== me.username
    ? me.display_name + "（" + me.username + "）" : me.username);
  setText($("user-role"), roleName(me.role));
  $("section-others").hidden = me.role !== "admin";
  $("canned-form").hidden = me.role !== "admin";
  setView("app");
  session.running = true;
  startLive();
  resetQueue();
  setConn(true);
  loadCanned();
  resetFollowUps();
  loadFollowUps();
  await pollQueue();
  if (!session.running) return; // the session was lost meanwhile
  tickTimer = setInterval(tick, 1000);
  const fromHash = hashConversation();
  if (fromHash) openConversation(fromHash);
  markReady();
}

function leave() {
  stopPolling();
  session.me = null;
  closeConversation();
  document.title = TITLE;
}

initQueue();
initConversation();
initActions();
initCanned();
initFollowUps();
startLogin({
  api,
  views: ["login", "app"],
  onEnter: enter,
  onLeave: leave,
  beforeLogout() {
    stopPolling();
    history.replaceState(null, "", location.pathname); // the next person starts with no conversation open
  },
});
