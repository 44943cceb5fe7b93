"""The staff workspace: the queue of escalated chats, claiming, replying, notes,
handing back and resolving. Agents act only on waiting conversations and their own;
admins see and may release every conversation. What an agent may read is the one rule of
api/services/access.py, here as on every other staff route."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.schemas.types import DbId, DbCount
from api.schemas.errors import errors
from api.deps import AdminDep, DbDep, RasaDep, StaffDep
from api.models import (
    CannedReply,
    Conversation,
    ConversationEvent,
    Customer,
    CustomerIdentity,
    FollowUpTask,
    InboundReceipt,
    Message,
    Order,
    OutboundDelivery,
    StaffRoute,
    StaffUser,
    Survey,
)
from api.models.customer import PERSONAS, STAGE_LABELS, STAGES
from api.models.order import ORDER_STATUS_LABELS
from api.routes.follow_ups import follow_up_out
from api.schemas.surveys import SurveyOut
from api.schemas.workspace import (
    CannedIn,
    CannedOut,
    CustomerProfile,
    NoteIn,
    ProfileConversation,
    ProfileOrder,
    QueueItem,
    QueueOut,
    ReplyIn,
    StaffRouteIn,
    StaffRouteOut,
    WorkspaceConversation,
    WorkspaceEvent,
    WorkspaceMessage,
)
from api.services import access, handoff, live, turn
from api.services.auth import Principal
from bot.privacy import mask_identifier, mask_text
from bot.text import InvalidMessage, clean_customer_text

router = APIRouter(prefix="/api/staff", tags=["staff workspace"])


def _last_texts(db: Session, conv_ids: list[str]) -> dict[str, str]:
    if not conv_ids:
        return {}
    newest = (select(Message.conversation_id, func.max(Message.id).label("id"))
              .where(Message.conversation_id.in_(conv_ids)).group_by(Message.conversation_id).subquery())
    rows = db.execute(select(Message.conversation_id, Message.text).join(newest, Message.id == newest.c.id))
    return {cid: mask_text(text)[:80] for cid, text in rows}


def _items(db: Session, convs: list[Conversation], now: datetime) -> list[QueueItem]:
    customers = {c.id: c for c in db.scalars(select(Customer).where(
        Customer.id.in_({c.customer_id for c in convs})))} if convs else {}
    last = _last_texts(db, [c.id for c in convs])
    if len(convs) == 1:  # one conversation: its place in the whole queue
        position = {convs[0].id: handoff.waiting_ahead(db, convs[0]) + 1} if convs[0].handler == "waiting" else {}
    else:  # the whole queue
        waiting = sorted((c for c in convs if c.handler == "waiting"), key=lambda c: c.escalated_at or now)
        position = {c.id: n for n, c in enumerate(waiting, 1)}
    names = _staff_names(db, {c.assigned_staff_id for c in convs})
    return [QueueItem(
        conversation_id=c.id, customer_id=c.customer_id, customer_name=customers[c.customer_id].display_name,
        stage=customers[c.customer_id].stage, persona=customers[c.customer_id].persona, channel=c.channel,
        handler=c.handler, status=c.status, stage_label=STAGE_LABELS.get(customers[c.customer_id].stage, ""),
        assigned_staff_name=names.get(c.assigned_staff_id), reason=c.attention_reason, escalated_at=c.escalated_at, claimed_at=c.claimed_at,
        waiting_seconds=int((now - c.escalated_at).total_seconds()) if c.escalated_at and c.handler == "waiting"
        else None, position=position.get(c.id), assigned_staff_id=c.assigned_staff_id,
        preferred_staff_id=c.preferred_staff_id, last_message=last.get(c.id)) for c in convs]


@router.get("/events")
async def events(request: Request, staff: StaffDep, db: DbDep) -> StreamingResponse:
    """Server-sent events: ``changed`` with a conversation id whenever any conversation
    changes; the workspace then refreshes the queue and, if it is open, that
    conversation. Ids only: what staff may read is still decided by the endpoints."""
    await run_in_threadpool(db.close)  # the login check's connection; streams stay open for hours
    return StreamingResponse(live.stream(live.ALL, request.is_disconnected), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/queue", response_model=QueueOut)
def queue(db: DbDep, staff: StaffDep) -> QueueOut:
    """Waiting conversations, oldest first (an agent's reserved ones first), and the
    ones this staff member has; admins also see the ones others have."""
    now = utcnow()
    open_ = Conversation.status == "open"
    waiting = list(db.scalars(select(Conversation).where(open_, Conversation.handler == "waiting")
                              .order_by(Conversation.escalated_at)))
    taken = list(db.scalars(select(Conversation).where(open_, Conversation.handler == "staff")
                            .order_by(Conversation.claimed_at)))
    waiting_items = _items(db, waiting, now)
    waiting_items.sort(key=lambda i: (i.preferred_staff_id != staff.id, i.position or 0))
    taken_items = _items(db, taken, now)
    return QueueOut(waiting=waiting_items,
                    mine=[i for i in taken_items if i.assigned_staff_id == staff.id],
                    others=[i for i in taken_items if i.assigned_staff_id != staff.id] if staff.is_admin else [])


def _conversation(db: Session, conversation_id: str, staff: Principal) -> Conversation:
    conv = db.get(Conversation, conversation_id)
    if conv is None or not access.may_read(db, conv, staff):
        # Not "forbidden": an agent learns nothing about conversations that are not theirs.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "会话不存在，或不在您的接待范围内")
    return conv


def _staff_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids))).all())


def _unfollowed(db: Session, customer: Customer) -> bool:
    """The customer's last WeChat (un)follow was an unfollow: nothing sent reaches them."""
    last = db.scalar(select(InboundReceipt.kind).where(
        InboundReceipt.customer_id == customer.id, InboundReceipt.kind.in_(("subscribe", "unsubscribe")))
        .order_by(InboundReceipt.id.desc()).limit(1))
    return last == "unsubscribe"


def _profile(db: Session, customer: Customer, current: str, staff: Principal) -> CustomerProfile:
    """The customer beside the conversation. Their other conversations, surveys and
    follow-ups are listed only where the staff member may read the conversation."""
    reveal = staff.is_admin
    identities = list(db.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)))
    orders = list(db.scalars(select(Order).where(Order.customer_id == customer.id)
                             .order_by(Order.placed_at.desc()).limit(5)))
    total = db.scalar(select(func.count(Order.id)).where(Order.customer_id == customer.id)) or 0
    counts = (select(Message.conversation_id, func.count(Message.id).label("n"))
              .join(Conversation, Conversation.id == Message.conversation_id)
              .where(Conversation.customer_id == customer.id)
              .group_by(Message.conversation_id).subquery())
    past = db.execute(select(Conversation, counts.c.n).outerjoin(counts, counts.c.conversation_id == Conversation.id)
                      .where(Conversation.customer_id == customer.id, Conversation.id != current,
                             access.readable(staff))
                      .order_by(Conversation.last_activity_at.desc()).limit(5)).all()
    kinds = {i.kind for i in identities}
    tags = [STAGE_LABELS.get(customer.stage, customer.stage)]
    tags += ["会员"] if "user_id" in kinds else []
    tags += ["已留手机号"] if "phone" in kinds else []
    if "wechat_openid" in kinds:
        tags.append("微信已取消关注" if _unfollowed(db, customer) else "微信")
    return CustomerProfile(
        id=customer.id, display_name=customer.display_name, stage=customer.stage,
        stage_label=STAGE_LABELS.get(customer.stage, customer.stage), persona=customer.persona,
        points=customer.points, tags=tags,
        # Admins may call a customer back: they see phone numbers and member ids whole.
        identities=[f"{i.kind}:{i.value if reveal else mask_identifier(i.value)}"
                    for i in identities if i.kind != "web_client"],
        orders=[ProfileOrder(order_no=o.order_no, status=o.status, status_label=ORDER_STATUS_LABELS.get(o.status, o.status),
                             amount=o.amount, placed_at=o.placed_at)
                for o in orders], orders_total=total,
        past_conversations=[ProfileConversation(id=c.id, channel=c.channel, status=c.status,
                                                started_at=c.started_at, last_activity_at=c.last_activity_at,
                                                messages=n or 0) for c, n in past],
        tag_families=customer.tags or {},
        surveys=[_survey_out(s) for s in db.scalars(
            select(Survey).join(Conversation, Conversation.id == Survey.conversation_id)
            .where(Survey.customer_id == customer.id, access.readable(staff))
            .order_by(Survey.id.desc()).limit(3))],
        follow_ups=[follow_up_out(t, customer) for t in db.scalars(
            select(FollowUpTask).outerjoin(Conversation, Conversation.id == FollowUpTask.conversation_id)
            .where(FollowUpTask.customer_id == customer.id, FollowUpTask.status == "open",
                   or_(FollowUpTask.conversation_id.is_(None), access.readable(staff)))
            .order_by(FollowUpTask.id))])


