"""Self-service requests on orders: checking and recording what a customer asks for in
chat (return, cancel, address change), and staff's decision on returns.

The chat's forms ask ``check`` before their confirmation step and ``create`` after it;
``create`` applies the rules again (the order may have shipped meanwhile), and either
does everything — the request, the order's new status, the customer's stage — or
nothing. The shop's rules themselves are in api/domain/self_service.py.

Answers to the customer are a response name of domain.yml and its variables, rendered
by the service's NLG; they never name another customer's order: an order number that
is not the customer's own is "not found", exactly like one that does not exist.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.core.config import get_settings
from api.db.base import utcnow
from api.domain import self_service as rules
from api.models import Conversation, Customer, Order, OrderItem, ServiceRequest
from api.models.order import ORDER_STATUS_LABELS
from api.models.service_request import REQUEST_KINDS, REQUEST_STATUS_LABELS
from api.schemas.service_requests import ServiceRequestOut
from api.services import access
from api.services.account import is_member
from api.services.auth import Principal
from api.services.merge import merged_group
from api.services.orders import recompute_stage
from bot.privacy import mask_text

NOT_FOUND = "没有找到这个订单号，请核对后再告诉我（订单号以 DD 开头）"
ORDERS_LOOKED_AT = 50  # the customer's newest orders searched for eligible ones
ORDERS_LISTED = 5  # eligible orders named when the customer must choose
# What the rules note on a request they completed themselves.
DONE_NOTES = {"cancel": "系统已自动取消订单", "address": "系统已记录新的收货地址"}


class RequestError(ValueError):
    """A staff decision or a request that cannot be made; the message says why (Chinese)."""


class RequestNotFound(RequestError):
    pass


class RequestConflict(RequestError):
    """The request's or the order's state forbids it now."""


class RequestInvalid(RequestError):
    """The request lacks something its kind needs (an address change without an address)."""


@dataclass(frozen=True)
class Answer:
    """A reply for the customer and what it is about."""

    response: str
    slots: dict[str, str]
    eligible: bool = False
    order_no: str | None = None
    items: list[str] = field(default_factory=list)
    request_no: str | None = None


# ------------------------------------------------------------------------ the customer


def check(db: Session, customer_id: int, kind: str, order_no: str | None,
          now: datetime | None = None) -> Answer:
    """May the customer make a request of ``kind`` on ``order_no`` — or, with no order
    named, on which of their orders? The answer is what the form says next."""
    now = now or utcnow()
    if order_no and order_no.strip():
        order = _own_order(db, customer_id, order_no)
        if order is None:
            return _refused(mask_text(order_no.strip()), kind, NOT_FOUND)
        decision = rules.decide(kind, _facts(db, order), now)
        if not decision.allowed:
            return _refused(order.order_no, kind, decision.why, order)
        return _confirm(kind, order)
    orders = db.scalars(select(Order).where(Order.customer_id == customer_id)
                        .options(selectinload(Order.items).selectinload(OrderItem.product))
                        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(ORDERS_LOOKED_AT)).all()
    facts = _facts_of(db, orders)
    eligible = [o for o in orders if rules.decide(kind, facts[o.id], now).allowed]
    if len(eligible) == 1:
        return _confirm(kind, eligible[0])
    if not eligible:
        customer = db.get(Customer, customer_id)
        if not orders and customer is not None and not is_member(db, customer):
            # A visitor who has not signed in: their orders are under their member account.
            return Answer("utter_account_sign_in", {})
        return Answer("utter_request_no_eligible_order", {"kind_label": REQUEST_KINDS[kind]})
    lines = [order_line(o, _zone()) for o in eligible[:ORDERS_LISTED]]
    return Answer("utter_request_ask_order", {"order_list": "；".join(lines)})


def create(db: Session, customer_id: int, *, kind: str, order_no: str, items: Sequence[str] = (),
           reason: str = "", new_address: str | None = None, conversation_id: str | None = None,
           now: datetime | None = None) -> Answer:
    """Record the request if the rules allow it now (not committed: the caller commits,
    or rolls back on an exception). Cancel and address changes are done at once; a
    return waits for staff."""
    now = now or utcnow()
    new_address = (new_address or "").strip() or None
    if kind == "address" and new_address is None:
        raise RequestInvalid("修改收货地址需要提供新的收货地址")
    order = _own_order(db, customer_id, order_no, lock=True)
    if order is None:
        return _refused(mask_text(order_no.strip()), kind, NOT_FOUND)
    decision = rules.decide(kind, _facts(db, order), now)
    if not decision.allowed:
        return _refused(order.order_no, kind, decision.why, order)
    names, unknown = _match_items(order, items)
    if unknown:
        return _refused(order.order_no, kind, f"订单中没有「{mask_text(unknown)}」，请说出订单里的商品名称", order)

    request = ServiceRequest(
        customer_id=order.customer_id, order_id=order.id, kind=kind,
        conversation_id=_own_conversation(db, customer_id, conversation_id),
        status="submitted" if kind == "return" else "done",
        items=names, reason=reason.strip()[:200], new_address=new_address,
        note=DONE_NOTES.get(kind, ""), created_at=now, updated_at=now,
        handled_by=None if kind == "return" else "system")
    _insert_with_number(db, request, now)
    if kind == "cancel":
        order.status = "cancelled"
        # A cancelled order is no purchase: the customer's stage may change with it.
        recompute_stage(db, db.get(Customer, order.customer_id), get_settings().stage_rules(),
                        trigger="order", now=now)
    db.flush()
    return Answer("utter_request_created", {
        "request_no": request.request_no, "kind_label": REQUEST_KINDS[kind], "order_no": order.order_no,
        "status_label": REQUEST_STATUS_LABELS[request.status],
    }, eligible=True, order_no=order.order_no, items=names, request_no=request.request_no)


def status_answer(db: Session, customer_id: int, limit: int = 3) -> Answer:
    """The customer's newest requests, for "我的退货进度到哪了"."""
    requests = db.scalars(select(ServiceRequest).where(ServiceRequest.customer_id.in_(merged_group(db, customer_id)))
                          .options(selectinload(ServiceRequest.order))
                          .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(limit)).all()
    if not requests:
        return Answer("utter_no_requests", {})
    return Answer("utter_request_status", {"request_list": "；".join(_request_line(r) for r in requests)})


