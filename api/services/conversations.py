"""Conversations and their messages: which one is current, whose it is, what is in it.
(What happens in a turn is api/services/turn.py.)"""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Conversation, Customer, Message


def new_conversation_id() -> str:
    return uuid.uuid4().hex


def current_conversation(db: Session, customer: Customer, channel: str, idle_minutes: int) -> Conversation:
    """The customer's open conversation on this channel, or a new one.

    A conversation idle for longer than ``idle_minutes`` is closed first: the next
    visit starts afresh, as a customer expects after a long pause.
    """
    conv = db.scalar(
        select(Conversation)
        .where(Conversation.customer_id == customer.id, Conversation.channel == channel,
               Conversation.status == "open")
        .order_by(Conversation.last_activity_at.desc())
        .limit(1)
    )
    now = utcnow()
    if conv is not None and now - conv.last_activity_at > timedelta(minutes=idle_minutes):
        conv.status, conv.closed_at = "closed", now
        conv = None
    if conv is None:
        conv = Conversation(id=new_conversation_id(), customer_id=customer.id, channel=channel,
                            started_at=now, last_activity_at=now)
        db.add(conv)
    db.commit()
    return conv


def owned_conversation(db: Session, customer_id: int, conversation_id: str,
                       for_update: bool = False) -> Conversation | None:
    """The conversation only if it belongs to this customer: others' ids are 'not found'.

    ``for_update`` locks its row (PostgreSQL) until the transaction ends: a message
    stored under the lock sees the handler a concurrent hand-back leaves, not the one
    before it, so it is answered by exactly one side."""
    conv = db.get(Conversation, conversation_id, with_for_update=for_update, populate_existing=for_update)
    if conv is None or conv.customer_id != customer_id:
        return None
    return conv


def messages_after(db: Session, conversation_id: str, after_id: int = 0, limit: int = 200) -> list[Message]:
    return list(db.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > after_id)
        .order_by(Message.id)
        .limit(limit)
    ))


def replies_to(db: Session, message_id: int) -> list[Message]:
    return list(db.scalars(select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)))


def flag(conv: Conversation, reason: str) -> None:
    if not conv.needs_attention:
        conv.needs_attention, conv.attention_reason = True, reason
