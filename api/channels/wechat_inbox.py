"""What the service does with a WeChat delivery, and how its answer gets out in time.

WeChat waits 5 seconds for the callback's answer, then sends the same delivery again,
up to three more times. So:

- Each delivery is processed once (``_Job``): a retry that arrives while it is being
  answered waits for the same job; one that arrives later finds its receipt
  (``InboundReceipt``, unique per MsgId or event) and is not stored or answered again.
- The answer goes out in the HTTP reply when it is ready before the deadline
  (``mark_passive``). Otherwise the request answers ``success`` and the answer goes
  through the customer-service API (``release``); a retry that is waiting when the
  answer comes takes it passively instead. Exactly one of the two happens (``settled``).
- A retry of a delivery whose passive answer was already given gets the same answer
  again: WeChat only retries when the earlier reply did not reach it.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import Settings
from api.db.base import utcnow
from api.models import Conversation, ConversationEvent, Customer, InboundReceipt, Message, OutboundDelivery
from api.channels import outbox
from api.services import conversations as convs
from api.services import surveys, turn
from api.services.identity import identify_wechat_customer
from api.services.responses import ResponseCatalog, render_response
from api.services.variants import VariantStore
from bot.privacy import mask_identifier
from bot.rasa_client import RasaClient
from bot.wechat import MAX_REPLY_BYTES, Inbound

log = logging.getLogger(__name__)

CHANNEL = "wechat"
# What staff see for messages the bot cannot read, and what the customer is told.
MEDIA_LABELS = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "shortvideo": "[小视频]",
                "location": "[位置]", "link": "[链接]", "file": "[文件]"}
TEXT_ONLY_TEXT = "抱歉，我目前只能看懂文字消息，请用文字描述您的问题～需要人工客服可以回复「转人工」。"


@dataclass
class Answer:
    held: list[Message] = field(default_factory=list)  # stored now, waiting to go out
    replay: str | None = None  # a retry of an answer given passively before


@dataclass
class _Turn:
    conv: Conversation
    inbound: Message


class _Job:
    def __init__(self) -> None:
        self.future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting = 0
        self.settled = False


def passive_text(replies: list[Message]) -> tuple[str | None, list[Message]]:
    """The replies that fit one passive reply, joined, and the rest for the API."""
    taken: list[str] = []
    for i, reply in enumerate(replies):
        joined = "\n\n".join([*taken, reply.text])
        if len(joined.encode()) > MAX_REPLY_BYTES:
            return ("\n\n".join(taken) or None), replies[i:]
        taken.append(reply.text)
    return ("\n\n".join(taken) or None), []


def wechat_conversation(db: Session, customer: Customer, idle_minutes: int) -> Conversation:
    """The conversation a new message belongs to: the open one, or the closed one whose
    survey is waiting for an answer (after staff resolved it), else a new one."""
    latest = db.scalar(select(Conversation).where(Conversation.customer_id == customer.id,
                                                  Conversation.channel == CHANNEL)
                       .order_by(Conversation.last_activity_at.desc()).limit(1))
    if (latest is not None and latest.status == "closed" and surveys.asking(db, latest) is not None
            and utcnow() - latest.last_activity_at <= timedelta(minutes=idle_minutes)):
        return latest
    return convs.current_conversation(db, customer, CHANNEL, idle_minutes)


class WeChatInbox:
    def __init__(self, sessions: sessionmaker[Session], catalog: ResponseCatalog, variants: VariantStore,
                 settings: Settings):
        self.sessions, self.catalog, self.variants = sessions, catalog, variants
        self.settings = settings
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task] = set()

    async def answer(self, message: Inbound, rasa: RasaClient, timeout: float) -> str | None:
        """The passive reply's text, or None for ``success``. Raises when the delivery
        could not be stored (the route answers 503 and WeChat delivers it again)."""
        job = self._jobs.get(message.dedup_key)
        if job is None:  # no await since the lookup: one job per delivery in this process
            job = self._jobs[message.dedup_key] = _Job()
            task = asyncio.create_task(self._run(message, rasa, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        job.waiting += 1
        try:
            answer = await asyncio.wait_for(asyncio.shield(job.future), max(timeout, 0))
        except TimeoutError:
            answer = None
        finally:
            job.waiting -= 1
        if answer is None:
            if job.future.done():  # finished just as this request gave up
                await self._settle(job, job.future.result(), passive=False)  # raises its failure
            return None
        if answer.replay is not None:
            return answer.replay
        return await self._settle(job, answer, passive=True)

    async def _run(self, message: Inbound, rasa: RasaClient, job: _Job) -> None:
        try:
            answer = await self._process(message, rasa)
        except Exception as exc:  # noqa: BLE001 - told to the waiting request: WeChat retries
            log.exception("WeChat delivery from %s not stored", mask_identifier(message.openid))
            self._jobs.pop(message.dedup_key, None)
            job.future.set_exception(exc)
            if not job.waiting:
                job.future.exception()  # retrieved: nobody else will ask for it
            return
        job.future.set_result(answer)
        if not job.waiting:  # nobody is waiting for it: the request gave up
            await self._settle(job, answer, passive=False)
        self._jobs.pop(message.dedup_key, None)

    async def _settle(self, job: _Job, answer: Answer, passive: bool) -> str | None:
        """Decide, once, how the held replies go out."""
        if job.settled or not answer.held:
            job.settled = True
            return None
        job.settled = True
        text, rest = passive_text(answer.held) if passive else (None, answer.held)
        taken = [m.id for m in answer.held if m not in rest]
        try:  # the rest first: if marking then fails, everything is still held
            if rest:
                await run_in_threadpool(self._update, outbox.release, [m.id for m in rest])
            if taken:
                await run_in_threadpool(self._update, outbox.mark_passive, taken)
        except Exception:  # noqa: BLE001 - the sender picks up held messages after a minute
            log.exception("could not record how a WeChat answer went out")
            return None
        return text

    def _update(self, fn, message_ids: list[int]) -> None:
        with self.sessions() as db:
            fn(db, message_ids)

    async def _process(self, message: Inbound, rasa: RasaClient) -> Answer:
        db = self.sessions()
        outbox.hold(db)  # everything this delivery causes waits for the passive reply
        try:
            step = await run_in_threadpool(self._receive, db, message)
            if not isinstance(step, _Turn):
                return step
            return Answer(held=await turn.answer(db, rasa, step.conv, step.inbound))
        finally:
            db.close()

    def _receive(self, db: Session, message: Inbound) -> Answer | _Turn:
        """Store the delivery; a _Turn when the bot (or the survey) is to answer it."""
        earlier = db.scalar(select(InboundReceipt).where(InboundReceipt.channel == CHANNEL,
                                                         InboundReceipt.dedup_key == message.dedup_key))
        if earlier is not None:
            return self._repeat(db, earlier)
        customer = identify_wechat_customer(db, message.openid)
        receipt = InboundReceipt(channel=CHANNEL, dedup_key=message.dedup_key, customer_id=customer.id,
                                 kind=message.event if message.kind == "event" else message.kind)
        if message.event == "subscribe":
            return self._subscribed(db, customer, receipt)
        if message.event == "unsubscribe":
            return self._unsubscribed(db, customer, receipt)
        if message.kind == "event":  # menu clicks, scans, location reports: recorded only
            self._record(db, receipt)
            return Answer()
        conv = wechat_conversation(db, customer, self.settings.conversation_idle_minutes)
        text = (message.text or "").strip()[: self.settings.max_message_chars]
        readable = bool(text)
        inbound, seen = turn.receive(db, conv, text or MEDIA_LABELS.get(message.kind, "[消息]"), None, receipt)
        if seen:
            return self._repeat(db, db.scalar(select(InboundReceipt).where(
                InboundReceipt.channel == CHANNEL, InboundReceipt.dedup_key == message.dedup_key)))
        if not readable:
            if conv.handler != "bot":
                return Answer()  # a person has the conversation and sees the label
            notice = Message(conversation_id=conv.id, direction="outbound", author="bot", text=TEXT_ONLY_TEXT,
                             reply_to_id=inbound.id, created_at=utcnow())
            db.add(notice)
            db.commit()
            return Answer(held=[notice])
        db.commit()  # no transaction stays open while Rasa thinks
        return _Turn(conv, inbound)

    def _repeat(self, db: Session, earlier: InboundReceipt | None) -> Answer:
        """A delivery seen before: its passive answer again, if that is how it went out."""
        if earlier is None or earlier.message_id is None:
            return Answer()
        rows = db.execute(select(Message.text, OutboundDelivery.status)
                          .join(OutboundDelivery, OutboundDelivery.message_id == Message.id)
                          .where(Message.reply_to_id == earlier.message_id).order_by(Message.id)).all()
        passive = [text for text, status in rows if status == "passive"]
        return Answer(replay="\n\n".join(passive)) if passive else Answer()

    def _record(self, db: Session, receipt: InboundReceipt, conv: Conversation | None = None) -> bool:
        """Commit the receipt with what the event did; False when another process had
        recorded the same delivery first (then nothing of this one is kept)."""
        receipt.conversation_id = conv.id if conv else None
        db.add(receipt)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return False
        return True

    def _subscribed(self, db: Session, customer: Customer, receipt: InboundReceipt) -> Answer:
        """A new (or returning) follower: greet them as the bot greets their stage."""
        conv = convs.current_conversation(db, customer, CHANNEL, self.settings.conversation_idle_minutes)
        reply = render_response(self.catalog, self.variants, "utter_greet", turn.customer_context(db, customer),
                                CHANNEL)
        greeting = Message(conversation_id=conv.id, direction="outbound", author="bot", text=reply.text,
                           template=reply.template, variant_id=reply.variant_id, created_at=utcnow())
        db.add_all([greeting, ConversationEvent(conversation_id=conv.id, kind="subscribed", at=utcnow())])
        return Answer(held=[greeting] if self._record(db, receipt, conv) else [])

    def _unsubscribed(self, db: Session, customer: Customer, receipt: InboundReceipt) -> Answer:
        """Recorded; an open conversation ends, as nothing can reach the customer now."""
        conv = db.scalar(select(Conversation).where(Conversation.customer_id == customer.id,
                                                    Conversation.channel == CHANNEL, Conversation.status == "open")
                         .order_by(Conversation.last_activity_at.desc()).limit(1))
        if conv is not None:
            now = utcnow()
            db.add(ConversationEvent(conversation_id=conv.id, kind="unsubscribed", at=now))
            conv.status, conv.closed_at = "closed", now
            if conv.handler == "waiting":
                conv.handler = "bot"  # out of the queue: nobody to answer any more
        self._record(db, receipt, conv)
        return Answer()