def order_line(order: Order, zone: ZoneInfo) -> str:
    """"DD202611030017（明前龙井 250g 等 2 件，11月3日签收）": an order as the customer knows it."""
    lines = order.items
    count = sum(i.quantity for i in lines)
    what = lines[0].product.name + (f" 等 {count} 件" if count > 1 else "") if lines else "无商品"
    if order.delivered_at is not None:
        when = f"{_day(order.delivered_at, zone)}签收"
    else:
        when = f"{_day(order.placed_at, zone)}下单"
    return f"{order.order_no}（{what}，{when}）"


# ------------------------------------------------------------------------------- staff


def list_for_staff(db: Session, staff: Principal, *, status: str | None = None, kind: str | None = None,
                   customer_id: int | None = None, limit: int = 50) -> list[ServiceRequestOut]:
    """Newest first. Requests are order data, for every staff member; the conversation
    they were made in is named only to those who may read it (api/services/access.py)."""
    query = select(ServiceRequest).options(selectinload(ServiceRequest.order))
    if status:
        query = query.where(ServiceRequest.status == status)
    if kind:
        query = query.where(ServiceRequest.kind == kind)
    if customer_id is not None:
        query = query.where(ServiceRequest.customer_id.in_(merged_group(db, customer_id)))
    found = db.scalars(query.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(limit)).all()
    return _outs(db, staff, found)


def get_for_staff(db: Session, staff: Principal, request_id: int) -> ServiceRequestOut:
    request = db.get(ServiceRequest, request_id)
    if request is None:
        raise RequestNotFound("售后申请不存在")
    return _outs(db, staff, [request])[0]


def decide(db: Session, staff: Principal, request_id: int, decision: str, note: str = "",
           now: datetime | None = None) -> ServiceRequestOut:
    """Approve (the order goes to refunding) or reject a submitted return (not committed)."""
    request = db.scalar(select(ServiceRequest).where(ServiceRequest.id == request_id).with_for_update())
    if request is None:
        raise RequestNotFound("售后申请不存在")
    if request.status != "submitted":
        raise RequestConflict(f"该申请当前状态为「{REQUEST_STATUS_LABELS.get(request.status, request.status)}」，"
                              "只有待审核的申请可以处理")
    order = db.scalar(select(Order).where(Order.id == request.order_id).with_for_update())
    if decision == "approve":
        if order.status not in rules.RECEIVED:
            raise RequestConflict(f"订单当前状态为「{ORDER_STATUS_LABELS.get(order.status, order.status)}」，"
                                  "无法同意退货")
        order.status = "refunding"
        request.status = "approved"
    else:
        request.status = "rejected"
    request.note = note.strip()
    request.handled_by = staff.username
    request.updated_at = now or utcnow()
    db.flush()
    return _outs(db, staff, [request])[0]


# ------------------------------------------------------------------------------ helpers


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().shop_timezone)


def _day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.replace(tzinfo=timezone.utc).astimezone(zone)
    return f"{local.month}月{local.day}日"


def _own_order(db: Session, customer_id: int, order_no: str, lock: bool = False) -> Order | None:
    """The customer's order with this number; None for another's as for none at all."""
    query = (select(Order).where(Order.order_no == order_no.strip().upper(), Order.customer_id == customer_id)
             .options(selectinload(Order.items).selectinload(OrderItem.product)))
    if lock:
        query = query.with_for_update()
    return db.scalar(query)


