"""One bot turn: hand the stored customer message to Rasa and store what comes back."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Conversation, Customer, Message
from api.models.customer import STAGE_LABELS
from api.services import conversations as convs
from api.services.offers import current_issuance
from bot.privacy import mask_identifier
from bot.rasa_client import BotUnavailable, RasaClient
from bot.text import text_for_nlu

log = logging.getLogger(__name__)


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


async def run_bot_turn(
    db: Session, rasa: RasaClient, conv: Conversation, inbound: Message, context: dict[str, Any]
) -> list[Message]:
    """Returns the stored replies. Never raises for a bot failure: the customer is told
    politely and the conversation is flagged for staff instead.

    The session must have no open transaction when this is called: the wait for Rasa
    may take seconds, and a pooled connection held that long starves other requests.
    """
    if conv.handler != "bot":
        return []  # a person owns the conversation; the bot stays silent
    metadata = {"customer_id": conv.customer_id, "stage": context.get("stage"), "channel": conv.channel,
                "message_id": inbound.id, "customer": context}
    try:
        turn = await rasa.send(conv.id, text_for_nlu(inbound.text), metadata)
    except BotUnavailable as exc:
        log.warning("bot unavailable in conversation %s: %s", mask_identifier(conv.id, 8), exc)
        return await run_in_threadpool(convs.store_unanswered, db, conv, inbound, "bot_unavailable")
    if not turn.replies:
        log.warning("bot gave no reply in conversation %s", mask_identifier(conv.id, 8))
        return await run_in_threadpool(convs.store_unanswered, db, conv, inbound, "bot_no_reply")
    return await run_in_threadpool(convs.store_bot_turn, db, conv, inbound, turn, context)
