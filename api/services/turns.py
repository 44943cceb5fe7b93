"""One bot turn: hand the stored customer message to Rasa and store what comes back."""
from __future__ import annotations

import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.models import Conversation, Message
from api.services import conversations as convs
from bot.privacy import mask_identifier
from bot.rasa_client import BotUnavailable, RasaClient
from bot.text import text_for_nlu

log = logging.getLogger(__name__)


async def run_bot_turn(
    db: Session, rasa: RasaClient, conv: Conversation, inbound: Message, stage: str
) -> list[Message]:
    """Returns the stored replies. Never raises for a bot failure: the customer is told
    politely and the conversation is flagged for staff instead.

    The session must have no open transaction when this is called: the wait for Rasa
    may take seconds, and a pooled connection held that long starves other requests.
    """
    if conv.handler != "bot":
        return []  # a person owns the conversation; the bot stays silent
    metadata = {"customer_id": conv.customer_id, "stage": stage, "channel": conv.channel,
                "message_id": inbound.id}
    try:
        turn = await rasa.send(conv.id, text_for_nlu(inbound.text), metadata)
    except BotUnavailable as exc:
        log.warning("bot unavailable in conversation %s: %s", mask_identifier(conv.id, 8), exc)
        return [await run_in_threadpool(convs.store_unanswered, db, conv, inbound, "bot_unavailable")]
    if not turn.replies:
        log.warning("bot gave no reply in conversation %s", mask_identifier(conv.id, 8))
        return [await run_in_threadpool(convs.store_unanswered, db, conv, inbound, "bot_no_reply")]
    return await run_in_threadpool(convs.store_bot_turn, db, conv, inbound, turn)