def _survey_out(survey: Survey) -> SurveyOut:
    out = SurveyOut.model_validate(survey)
    out.comment = mask_text(survey.comment) if survey.comment else None
    return out


@router.get("/conversations/{conversation_id}", response_model=WorkspaceConversation)
def conversation(conversation_id: str, db: DbDep, staff: StaffDep,
                 after_id: Annotated[DbCount, Query()] = 0) -> WorkspaceConversation:
    """One conversation as the workspace shows it. ``after_id`` returns only newer
    messages, for polling."""
    conv = _conversation(db, conversation_id, staff)
    messages = list(db.scalars(select(Message).where(Message.conversation_id == conv.id, Message.id > after_id)
                               .order_by(Message.id).limit(500)))
    events = list(db.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conv.id)
                             .order_by(ConversationEvent.id)))
    names = _staff_names(db, {m.staff_id for m in messages} | {e.staff_id for e in events})
    deliveries = {d.message_id: d for d in db.scalars(select(OutboundDelivery).where(
        OutboundDelivery.conversation_id == conv.id, OutboundDelivery.message_id > after_id))}
    return WorkspaceConversation(
        conversation=_items(db, [conv], utcnow())[0],
        messages=[WorkspaceMessage(id=m.id, author=m.author, text=mask_text(m.text), staff_name=names.get(m.staff_id),
                                   template=m.template, intent=m.intent, created_at=m.created_at,
                                   delivery=deliveries[m.id].status if m.id in deliveries else None,
                                   delivery_error=deliveries[m.id].last_error if m.id in deliveries else None)
                  for m in messages],
        events=[WorkspaceEvent(id=e.id, kind=e.kind, staff_name=names.get(e.staff_id),
                               text=mask_text(e.text) if e.text else None, detail=e.detail or {}, at=e.at)
                for e in events],
        customer=_profile(db, db.get(Customer, conv.customer_id), conv.id, staff))


