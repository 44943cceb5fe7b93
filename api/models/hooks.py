"""Session hooks every process has: attached when ``api.models`` is imported, so the API,
the scheduler, the command line and the tests all get them without asking.

- **Outbox.** Every outbound message stored in a conversation on a push channel (WeChat)
  gets an ``OutboundDelivery`` in the same transaction, so no code path — a bot answer,
  a staff reply, a survey question a job writes — can store a message that is never sent.
  A session answering a delivery WeChat is waiting on marks what it stores ``held``
  (``hold_deliveries``; api/channels/wechat_inbox.py decides how those go out); all
  others are ``pending`` at once.
- **Changes.** After a commit, the ids of the conversations whose messages, events or
  state changed are announced.

Both announce through plain callback lists that the service fills when it runs
(``conversations_changed``: the live hub of api/services/live.py; ``deliveries_pending``:
the WeChat sender's wake-up in api/channels/outbox.py). In a process with no listeners
(the scheduler) the rows are still written and the sender finds them on its next poll.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models.channel import OutboundDelivery
from api.models.conversation import Conversation, ConversationEvent, Message

PUSH_CHANNELS = frozenset({"wechat"})

conversations_changed: list[Callable[[set[str]], None]] = []
deliveries_pending: list[Callable[[], None]] = []

_HOLD = "outbox_hold"
_NEW_PENDING = "outbox_new_pending"
_CHANGED = "changed_conversations"


def hold_deliveries(session: Session) -> None:
    """Messages this session stores from now on wait for the channel's decision."""
    session.info[_HOLD] = True


def _add_deliveries(session: Session, _flush_context, _instances) -> None:
    new_messages = [obj for obj in session.new if isinstance(obj, Message) and obj.direction == "outbound"]
    if not new_messages:
        return
    status = "held" if session.info.get(_HOLD) else "pending"
    with session.no_autoflush:
        for msg in new_messages:
            conv = msg.conversation or next(
                (o for o in session.new if isinstance(o, Conversation) and o.id == msg.conversation_id), None
            ) or session.get(Conversation, msg.conversation_id)
            if conv is None or conv.channel not in PUSH_CHANNELS:
                continue
            session.add(OutboundDelivery(message=msg, conversation_id=conv.id, status=status,
                                         next_attempt_at=msg.created_at or utcnow()))
            if status == "pending":
                session.info[_NEW_PENDING] = True


def _collect_changes(session: Session, _flush_context) -> None:
    changed = session.info.setdefault(_CHANGED, set())
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Conversation):
            changed.add(obj.id)
        elif isinstance(obj, Message | ConversationEvent):
            changed.add(obj.conversation_id)


def _after_commit(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        for listener in list(conversations_changed):
            listener(changed)
    if session.info.pop(_NEW_PENDING, False):
        for listener in list(deliveries_pending):
            listener()


def _after_rollback(session: Session, _transaction) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_NEW_PENDING, None)


event.listen(Session, "before_flush", _add_deliveries)
event.listen(Session, "after_flush", _collect_changes)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", _after_rollback)
