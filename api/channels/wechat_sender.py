"""Sends what WeChat's passive reply could not carry, through the customer-service
message API: bot answers that missed the 5-second deadline, staff replies, notices.

One sender runs in the service process (started in api/main.py's lifespan). It sends
one message at a time from a single worker, so the access token has exactly one
refresher: wechatpy's client fetches it on first use and again shortly before it
expires, or when WeChat says it is invalid (40001/42001, then the call is retried
once). Several refreshers would invalidate each other's tokens. With more than one
service process, only one may run the sender (``HX_WECHAT_SENDER=false`` elsewhere).
Without an app id and secret there is no API to call: the sender then marks what is
owed failed, with the reason, so staff know.

wechatpy's client is synchronous (requests); it runs in the thread pool. Messages of
one conversation go out in order: a message waiting for a retry holds back the later
ones of its conversation.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import requests
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from api.core.config import Settings
from api.db.base import utcnow
from api.models import Conversation, CustomerIdentity, OutboundDelivery
from api.channels import outbox
from api.services.conversations import flag
from bot.privacy import mask_identifier
from bot.wechat import split_text

log = logging.getLogger(__name__)

# WeChat's answers that retrying cannot change, with what staff are told.
PERMANENT = {
    45015: "顾客超过 48 小时未互动，微信不允许再发送客服消息",
    43004: "顾客已取消关注公众号",
    45047: "本次互动的客服消息条数已达微信上限",
    40003: "顾客的 openid 无效",
    48001: "公众号没有客服消息接口权限",
}
NO_API = "未配置公众号 AppID / AppSecret（HX_WECHAT_APP_ID、HX_WECHAT_APP_SECRET），5 秒后的回复无法发送"
HELD_TOO_LONG = timedelta(seconds=60)  # WeChat gave up long ago: the request that held it is gone
MAX_AGE = timedelta(hours=48)  # WeChat's window for customer-service messages
BATCH = 20


class OfficialAccountClient(WeChatClient):
    """wechatpy's client with a configurable base URL (the real API or a stand-in)."""

    def __init__(self, app_id: str, secret: str, base_url: str, timeout: float = 5.0):
        super().__init__(app_id, secret, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"

    def fetch_access_token(self):
        return self._fetch_access_token(url=f"{self.base_url}/cgi-bin/token",
                                        params={"grant_type": "client_credential", "appid": self.appid,
                                                "secret": self.secret})


def client_from_settings(settings: Settings) -> OfficialAccountClient | None:
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        return None
    return OfficialAccountClient(settings.wechat_app_id, settings.wechat_app_secret.get_secret_value(),
                                 settings.wechat_api_base)


def _openid(db: Session, conversation_id: str) -> str | None:
    conv = db.get(Conversation, conversation_id)
    if conv is None:
        return None
    return db.scalar(select(CustomerIdentity.value).where(
        CustomerIdentity.customer_id == conv.customer_id, CustomerIdentity.kind == "wechat_openid")
        .order_by(CustomerIdentity.last_seen_at.desc()).limit(1))


def _fail(db: Session, delivery: OutboundDelivery, reason: str) -> None:
    delivery.status, delivery.last_error = "failed", reason
    conv = db.get(Conversation, delivery.conversation_id)
    if conv is not None:
        flag(conv, "delivery_failed")


def _retry_later(delivery: OutboundDelivery, reason: str, now: datetime, max_attempts: int) -> bool:
    """Schedule another try (1, 2, 4 … minutes); False when the attempts are used up."""
    if delivery.attempts >= max_attempts:
        return False
    delivery.last_error = reason
    delivery.next_attempt_at = now + timedelta(minutes=2 ** (delivery.attempts - 1))
    return True


class WeChatSender:
    def __init__(self, client: OfficialAccountClient | None, sessions: sessionmaker[Session],
                 max_attempts: int = 5, poll_seconds: float = 30.0):
        self.client, self.sessions = client, sessions
        self.max_attempts, self.poll_seconds = max_attempts, poll_seconds
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                while await run_in_threadpool(self.send_due):
                    pass
            except Exception:  # noqa: BLE001 - a locked database: the rows wait for the next round
                log.exception("WeChat sender round failed")
            try:
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
            self.wake.clear()

    def send_due(self, now: datetime | None = None) -> int:
        """One batch of due deliveries; returns how many were tried."""
        now = now or utcnow()
        with self.sessions() as db:
            # A request that held messages and then died (a restart mid-answer) never
            # released them: after a minute they are the sender's.
            stale = db.scalars(select(OutboundDelivery).where(
                OutboundDelivery.status == "held", OutboundDelivery.created_at < now - HELD_TOO_LONG))
            for delivery in stale:
                delivery.status = "pending"
            db.commit()
            due = list(db.scalars(select(OutboundDelivery).where(OutboundDelivery.status == "pending")
                                  .order_by(OutboundDelivery.id).limit(BATCH * 5)))
            blocked: set[str] = set()
            tried = 0
            for delivery in due:
                if delivery.conversation_id in blocked:
                    continue
                if delivery.next_attempt_at > now:
                    blocked.add(delivery.conversation_id)  # keep the conversation's order
                    continue
                if tried == BATCH:
                    break
                tried += 1
                if not self._send(db, delivery, now):
                    blocked.add(delivery.conversation_id)
                db.commit()
            return tried

    def _send(self, db: Session, delivery: OutboundDelivery, now: datetime) -> bool:
        """Send one; False when it must be retried later."""
        if now - delivery.created_at > MAX_AGE:
            _fail(db, delivery, PERMANENT[45015])
            return True
        if self.client is None:
            _fail(db, delivery, NO_API)
            return True
        openid = _openid(db, delivery.conversation_id)
        if openid is None:
            _fail(db, delivery, "顾客没有微信身份，无法发送")
            return True
        delivery.attempts += 1
        pieces = split_text(delivery.message.text)
        try:
            for piece in pieces:
                self.client.message.send_text(openid, piece)
        except WeChatClientException as exc:
            reason = PERMANENT.get(exc.errcode)
            if reason:
                _fail(db, delivery, reason)
                log.warning("WeChat refused message %s to %s: %s", delivery.message_id,
                            mask_identifier(openid), exc.errcode)
                return True
            return self._again(db, delivery, f"微信接口错误 {exc.errcode}: {exc.errmsg}", now)
        except requests.RequestException as exc:
            return self._again(db, delivery, f"无法连接微信接口（{type(exc).__name__}）", now)
        delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
        return True

    def _again(self, db: Session, delivery: OutboundDelivery, reason: str, now: datetime) -> bool:
        log.warning("WeChat send of message %s failed (attempt %d): %s", delivery.message_id,
                    delivery.attempts, reason)
        if _retry_later(delivery, reason, now, self.max_attempts):
            return False
        _fail(db, delivery, f"多次发送失败：{reason}")
        return True


async def run_sender(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """The lifespan's task: nothing to do when the WeChat channel is off. Without an app
    id and secret nothing can go out after the passive reply: such messages are marked
    failed at once, so staff see it rather than "sending" for ever."""
    if settings.wechat_token is None or not settings.wechat_sender:
        return
    sender = WeChatSender(client_from_settings(settings), sessions, settings.wechat_send_attempts)
    outbox.wake_sender.bind(asyncio.get_running_loop(), sender.wake)
    try:
        await sender.run()
    finally:
        outbox.wake_sender.bind(None, None)
