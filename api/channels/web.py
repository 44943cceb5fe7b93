"""The web chat channel: what the customer's browser calls.

It turns the page's cookie into a customer and its conversation, and hands the text to
the turn (api/services/turn.py); a resent client message id gets the replies it had."""
from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from fastapi.concurrency import run_in_threadpool

from api.schemas.types import DbCount
from api.deps import NOT_YOURS, DbDep, RasaDep, SettingsDep, customer_id_from_cookie
from api.schemas.web import MessagesOut, SendIn, SendOut, SessionIn, SessionOut
from api.services import conversations as convs
from api.services.identity import (
    CLIENT_COOKIE,
    CLIENT_COOKIE_MAX_AGE,
    client_cookie,
    client_id_from_cookie,
    client_ip,
    identify_web_customer,
    is_known_client,
    new_client_id,
    verify_user_hash,
)
from api.services import live, rate_limits, surveys, turn
from bot.text import InvalidMessage, clean_customer_text

router = APIRouter(prefix="/api/web", tags=["web chat"])
log = logging.getLogger(__name__)

@router.post("/session", response_model=SessionOut)
def start_session(
    request: Request,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    body: SessionIn | None = None,
    hx_cid: Annotated[str | None, Cookie()] = None,
) -> SessionOut:
    """Recognise the visitor (or welcome a new one) and return their current conversation."""
    body = body or SessionIn()
    user_id = None
    if body.user_id or body.user_hash:
        secret = settings.identity_secret.get_secret_value() if settings.identity_secret else None
        if not secret:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "本站未开启会员身份校验，无法使用 user_id 登录")
        if not (body.user_id and body.user_hash and verify_user_hash(secret, body.user_id, body.user_hash)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "会员身份校验失败，请重新登录后再试")
        user_id = body.user_id

    ip = client_ip(request.client.host if request.client else None,
                   request.headers.get("x-forwarded-for"), settings.trusted_proxies)
    # Only ids this server issued; a made-up or forged cookie is replaced by a new one.
    client_id = client_id_from_cookie(db, hx_cid)
    if client_id is None or not is_known_client(db, client_id):
        _limited(rate_limits.new_sessions_per_address(settings), rate_limits.address_key(ip))  # a new browser
        client_id = client_id or new_client_id()
    customer = identify_web_customer(db, client_id, ip, user_id)
    conv = convs.current_conversation(db, customer, "web", settings.conversation_idle_minutes)
    response.set_cookie(CLIENT_COOKIE, client_cookie(client_id), max_age=CLIENT_COOKIE_MAX_AGE, httponly=True,
                        samesite="lax", secure=settings.cookie_secure)
    return SessionOut(customer=customer, conversation=conv,
                      messages=convs.messages_after(db, conv.id, 0, limit=500))


@router.post("/conversations/{conversation_id}/messages", response_model=SendOut)
async def send_message(
    conversation_id: str,
    body: SendIn,
    db: DbDep,
    settings: SettingsDep,
    rasa: RasaDep,
    hx_cid: Annotated[str | None, Cookie()] = None,
) -> SendOut:
    """Store the customer's message, let the bot answer, store and return the answer.

    The message is committed before the bot is asked, so a failing bot never loses it.
    Database work runs in the thread pool in short transactions; the wait for Rasa
    holds no thread, so Rasa's NLG calls back into this service are never starved.
    """
    try:
        text = clean_customer_text(body.text, settings.max_message_chars)
    except InvalidMessage as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    def load():
        customer_id = customer_id_from_cookie(db, hx_cid)
        conv = convs.owned_conversation(db, customer_id, conversation_id, for_update=True)
        if conv is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_YOURS)
        if conv.status != "open" and surveys.asking(db, conv) is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "该会话已结束，请刷新页面开始新的会话")
        # Over the limit: nothing stored; the page keeps the text and may send it again.
        _limited(rate_limits.messages_per_customer(settings), f"customer:{customer_id}", db)
        inbound, seen = turn.receive(db, conv, text, body.client_message_id)
        db.commit()  # end the transaction: no pooled connection may be held while Rasa thinks
        return conv, inbound, seen

    conv, inbound, seen = await run_in_threadpool(load)
    if seen:
        replies = await run_in_threadpool(convs.replies_to, db, inbound.id)
    else:
        replies = await turn.answer(db, rasa, conv, inbound)
    return SendOut(conversation=conv, message=inbound, replies=replies)


def _limited(limit: rate_limits.Limit, who: str, db=None) -> None:
    """Count one event under ``limit``; 429 with Retry-After (nothing written) when over."""
    try:
        rate_limits.take(limit, who)
    except rate_limits.RateLimited as exc:
        if db is not None:
            db.rollback()  # release the conversation's row lock
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.message,
                            headers={"Retry-After": exc.retry_after_header}) from None


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesOut)
def list_messages(
    conversation_id: str,
    db: DbDep,
    after_id: Annotated[DbCount, Query()] = 0,
    hx_cid: Annotated[str | None, Cookie()] = None,
) -> MessagesOut:
    """Messages newer than ``after_id``: the page polls this for later replies."""
    conv = convs.owned_conversation(db, customer_id_from_cookie(db, hx_cid), conversation_id)
    if conv is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_YOURS)
    return MessagesOut(conversation=conv, messages=convs.messages_after(db, conv.id, after_id))


@router.get("/conversations/{conversation_id}/events")
async def conversation_events(
    conversation_id: str,
    request: Request,
    db: DbDep,
    hx_cid: Annotated[str | None, Cookie()] = None,
) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever something new is in this conversation
    (a staff reply, a hand-back), so the page fetches it at once instead of at its next
    poll."""
    def check() -> None:
        if convs.owned_conversation(db, customer_id_from_cookie(db, hx_cid), conversation_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_YOURS)
        db.close()  # a stream may stay open for hours: hold no pooled connection

    await run_in_threadpool(check)
    return StreamingResponse(live.stream(f"conv:{conversation_id}", request.is_disconnected),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