def _act(fn, db: Session, conv: Conversation, staff: Principal, *args) -> WorkspaceMessage:
    try:
        msg = fn(db, conv, staff, *args)
    except handoff.HandoffConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return WorkspaceMessage(id=msg.id, author=msg.author, text=mask_text(msg.text), staff_name=staff.display_name
                            if msg.author == "staff" else None, template=None, intent=None, created_at=msg.created_at)


@router.post("/conversations/{conversation_id}/claim", response_model=WorkspaceMessage, responses=errors(409))
def claim(conversation_id: str, db: DbDep, staff: StaffDep) -> WorkspaceMessage:
    """Take a waiting conversation; 409 with the reason when someone else was faster
    (who has it is all a late agent learns about it)."""
    conv = db.get(Conversation, conversation_id)
    if conv is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "会话不存在，或不在您的接待范围内")
    return _act(handoff.claim, db, conv, staff)


@router.post("/conversations/{conversation_id}/take-over", response_model=WorkspaceMessage,
            responses=errors(409))
def take_over(conversation_id: str, db: DbDep, admin: AdminDep) -> WorkspaceMessage:
    """Admins may step into a conversation the bot is having."""
    return _act(handoff.take_over, db, _conversation(db, conversation_id, admin), admin)


@router.post("/conversations/{conversation_id}/messages", response_model=WorkspaceMessage,
             status_code=status.HTTP_201_CREATED, responses=errors(409))
def reply(conversation_id: str, body: ReplyIn, db: DbDep, staff: StaffDep) -> WorkspaceMessage:
    try:
        text = clean_customer_text(body.text, 2000)
    except InvalidMessage as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _act(handoff.staff_reply, db, _conversation(db, conversation_id, staff), staff, text)


@router.post("/conversations/{conversation_id}/notes", response_model=WorkspaceEvent,
             status_code=status.HTTP_201_CREATED)
