"""Messages owed to customers on push channels (WeChat), whoever wrote them.

Every outbound message stored in a WeChat conversation gets an ``OutboundDelivery`` in
the same transaction (the session hook in api/models/hooks.py, which every process
has). A session answering a delivery WeChat is waiting on marks its messages ``held``
(``hold``): the route puts them in its HTTP reply (``mark_passive``) or, past the
deadline, hands them to the sender (``release``). All others are ``pending`` at once
and the sender (api/channels/wechat_sender.py) is woken after the commit.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import OutboundDelivery, hooks
from api.services.live import run_on_loop


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


wake_sender = _Wakeup()
hooks.deliveries_pending.append(wake_sender)  # a commit that adds pending rows wakes the sender


def hold(db: Session) -> None:
    """Messages this session stores from now on wait for the route's decision."""
    hooks.hold_deliveries(db)


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
