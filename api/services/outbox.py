"""Messages owed to customers on push channels (WeChat), whoever wrote them.

Every outbound message stored in a WeChat conversation — the bot's answer, a staff
reply, a queue notice, a survey question — gets an ``OutboundDelivery`` in the same
transaction (a SQLAlchemy ``before_flush`` hook, so no code path can forget one).
A session answering a delivery WeChat is waiting on marks its messages ``held``
(``hold``): the route puts them in its HTTP reply (``mark_passive``) or, past the
deadline, hands them to the sender (``release``). All others are ``pending`` at once
and the sender (api/services/wechat_sender.py) is woken after the commit.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Conversation, Message, OutboundDelivery
from api.services.live import run_on_loop

PUSH_CHANNELS = frozenset({"wechat"})
_HOLD = "outbox_hold"
_WOKEN = "outbox_new_pending"


class _Wakeup:
    """Wakes the sender's loop from any thread (database work runs in the thread pool)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None, event_: asyncio.Event | None) -> None:
        self._loop, self._event = loop, event_

    def __call__(self) -> None:
        if self._event is not None:
            run_on_loop(self._loop, self._event.set)


wake_sender: Callable[[], None] = _Wakeup()


def hold(db: Session) -> None:
    """Messages this session stores from now on wait for the route's decision."""
    db.info[_HOLD] = True


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
                session.info[_WOKEN] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_WOKEN, False):
        wake_sender()


def install() -> None:
    """Listen on every session of the process (idempotent)."""
    if not event.contains(Session, "before_flush", _add_deliveries):
        event.listen(Session, "before_flush", _add_deliveries)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda session, _tx: session.info.pop(_WOKEN, None))


def _set_status(db: Session, message_ids: Iterable[int], status: str, now: datetime) -> int:
    ids = list(message_ids)
    if not ids:
        return 0
    values = {"status": status, "next_attempt_at": now}
    if status == "passive":
        values["sent_at"] = now
    done = db.execute(update(OutboundDelivery)
                      .where(OutboundDelivery.message_id.in_(ids), OutboundDelivery.status == "held")
                      .values(**values))
    db.commit()
    return done.rowcount or 0


def mark_passive(db: Session, message_ids: Iterable[int], now: datetime | None = None) -> int:
    """These went out in the HTTP reply WeChat was waiting for."""
    return _set_status(db, message_ids, "passive", now or utcnow())


def release(db: Session, message_ids: Iterable[int], now: datetime | None = None) -> int:
    """Too late for the HTTP reply: the sender sends these through the API."""
    released = _set_status(db, message_ids, "pending", now or utcnow())
    if released:
        wake_sender()
    return released
