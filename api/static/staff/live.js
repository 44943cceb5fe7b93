/* Live notices (server-sent events, /api/staff/events): "conversation X changed" the
 * moment it does; the queue, the open conversation and the follow-up tasks are then
 * fetched as a poll would. Polling stays as the fallback. */
import { currentId, refreshConversationSoon } from "./conversation.js";
import { followUpsSoon } from "./follow-ups.js";
import { refreshQueueSoon } from "./queue.js";

let source = null;

export function startLive() {
  if (!window.EventSource || source) return;
  source = new EventSource("/api/staff/events");
  source.addEventListener("open", () => { document.body.dataset.live = "1"; });
  source.addEventListener("error", () => { document.body.dataset.live = "0"; });
  source.addEventListener("changed", (e) => {
    let id = null;
    try { id = JSON.parse(e.data).conversation_id; } catch (_) { /* a malformed notice: refresh all */ }
    refreshQueueSoon();
    if (!id || id === currentId()) refreshConversationSoon();
    followUpsSoon(); // a finished survey may have opened a follow-up task
  });
}

export function stopLive() {
  if (source) source.close();
  source = null;
}
