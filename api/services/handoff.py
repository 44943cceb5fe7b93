"""Human handoff: who answers a conversation, and every change of it recorded.

    bot ──escalate──▶ waiting ──claim──▶ staff ──hand back──▶ bot
                                          └────resolve──────▶ bot, conversation closed

Claims and hand-backs are conditional updates (``… WHERE handler = 'waiting'``), so of
two agents claiming at once exactly one wins, on SQLite and PostgreSQL alike. While a
person owns the conversation the bot is not asked; a customer message that arrives
while the conversation is handed back is answered by the bot (see ``unanswered_since``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.core.config import get_settings
from api.db.base import utcnow
from api.models import Conversation, ConversationEvent, Customer, Message, StaffRoute, StaffUser
from api.services import rate_limits, surveys
from api.services.auth import Principal

log = logging.getLogger(__name__)

# A dedicated staff member has this long to take an escalation before anyone may.
PREFERRED_GRACE = timedelta(seconds=90)

WAITING_TEXT = "正在为您转接人工客服，您前面还有 {ahead} 位顾客在等待，请稍候～"
WAITING_NEXT_TEXT = "正在为您转接人工客服，您是下一位，请稍候～"
CLAIMED_TEXT = "人工客服「{name}」已接入，接下来由我为您服务。"
HANDED_BACK_TEXT = "人工客服已离开，接下来由智能客服继续为您服务，有需要可以随时再找人工～"
RESOLVED_TEXT = "本次服务已结束，感谢您的耐心！如还有问题，直接发消息就可以。"
STAFF_BUSY_TEXT = "人工客服当前繁忙，暂时无法为您转接，请稍后再试；您也可以继续向智能客服提问～"


class HandoffConflict(Exception):
    """The conversation is not in the state the action needs; the message says why."""


def _event(db: Session, conv: Conversation, kind: str, now: datetime, staff_id: int | None = None,
           text: str | None = None, **detail) -> ConversationEvent:
    event = ConversationEvent(conversation_id=conv.id, kind=kind, staff_id=staff_id, text=text,
                              detail=detail, at=now)
    db.add(event)
    return event


def system_message(db: Session, conv: Conversation, text: str, now: datetime,
                   reply_to_id: int | None = None) -> Message:
    """A notice to the customer from the service itself (not the bot, not a person)."""
    msg = Message(conversation_id=conv.id, direction="outbound", author="system", text=text,
                  reply_to_id=reply_to_id, created_at=now)
    db.add(msg)
    conv.last_activity_at = now
    return msg


def waiting_ahead(db: Session, conv: Conversation) -> int:
    """How many waiting conversations were escalated before this one."""
    if conv.handler != "waiting" or conv.escalated_at is None:
        return 0
    return db.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.handler == "waiting", Conversation.escalated_at < conv.escalated_at)) or 0


def preferred_staff(db: Session, customer: Customer) -> int | None:
    """The dedicated staff member for this kind of customer: a route naming both the
    stage and the persona wins over one naming only one of them."""
    best, best_score = None, 0
    for route in db.scalars(select(StaffRoute).join(StaffUser, StaffUser.id == StaffRoute.staff_id)
                            .where(StaffUser.active.is_(True))):
        if route.stage not in (None, customer.stage) or route.persona not in (None, customer.persona):
            continue
        score = (route.stage is not None) + (route.persona is not None)
        if score > best_score:
            best, best_score = route.staff_id, score
    return best


def escalate(db: Session, conv: Conversation, reason: str, reply_to_id: int | None = None,
             now: datetime | None = None) -> Message | None:
    """Put a bot conversation in the queue and tell the customer where they are in it.
    Does nothing (None) when a person already has it or it is already waiting. When the
    customer's address has entered the queue too often (HX_RATE_ESCALATIONS_PER_ADDRESS),
    the conversation stays with the bot and the customer is told staff are busy. Not
    committed."""
    if conv.handler != "bot":
        return None
    now = now or utcnow()
    if reason != "staff_takeover" and not _may_enter_queue(db.get(Customer, conv.customer_id), now):
        log.warning("queue entry refused by the rate limit: conversation %s (%s)", conv.id, reason)
        _event(db, conv, "queue_limited", now, reason=reason)
        return system_message(db, conv, STAFF_BUSY_TEXT, now, reply_to_id)
    conv.handler, conv.escalated_at, conv.claimed_at, conv.assigned_staff_id = "waiting", now, None, None
    conv.needs_attention, conv.attention_reason = True, reason
    conv.preferred_staff_id = preferred_staff(db, db.get(Customer, conv.customer_id))
    _event(db, conv, "escalated", now, reason=reason)
    db.flush()
    ahead = waiting_ahead(db, conv)
    return system_message(db, conv, WAITING_TEXT.format(ahead=ahead) if ahead else WAITING_NEXT_TEXT, now,
                           reply_to_id)


def _may_enter_queue(customer: Customer | None, now: datetime) -> bool:
    """Counts one queue entry of the customer's address (WeChat customers, who have none:
    of the customer); False when over the limit (nothing counted)."""
    who = rate_limits.address_key(customer.last_ip if customer else None, customer.id if customer else None)
    try:
        rate_limits.take(rate_limits.escalations_per_address(get_settings()), who, now)
    except rate_limits.RateLimited:
        return False
    return True


def claim(db: Session, conv: Conversation, staff: Principal, now: datetime | None = None) -> Message:
    """Take a waiting conversation. Commits; HandoffConflict when someone was faster or
    the conversation is reserved for its dedicated staff member a little longer."""
    now = now or utcnow()
    if staff.id is None:
        raise HandoffConflict("请用员工账号登录后再接入会话")
    reserved = (conv.preferred_staff_id is not None and conv.preferred_staff_id != staff.id
                and not staff.is_admin and conv.escalated_at is not None
                and now - conv.escalated_at < PREFERRED_GRACE)
    if reserved:
        raise HandoffConflict("该会话优先分配给专属客服，请稍后再试")
    won = db.execute(update(Conversation)
                     .where(Conversation.id == conv.id, Conversation.handler == "waiting",
                            Conversation.status == "open")
                     .values(handler="staff", assigned_staff_id=staff.id, claimed_at=now, last_activity_at=now)
                     ).rowcount
    if not won:
        db.rollback()
        db.refresh(conv)
        raise HandoffConflict(_why_not_waiting(db, conv))
    db.refresh(conv)
    _event(db, conv, "claimed", now, staff.id, waited_seconds=int((now - conv.escalated_at).total_seconds())
           if conv.escalated_at else None)
    msg = system_message(db, conv, CLAIMED_TEXT.format(name=staff.display_name), now)
    db.commit()
    return msg


def take_over(db: Session, conv: Conversation, staff: Principal, now: datetime | None = None) -> Message:
    """A staff member steps into a conversation the bot is having (e.g. seen on the
    dashboard): escalate and claim in one go."""
    if staff.id is None:
        raise HandoffConflict("请用员工账号登录后再接入会话")
    if conv.handler == "bot":
        escalate(db, conv, "staff_takeover", now=now)
        db.commit()
    return claim(db, conv, staff, now)


def _why_not_waiting(db: Session, conv: Conversation) -> str:
    if conv.status != "open":
        return "该会话已结束"
    if conv.handler == "staff":
        owner = db.get(StaffUser, conv.assigned_staff_id) if conv.assigned_staff_id else None
        return f"该会话已由「{owner.display_name if owner else '其他客服'}」接入"
    return "该会话已回到智能客服，无需接入"


def _require_owner(conv: Conversation, staff: Principal) -> None:
    if conv.handler != "staff" or conv.status != "open":
        raise HandoffConflict("该会话当前不由人工客服接待")
    if conv.assigned_staff_id != staff.id:
        raise HandoffConflict("该会话由其他客服接待，您不能在此回复")


def staff_reply(db: Session, conv: Conversation, staff: Principal, text: str,
                now: datetime | None = None) -> Message:
    """A staff member's answer to the customer. Commits."""
    _require_owner(conv, staff)
    now = now or utcnow()
    msg = Message(conversation_id=conv.id, direction="outbound", author="staff", text=text,
                  staff_id=staff.id, created_at=now)
    db.add(msg)
    db.flush()
    _event(db, conv, "staff_reply", now, staff.id, message_id=msg.id)
    conv.last_activity_at = now
    db.commit()
    return msg


