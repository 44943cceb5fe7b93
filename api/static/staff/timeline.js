/* The open conversation's timeline: messages (with WeChat delivery marks) and internal
 * notes, in time order; it stays scrolled to the bottom while the agent is there. */
import { $, fmtDate, h } from "../common/staff-ui.js";
import { view } from "./conversation.js";
import { AUTHOR_LABELS, DELIVERY, customerName, fmtHM } from "./text.js";

function isNearBottom() {
  const s = $("timeline");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

export function renderTimeline(force) {
  const scroller = $("timeline");
  const stick = force || isNearBottom();
  const top = scroller.scrollTop;
  const items = [];
  for (const m of view.messages.values()) items.push({ t: Date.parse(m.created_at) || 0, order: 0, id: m.id, m: m });
  for (const n of view.notes.values()) items.push({ t: Date.parse(n.at) || 0, order: 1, id: n.id, n: n });
  items.sort((a, b) => a.t - b.t || a.order - b.order || a.id - b.id);
  const list = $("messages");
  list.textContent = "";
  if (!items.length) list.appendChild(h("li", { class: "timeline-empty muted" }, "暂无消息"));
  for (const it of items) list.appendChild(it.m ? buildMessage(it.m) : buildNote(it.n));
  scroller.scrollTop = stick ? scroller.scrollHeight : top;
}

// Fetch again from the oldest message still being sent, so its outcome shows.
export function sinceId() {
  let since = view.lastId;
  for (const m of view.messages.values()) {
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
  if (author === "customer" && view.conv) who = customerName(view.conv);
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