def note(conversation_id: str, body: NoteIn, db: DbDep, staff: StaffDep) -> WorkspaceEvent:
    text = body.text.strip()
    if not text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "备注不能为空")
    event = handoff.add_note(db, _conversation(db, conversation_id, staff), staff, text)
    return WorkspaceEvent(id=event.id, kind=event.kind, staff_name=staff.display_name, text=mask_text(event.text),
                          detail={}, at=event.at)


@router.post("/conversations/{conversation_id}/hand-back", response_model=WorkspaceMessage,
            responses=errors(409))
async def hand_back(conversation_id: str, db: DbDep, staff: StaffDep, rasa: RasaDep) -> WorkspaceMessage:
    """Back to the bot. A customer message that arrived during the hand-back is
    answered by the bot now, so nothing the customer said goes unanswered."""
    def release():
        conv = _conversation(db, conversation_id, staff)
        notice = _act(handoff.hand_back, db, conv, staff)
        pending = handoff.unanswered_since_handback(db, conv)
        db.commit()
        return conv, notice, pending

    conv, notice, pending = await run_in_threadpool(release)
    if pending is not None:
        await turn.answer(db, rasa, conv, pending)
    return notice


@router.post("/conversations/{conversation_id}/resolve", response_model=WorkspaceMessage,
            responses=errors(409))
def resolve(conversation_id: str, db: DbDep, staff: StaffDep) -> WorkspaceMessage:
    return _act(handoff.resolve, db, _conversation(db, conversation_id, staff), staff)


@router.get("/canned-replies", response_model=list[CannedOut])
def canned_replies(db: DbDep, _: StaffDep) -> list[CannedReply]:
    return list(db.scalars(select(CannedReply).order_by(CannedReply.title)))


@router.post("/canned-replies", response_model=CannedOut, status_code=status.HTTP_201_CREATED)
def add_canned_reply(body: CannedIn, db: DbDep, admin: AdminDep) -> CannedReply:
    row = CannedReply(title=body.title.strip(), text=body.text.strip(), created_by=admin.username)
    db.add(row)
    db.commit()
    return row


@router.delete("/canned-replies/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_canned_reply(reply_id: DbId, db: DbDep, _: AdminDep) -> None:
    row = db.get(CannedReply, reply_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"快捷回复 #{reply_id} 不存在")
    db.delete(row)
    db.commit()


@router.get("/routes", response_model=list[StaffRouteOut])
def list_routes(db: DbDep, _: AdminDep) -> list[StaffRouteOut]:
    """Which staff member serves which kind of customer first (patent step 4)."""
    rows = db.execute(select(StaffRoute, StaffUser.display_name).join(StaffUser, StaffUser.id == StaffRoute.staff_id)
                      .order_by(StaffRoute.id)).all()
    return [StaffRouteOut(id=r.id, staff_id=r.staff_id, stage=r.stage, persona=r.persona, staff_name=name)
            for r, name in rows]


@router.post("/routes", response_model=StaffRouteOut, status_code=status.HTTP_201_CREATED,
             responses=errors(404))
def add_route(body: StaffRouteIn, db: DbDep, _: AdminDep) -> StaffRouteOut:
    staff = db.get(StaffUser, body.staff_id)
    if staff is None or not staff.active:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"员工账号 #{body.staff_id} 不存在或已停用")
    if body.stage is None and body.persona is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "请至少指定客户阶段或客户类型之一")
    if body.stage is not None and body.stage not in STAGES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"未知的阶段 {body.stage!r}；可选：{'、'.join(STAGES)}")
    if body.persona is not None and body.persona not in PERSONAS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"未知的客户类型 {body.persona!r}；可选：{'、'.join(PERSONAS)}")
    row = StaffRoute(staff_id=staff.id, stage=body.stage, persona=body.persona)
    db.add(row)
    db.commit()
    return StaffRouteOut(id=row.id, staff_id=row.staff_id, stage=row.stage, persona=row.persona,
                         staff_name=staff.display_name)


@router.delete("/routes/{route_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_route(route_id: DbId, db: DbDep, _: AdminDep) -> None:
    row = db.get(StaffRoute, route_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"分配规则 #{route_id} 不存在")
    db.delete(row)
    db.commit()