def add_note(db: Session, conv: Conversation, staff: Principal, text: str,
             now: datetime | None = None) -> ConversationEvent:
    """An internal note: staff see it, the customer never does. Commits."""
    event = _event(db, conv, "note", now or utcnow(), staff.id, text=text)
    db.commit()
    return event


def _release(db: Session, conv: Conversation, staff: Principal, kind: str, now: datetime) -> None:
    values = {"handler": "bot", "assigned_staff_id": None, "needs_attention": False, "last_activity_at": now}
    if kind == "resolved":
        values.update(status="closed", closed_at=now)
    query = update(Conversation).where(Conversation.id == conv.id, Conversation.handler == "staff",
                                       Conversation.status == "open")
    if not staff.is_admin:
        query = query.where(Conversation.assigned_staff_id == staff.id)
    if not db.execute(query.values(**values)).rowcount:
        db.rollback()
        db.refresh(conv)
        raise HandoffConflict("该会话当前不由您接待")
    db.refresh(conv)
    _event(db, conv, kind, now, staff.id)


def hand_back(db: Session, conv: Conversation, staff: Principal, now: datetime | None = None) -> Message:
    """Return the conversation to the bot, which keeps its context (Rasa's tracker for
    this conversation is untouched). Commits."""
    now = now or utcnow()
    _release(db, conv, staff, "handed_back", now)
    msg = system_message(db, conv, HANDED_BACK_TEXT, now)
    db.commit()
    return msg


def resolve(db: Session, conv: Conversation, staff: Principal, now: datetime | None = None) -> Message:
    """The staff member solved it: the conversation closes and the customer is asked the
    satisfaction survey (answers are taken in the closed conversation). Commits."""
    now = now or utcnow()
    _release(db, conv, staff, "resolved", now)
    msg = system_message(db, conv, RESOLVED_TEXT, now)
    surveys.start(db, conv, "resolved", now)
    db.commit()
    return msg


def unanswered_since_handback(db: Session, conv: Conversation) -> Message | None:
    """The newest customer message with nothing after it but the hand-back notice: it
    arrived while the conversation was being handed back, so the bot should answer it."""
    last = db.scalars(select(Message).where(Message.conversation_id == conv.id)
                      .order_by(Message.id.desc()).limit(3)).all()
    for msg in last:
        if msg.author == "customer":
            return msg
        if msg.author != "system" or msg.text != HANDED_BACK_TEXT:
            return None
    return None