def _facts_of(db: Session, orders: Sequence[Order]) -> dict[int, rules.OrderFacts]:
    ids = [o.id for o in orders]
    requests: dict[int, list[tuple[str, str]]] = {}
    if ids:
        for order_id, kind, status in db.execute(select(ServiceRequest.order_id, ServiceRequest.kind,
                                                        ServiceRequest.status)
                                                 .where(ServiceRequest.order_id.in_(ids))):
            requests.setdefault(order_id, []).append((kind, status))
    return {o.id: rules.OrderFacts(o.status, o.placed_at, o.delivered_at,
                                   rules.open_kinds(requests.get(o.id, []))) for o in orders}


def _facts(db: Session, order: Order) -> rules.OrderFacts:
    return _facts_of(db, [order])[order.id]


def _names(order: Order) -> list[str]:
    return [i.product.name for i in order.items]


def _confirm(kind: str, order: Order) -> Answer:
    names = _names(order)
    slots = {"order_no": order.order_no}
    if kind == "return":
        slots |= {"items": "、".join(names), "reason": ""}
    elif kind == "cancel":
        slots |= {"items": "、".join(names)}
    else:
        slots |= {"new_address": ""}
    return Answer(f"utter_request_confirm_{kind}", slots, eligible=True, order_no=order.order_no, items=names)


def _refused(shown: str, kind: str, why: str, order: Order | None = None) -> Answer:
    """A polite no; ``order`` is None when the number found none of the customer's orders."""
    return Answer("utter_request_refused", {"order_no": shown, "kind_label": REQUEST_KINDS[kind], "why": why},
                  order_no=order.order_no if order else None, items=_names(order) if order else [])


def _match_items(order: Order, said: Sequence[str]) -> tuple[list[str], str | None]:
    """The order's product names the customer meant (all of them when none was said),
    and the first name said that is in no line of the order."""
    names = _names(order)
    chosen: list[str] = []
    for raw in said:
        wanted = raw.strip()
        if not wanted:
            continue
        hits = [n for n in names if wanted in n or n in wanted]
        if not hits:
            return [], wanted
        chosen.extend(n for n in hits if n not in chosen)
    return (chosen or names), None


def _own_conversation(db: Session, customer_id: int, conversation_id: str | None) -> str | None:
    if not conversation_id:
        return None
    conv = db.get(Conversation, conversation_id)
    return conv.id if conv is not None and conv.customer_id in merged_group(db, customer_id) else None


def _insert_with_number(db: Session, request: ServiceRequest, now: datetime) -> None:
    """Give the request a new number "SR" + the shop's date + 4 digits, and insert it."""
    day = now.replace(tzinfo=timezone.utc).astimezone(_zone()).strftime("%Y%m%d")
    for _ in range(20):
        number = f"SR{day}{secrets.randbelow(10_000):04d}"
        if db.scalar(select(ServiceRequest.id).where(ServiceRequest.request_no == number)) is not None:
            continue
        request.request_no = number
        try:
            with db.begin_nested():  # a parallel request may take the number first
                db.add(request)
                db.flush()
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"no free request number left for {day}")


def _request_line(request: ServiceRequest) -> str:
    line = (f"{request.request_no}（{REQUEST_KINDS.get(request.kind, request.kind)}，订单 {request.order.order_no}）："
            f"{REQUEST_STATUS_LABELS.get(request.status, request.status)}")
    if request.status == "rejected" and request.note:
        line += f"，说明：{request.note}"
    return line


def _outs(db: Session, staff: Principal, requests: Sequence[ServiceRequest]) -> list[ServiceRequestOut]:
    readable = access.readable_ids(db, staff, [r.conversation_id for r in requests])
    names = dict(db.execute(select(Customer.id, Customer.display_name)
                            .where(Customer.id.in_({r.customer_id for r in requests}))).all()) if requests else {}
    return [ServiceRequestOut(
        id=r.id, request_no=r.request_no, customer_id=r.customer_id, customer_name=names.get(r.customer_id),
        order_no=r.order.order_no, order_status=r.order.status,
        order_status_label=ORDER_STATUS_LABELS.get(r.order.status, r.order.status),
        conversation_id=r.conversation_id if r.conversation_id in readable else None,
        kind=r.kind, kind_label=REQUEST_KINDS.get(r.kind, r.kind), status=r.status,
        status_label=REQUEST_STATUS_LABELS.get(r.status, r.status), items=list(r.items or []),
        reason=mask_text(r.reason), new_address=mask_text(r.new_address) if r.new_address else r.new_address,
        note=r.note, handled_by=r.handled_by, created_at=r.created_at, updated_at=r.updated_at,
    ) for r in requests]
