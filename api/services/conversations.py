"""Conversations and their messages: which one is current, storing both directions."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.rasa_client import BotTurn
from api.db.base import utcnow
from api.models import Conversation, Customer, InboundReceipt, Message
from api.services import handoff, surveys
from api.services.escalation import escalation_reason
from api.services.merge import MergeError, find_phone, link_phone

# Shown when the bot cannot answer; the message itself is kept for staff.
BOT_UNAVAILABLE_TEXT = (
    "抱歉，智能助手暂时无法回复。您的消息我们已经收到，人工客服会尽快为您处理，请稍候。"
)


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


def store_inbound(
    db: Session, conv: Conversation, text: str, client_message_id: str | None,
    receipt: InboundReceipt | None = None,
) -> tuple[Message, bool]:
    """Store the customer's message; (message, True) when this client id, or this
    channel delivery (``receipt``, committed with the message), was seen before."""
    if client_message_id:
        seen = db.scalar(select(Message).where(Message.conversation_id == conv.id,
                                               Message.client_message_id == client_message_id))
        if seen is not None:
            return seen, True
    now = utcnow()
    msg = Message(conversation_id=conv.id, direction="inbound", author="customer", text=text,
                  client_message_id=client_message_id, created_at=now)
    db.add(msg)
    if receipt is not None:
        receipt.conversation_id, receipt.message = conv.id, msg
        db.add(receipt)
    conv.last_activity_at = now
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        if receipt is not None:
            seen = db.scalar(select(Message).join(InboundReceipt, InboundReceipt.message_id == Message.id).where(
                InboundReceipt.channel == receipt.channel, InboundReceipt.dedup_key == receipt.dedup_key))
            if seen is None:
                raise
            return seen, True
        seen = db.scalar(select(Message).where(Message.conversation_id == conv.id,
                                               Message.client_message_id == client_message_id))
        if seen is None:
            raise
        return seen, True
    _link_typed_phone(db, conv, text)
    return msg, False


def _link_typed_phone(db: Session, conv: Conversation, text: str) -> None:
    """A mobile number in the customer's message joins their account. When another
    customer has it, staff are asked to confirm the merge: a typed number is a claim."""
    phone = find_phone(text)
    if phone is None:
        return
    try:
        if link_phone(db, db.get(Customer, conv.customer_id), phone, conv.id) == "proposed":
            flag(conv, "merge_proposed")
        db.commit()
    except (IntegrityError, MergeError):
        # The same number linked by a parallel request, or the records changed meanwhile:
        # the message is stored already, and the link is not worth failing the turn for.
        db.rollback()


def flag(conv: Conversation, reason: str) -> None:
    if not conv.needs_attention:
        conv.needs_attention, conv.attention_reason = True, reason


def store_bot_turn(db: Session, conv: Conversation, inbound: Message, turn: BotTurn,
                   context: dict | None = None) -> list[Message]:
    """Store the bot's replies; when the turn calls for a person (escalation.py), put the
    conversation in the staff queue and tell the customer their place in it; when the
    bot said goodbye, start the satisfaction survey (surveys.py)."""
    now = utcnow()
    context = context or {}
    inbound.intent, inbound.intent_confidence = turn.intent, turn.intent_confidence
    previous = db.scalar(select(Message.template).where(
        Message.conversation_id == conv.id, Message.author == "bot", Message.id < inbound.id)
        .order_by(Message.id.desc()).limit(1))
    out = [Message(conversation_id=conv.id, direction="outbound", author="bot", text=r.text,
                   template=r.template, variant_id=r.variant_id, reply_to_id=inbound.id, created_at=now)
           for r in turn.replies]
    db.add_all(out)
    conv.last_activity_at = now
    reason = escalation_reason(templates=[r.template for r in turn.replies], intent=turn.intent,
                               previous_bot_template=previous, stage=context.get("stage"),
                               persona=context.get("persona"), text=inbound.text)
    if reason:
        notice = handoff.escalate(db, conv, reason, reply_to_id=inbound.id, now=now)
        if notice is not None:
            out.append(notice)
    elif surveys.GOODBYE_TEMPLATE in (r.template for r in turn.replies):
        out.extend(surveys.start(db, conv, "goodbye", now, inbound.id))
    db.commit()
    return out


def survey_turn(db: Session, conv: Conversation, inbound: Message) -> list[Message] | None:
    """The replies when the message answers a waiting survey question; None: the bot
    answers it. A customer who moves on in a conversation staff resolved reopens it."""
    replies = surveys.answer_in_chat(db, conv, inbound)
    if replies is None and conv.status != "open":
        conv.status, conv.closed_at = "open", None
        db.commit()
    return replies


def store_unanswered(db: Session, conv: Conversation, inbound: Message, reason: str) -> list[Message]:
    """The bot failed: tell the customer politely and put the conversation in the queue."""
    now = utcnow()
    out = [handoff.system_message(db, conv, BOT_UNAVAILABLE_TEXT, now, inbound.id)]
    notice = handoff.escalate(db, conv, reason, reply_to_id=inbound.id, now=now)
    if notice is not None:
        out.append(notice)
    db.commit()
    return out
