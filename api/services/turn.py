"""One customer turn, the same on every channel: the one place that decides who answers.

A channel (api/channels/) turns its protocol into a customer, their conversation and a
text, and the stored replies back into its protocol. Everything in between is here:

1. ``receive`` stores the customer's message and commits it before anything else, so no
   later failure loses it; a client id or channel delivery seen before is recognised
   and not stored twice. A mobile number in the text joins the customer's account.
2. ``answer`` decides who answers: a survey question waiting for this customer takes
   the message (api/services/surveys.py); else, when a person owns the conversation,
   nobody here (the message waits in the staff workspace); else the bot — Rasa through
   bot/rasa_client.py, with the customer's state as reply variables for the NLG
   endpoint (api/routes/nlg.py renders the stage's variant).
3. The bot's replies are stored with their template and variant. When the turn calls
   for a person (api/services/escalation.py) the conversation joins the staff queue
   (api/services/handoff.py); when the bot said goodbye the survey starts; when the bot
   fails the customer is told politely and the conversation is queued.

Delivery is not written here: the web chat returns the replies in its HTTP answer, the
live stream announces every commit, and every outbound message on WeChat gets its
delivery row from the session hook (api/models/hooks.py).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Conversation, Customer, InboundReceipt, Message
from api.models.customer import STAGE_LABELS
from api.services import handoff, surveys
from api.services.conversations import flag
from api.services.escalation import escalation_reason
from api.services.merge import MergeError, find_phone, link_phone
from api.services.offers import current_issuance
from api.services.turn_stats import turns as turn_stats
from bot.privacy import mask_identifier
from bot.rasa_client import BotTurn, BotUnavailable, RasaClient
from bot.text import text_for_nlu

log = logging.getLogger(__name__)

# Shown when the bot cannot answer; the message itself is kept for staff.
BOT_UNAVAILABLE_TEXT = (
    "抱歉，智能助手暂时无法回复。您的消息我们已经收到，人工客服会尽快为您处理，请稍候。"
)


# --- 1. receive ---------------------------------------------------------------------------

def receive(
    db: Session, conv: Conversation, text: str, client_message_id: str | None = None,
    receipt: InboundReceipt | None = None,
) -> tuple[Message, bool]:
    """Store and commit the customer's message; (message, True) when this client id,
    or this channel delivery (``receipt``, committed with the message), was seen before."""
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
    except IntegrityError:  # the same client id or delivery, stored by a parallel request
        db.rollback()
        if receipt is not None:
            seen = db.scalar(select(Message).join(InboundReceipt, InboundReceipt.message_id == Message.id).where(
                InboundReceipt.channel == receipt.channel, InboundReceipt.dedup_key == receipt.dedup_key))
        else:
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


def customer_context(db: Session, customer: Customer, now: datetime | None = None) -> dict[str, Any]:
    """The customer's state as reply variables (api/services/variants.CUSTOMER_VARIABLES),
    sent with each message so the NLG endpoint can choose and fill the stage's variant
    without reading the database."""
    context: dict[str, Any] = {"stage": customer.stage, "stage_name": STAGE_LABELS.get(customer.stage),
                               "points": customer.points, "name": customer.display_name,
                               "persona": customer.persona}
    coupon = current_issuance(db, customer.id, now or utcnow())
    if coupon is not None:
        context.update(coupon_code=coupon.coupon_code, coupon_title=coupon.offer.title)
    return {k: v for k, v in context.items() if v is not None}


# --- 2. answer ----------------------------------------------------------------------------

async def answer(db: Session, rasa: RasaClient, conv: Conversation, inbound: Message) -> list[Message]:
    """The stored replies to ``inbound``: the survey's, none while a person owns the
    conversation, else the bot's. Never raises for a bot failure: the customer is told
    politely and the conversation is queued for staff instead.

    Call it with no transaction open: the wait for Rasa may take seconds, and a pooled
    connection held that long starves other requests.
    """
    replies, context = await run_in_threadpool(_decide, db, conv, inbound)
    if context is None:
        return replies
    metadata = {"customer_id": conv.customer_id, "stage": context.get("stage"), "channel": conv.channel,
                "message_id": inbound.id, "customer": context}
    try:
        turn = await rasa.send(conv.id, text_for_nlu(inbound.text), metadata)
    except BotUnavailable as exc:
        # /api/health reports failing turns (api/services/turn_stats.py)
        turn_stats.record("bot_timeout" if "Timeout" in str(exc) else "bot_unavailable")
        log.warning("bot unavailable in conversation %s: %s", mask_identifier(conv.id, 8), exc)
        return await run_in_threadpool(_store_unanswered, db, conv, inbound, "bot_unavailable")
    if not turn.replies:
        turn_stats.record("bot_no_reply")
        log.warning("bot gave no reply in conversation %s", mask_identifier(conv.id, 8))
        return await run_in_threadpool(_store_unanswered, db, conv, inbound, "bot_no_reply")
    turn_stats.record()
    return await run_in_threadpool(_store_bot_turn, db, conv, inbound, turn, context)


def _decide(db: Session, conv: Conversation, inbound: Message) -> tuple[list[Message], dict | None]:
    """(replies, None) when the turn is settled here; ([], context) when the bot is to
    answer, with the customer's state read now. Ends its transaction."""
    replies = surveys.answer_in_chat(db, conv, inbound)
    if replies is not None:
        return replies, None
    if conv.status != "open":  # moving on in a conversation staff resolved reopens it
        conv.status, conv.closed_at = "open", None
    if conv.handler != "bot":  # a person owns the conversation; the bot stays silent
        db.commit()
        return [], None
    context = customer_context(db, db.get(Customer, conv.customer_id))
    db.commit()
    return [], context


# --- 3. store what the bot said ----------------------------------------------------------

def _store_bot_turn(db: Session, conv: Conversation, inbound: Message, turn: BotTurn,
                    context: dict) -> list[Message]:
    now = utcnow()
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


def _store_unanswered(db: Session, conv: Conversation, inbound: Message, reason: str) -> list[Message]:
    """The bot failed: tell the customer politely and put the conversation in the queue."""
    now = utcnow()
    out = [handoff.system_message(db, conv, BOT_UNAVAILABLE_TEXT, now, inbound.id)]
    notice = handoff.escalate(db, conv, reason, reply_to_id=inbound.id, now=now)
    if notice is not None:
        out.append(notice)
    db.commit()
    return out
