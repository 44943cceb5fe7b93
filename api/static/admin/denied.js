/* An agent (or an admin who lost the role) sees the "denied" view, not the console. */
import { $ } from "../common/staff-ui.js";
import { roleName } from "../common/labels.js";
import { markReady, setView } from "../common/login.js";
import { session } from "./state.js";

export function showDenied(me) {
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  session.me = me;
  setView("denied");
  const who = (me.display_name || me.username) + "（" + me.username + "）";
  $("denied-text").textContent = "当前账号 " + who + " 的角色是“" + roleName(me.role) + "”，管理控制台需要管理员（admin）角色。";
  markReady();
}

export function adminLost() {
  if (session.me) showDenied(Object.assign({}, session.me, { role: "agent" }));
}
