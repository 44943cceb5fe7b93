"""The WeChat Official Account callback: the URL registered in WeChat's console.

GET is WeChat's check of the URL (answer ``echostr`` when the signature is ours); POST
brings a customer's message or event. The protocol (signatures, AES, XML) is in
bot/wechat.py and what happens to a delivery in api/channels/wechat_inbox.py; this
module is the HTTP. Anything not from WeChat — a wrong or old signature, a body that is
not WeChat's XML, a plain body when safe mode is on — gets a 4xx and nothing is stored.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse, Response

from api.core.config import Settings
from api.deps import RasaDep
from api.channels.wechat_inbox import WeChatInbox
from bot.wechat import (
    MAX_BODY_BYTES,
    MalformedMessage,
    SafeMode,
    WeChatRequestError,
    parse_xml,
    read_message,
    text_reply,
    verify_signature,
)

router = APIRouter(prefix="/wechat", tags=["wechat"])


@dataclass
class WeChatChannel:
    """The callback's configuration, checked once at start-up."""

    token: str
    safe_mode: SafeMode | None
    reply_deadline: float
    max_skew: float
    inbox: WeChatInbox
    wechat_timeout: float = 5.0  # how long WeChat waits for an answer before it retries

    @classmethod
    def from_settings(cls, settings: Settings, inbox: WeChatInbox) -> WeChatChannel | None:
        if settings.wechat_token is None:
            return None
        token = settings.wechat_token.get_secret_value()
        safe = None
        if settings.wechat_aes_key is not None:
            if not settings.wechat_app_id:
                raise ValueError("HX_WECHAT_AES_KEY needs HX_WECHAT_APP_ID (safe mode checks the app id)")
            safe = SafeMode(token, settings.wechat_aes_key.get_secret_value(), settings.wechat_app_id)
        return cls(token, safe, settings.wechat_reply_deadline_seconds, settings.wechat_max_clock_skew_seconds,
                   inbox)


async def wechat_channel(request: Request) -> WeChatChannel:
    channel = getattr(request.app.state, "wechat", None)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the WeChat channel is not configured (HX_WECHAT_TOKEN)")
    return channel


ChannelDep = Annotated[WeChatChannel, Depends(wechat_channel)]
Signed = Annotated[str | None, Query(max_length=128)]


def _refuse(exc: WeChatRequestError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it exceeds what a WeChat message can be."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


@router.get("/callback", response_class=PlainTextResponse)
async def verify_url(channel: ChannelDep, signature: Signed = None, timestamp: Signed = None,
                     nonce: Signed = None, echostr: Annotated[str | None, Query(max_length=256)] = None) -> str:
    """WeChat's check when the URL is saved in its console: echo ``echostr`` back."""
    try:
        verify_signature(channel.token, signature, timestamp, nonce, max_skew=channel.max_skew)
    except WeChatRequestError as exc:
        raise _refuse(exc) from None
    if not echostr:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "echostr missing")
    return echostr


@router.post("/callback")
async def receive(request: Request, channel: ChannelDep, rasa: RasaDep, signature: Signed = None, timestamp: Signed = None,
                  nonce: Signed = None, encrypt_type: Signed = None, msg_signature: Signed = None) -> Response:
    """A customer's message or event. Answered in this response when the answer is
    ready within the deadline, else ``success`` now and the answer through WeChat's
    customer-service API."""
    started = time.monotonic()
    try:
        verify_signature(channel.token, signature, timestamp, nonce, max_skew=channel.max_skew)
        body = await _body(request)
        fields = parse_xml(body)
        if channel.safe_mode is not None:
            if encrypt_type != "aes":
                raise MalformedMessage("safe mode is on: only encrypted (encrypt_type=aes) messages are accepted")
            fields = parse_xml(channel.safe_mode.decrypt(fields, msg_signature, timestamp, nonce))
        elif encrypt_type not in (None, "raw"):
            raise MalformedMessage("encrypted message, but no EncodingAESKey is configured (HX_WECHAT_AES_KEY)")
        message = read_message(fields)
    except WeChatRequestError as exc:
        raise _refuse(exc) from None
    remaining = channel.reply_deadline - (time.monotonic() - started)
    try:
        text = await channel.inbox.answer(message, rasa, remaining)
    except Exception:  # noqa: BLE001 - not stored (database locked past its busy timeout)
        # WeChat delivers again only when it got no answer in time (an error status shows
        # the customer "service unavailable"), so let its wait run out: its retry may
        # find the database free, and the message is not lost.
        await asyncio.sleep(max(0.0, channel.wechat_timeout + 0.5 - (time.monotonic() - started)))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "message not stored, deliver again") from None
    if not text:
        return PlainTextResponse("success")
    reply = text_reply(message, text)
    if channel.safe_mode is not None:
        reply = channel.safe_mode.encrypt(reply, nonce, timestamp)
    return Response(reply, media_type="application/xml")
