"""A customer's behaviour as one timeline (patent step 3): messages, orders, stage
changes, offers, merges and self-service requests on orders, newest first.

The timeline of a customer includes every customer merged into it (directly or
through others): their rows moved with the merge, but their stage transitions stay
theirs and are shown here with their own ``customer_id``.

Paging: events are ordered by (time, kind, row id) descending, and a page is "the
``limit`` events before a cursor". The cursor is a time and, optionally, the key of
the last event of the previous page (``message:123``): many events share one time (a
bot's replies to one message are stored together), so a time alone would skip some.
Each kind is one query with a limit on its own index; the pages are merged in Python,
so a customer with 100,000 messages costs no more than one with ten. Merge records are
few per customer and are read whole.

Messages are shown only from the conversations the staff member may read
(api/services/access.py): an agent does not see, here either, a conversation another
agent has claimed. Text is masked (bot.privacy.mask_text) like every staff screen.

A self-service request (return, cancel, address change) is one event at the time it
was made, showing its status now (staff's decision included).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from api.models import (Conversation, CustomerMerge, Message, OfferIssuance, Order, OrderItem, ServiceRequest,
                        StageTransition)
from api.models.order import ORDER_STATUS_LABELS
from api.models.service_request import REQUEST_KINDS, REQUEST_STATUS_LABELS
from api.services.auth import Principal
from api.services.access import readable
from api.services.merge import merged_group
from bot.privacy import mask_text

# At one instant, events sort in this order (later in the tuple = newer).
KINDS = ("message", "order", "stage_change", "offer", "merge", "service_request")
_RANK = {kind: n for n, kind in enumerate(KINDS)}
# The phases of one merge record, each an event of its own.
_MERGE_PHASES = ("proposed", "merged", "rejected", "undone")


@dataclass(frozen=True)
class TimelineEvent:
    kind: str
    at: datetime  # naive UTC, as stored
    ref: int  # id of the row: message, order, stage transition, offer issuance, merge, request
    customer_id: int  # who owns the row (a merged-away customer for its stage changes)
    detail: dict = field(default_factory=dict)
    phase: str | None = None  # merges only: proposed | merged | rejected | undone

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}" + (f":{self.phase}" if self.phase else "")

    def sort_key(self) -> tuple:
        return (self.at, _RANK[self.kind], self.ref, _phase_rank(self.phase))


def _phase_rank(phase: str | None) -> int:
    return _MERGE_PHASES.index(phase) if phase else 0


@dataclass(frozen=True)
class Cursor:
    """Events strictly older than this point; ``key`` breaks ties at ``at``."""

    at: datetime
    kind_rank: int = -1
    ref: int = -1
    phase_rank: int = -1

    @classmethod
    def parse(cls, at: datetime, key: str | None) -> Cursor:
        """``key`` is an event key (``order:12``, ``merge:3:undone``); ValueError if not."""
        if not key:
            return cls(at)
        kind, _, rest = key.partition(":")
        ref, _, phase = rest.partition(":")
        if kind not in _RANK or not ref.isdigit() or (phase and phase not in _MERGE_PHASES):
            raise ValueError(f"not a timeline event key: {key!r}")
        return cls(at, _RANK[kind], int(ref), _phase_rank(phase or None))

    def admits(self, event: TimelineEvent) -> bool:
        return event.sort_key() < (self.at, self.kind_rank, self.ref, self.phase_rank)

    def where(self, kind: str, at_column, id_column):
        """The SQL condition "older than the cursor" for the rows of one kind."""
        rank = _RANK[kind]
        if rank < self.kind_rank:
            return at_column <= self.at
        if rank > self.kind_rank:
            return at_column < self.at
        return or_(at_column < self.at, and_(at_column == self.at, id_column < self.ref))


def customer_timeline(db: Session, customer_id: int, *, before: datetime | None = None,
                      limit: int = 50, before_key: str | None = None,
                      staff: Principal | None = None) -> list[TimelineEvent]:
    """The newest ``limit`` events of the customer (and those merged into it) before
    ``before`` (naive UTC; with ``before_key``, just after that event), as ``staff``
    may see them (None: everything, for code that is not a staff screen)."""
    cursor = Cursor.parse(before, before_key) if before is not None else None
    group = merged_group(db, customer_id)
    visible = readable(staff) if staff is not None else None
    events = [*_messages(db, group, cursor, limit, visible), *_orders(db, group, cursor, limit),
              *_stage_changes(db, group, cursor, limit), *_offers(db, group, cursor, limit),
              *_merges(db, group, cursor), *_service_requests(db, group, cursor, limit)]
    events.sort(key=TimelineEvent.sort_key, reverse=True)
    return events[:limit]


def _limited(query, kind: str, at_column, id_column, cursor: Cursor | None, limit: int):
    if cursor is not None:
        query = query.where(cursor.where(kind, at_column, id_column))
    return query.order_by(at_column.desc(), id_column.desc()).limit(limit)


def _messages(db: Session, group: list[int], cursor: Cursor | None, limit: int,
              visible: ColumnElement[bool] | None = None) -> list[TimelineEvent]:
    query = (select(Message, Conversation.customer_id, Conversation.channel)
             .join(Conversation, Message.conversation_id == Conversation.id)
             .where(Conversation.customer_id.in_(group)))
    if visible is not None:
        query = query.where(visible)
    rows = db.execute(_limited(query, "message", Message.created_at, Message.id, cursor, limit))
    return [TimelineEvent("message", m.created_at, m.id, owner, {
        "conversation_id": m.conversation_id, "channel": channel, "direction": m.direction,
        "author": m.author, "text": mask_text(m.text), "template": m.template, "intent": m.intent,
    }) for m, owner, channel in rows]


def _orders(db: Session, group: list[int], cursor: Cursor | None, limit: int) -> list[TimelineEvent]:
    query = (select(Order).where(Order.customer_id.in_(group))
             .options(selectinload(Order.items).selectinload(OrderItem.product)))
    orders = db.scalars(_limited(query, "order", Order.placed_at, Order.id, cursor, limit))
    return [TimelineEvent("order", o.placed_at, o.id, o.customer_id, {
        "order_no": o.order_no, "status": o.status, "status_label": ORDER_STATUS_LABELS.get(o.status, o.status),
        "amount": o.amount, "channel": o.channel,
        "items": [{"name": i.product.name, "quantity": i.quantity} for i in o.items],
    }) for o in orders]


def _stage_changes(db: Session, group: list[int], cursor: Cursor | None, limit: int) -> list[TimelineEvent]:
    query = select(StageTransition).where(StageTransition.customer_id.in_(group))
    changes = db.scalars(_limited(query, "stage_change", StageTransition.at, StageTransition.id, cursor, limit))
    return [TimelineEvent("stage_change", c.at, c.id, c.customer_id, {
        "from_stage": c.from_stage, "to_stage": c.to_stage, "reason": c.reason, "trigger": c.trigger,
    }) for c in changes]


def _offers(db: Session, group: list[int], cursor: Cursor | None, limit: int) -> list[TimelineEvent]:
    # Coupon codes are shown whole: they are not personal data, and staff quote them.
    query = (select(OfferIssuance).where(OfferIssuance.customer_id.in_(group))
             .options(joinedload(OfferIssuance.offer)))
    issued = db.scalars(_limited(query, "offer", OfferIssuance.issued_at, OfferIssuance.id, cursor, limit))
    return [TimelineEvent("offer", i.issued_at, i.id, i.customer_id, {
        "offer_id": i.offer_id, "code": i.offer.code, "title": i.offer.title, "kind": i.offer.kind,
        "trigger": i.trigger, "stage": i.stage, "coupon_code": i.coupon_code,
        "conversation_id": i.conversation_id, "expires_at": i.expires_at, "redeemed_at": i.redeemed_at,
    }) for i in issued]


def _merges(db: Session, group: list[int], cursor: Cursor | None) -> list[TimelineEvent]:
    members = set(group)
    merges = db.scalars(select(CustomerMerge).where(
        or_(CustomerMerge.source_id.in_(group), CustomerMerge.target_id.in_(group))))
    events = []
    for m in merges:
        # The customer on the other side, seen from this timeline.
        other = m.source_id if m.target_id in members else m.target_id
        owner = m.target_id if m.target_id in members else m.source_id
        phases = []
        # A direct merge is created merged (created_at == merged_at); a confirmed
        # proposal was created earlier.
        if m.merged_at is None or m.merged_at != m.created_at:
            phases.append(("proposed", m.created_at, None))
        if m.merged_at is not None:
            phases.append(("merged", m.merged_at, m.merged_by))
        if m.status in ("rejected", "undone") and m.undone_at is not None:
            phases.append((m.status, m.undone_at, m.undone_by))
        for phase, at, by in phases:
            event = TimelineEvent("merge", at, m.id, owner, {
                "merge_id": m.id, "action": phase, "status": m.status, "reason": m.reason,
                "source_id": m.source_id, "target_id": m.target_id, "other_customer_id": other,
                "by": by, "detail": mask_text(m.detail) if m.detail else m.detail,
            }, phase=phase)
            if cursor is None or cursor.admits(event):
                events.append(event)
    return events


def _service_requests(db: Session, group: list[int], cursor: Cursor | None, limit: int) -> list[TimelineEvent]:
    query = (select(ServiceRequest).where(ServiceRequest.customer_id.in_(group))
             .options(joinedload(ServiceRequest.order)))
    requests = db.scalars(_limited(query, "service_request", ServiceRequest.created_at, ServiceRequest.id,
                                   cursor, limit))
    return [TimelineEvent("service_request", r.created_at, r.id, r.customer_id, {
        "request_id": r.id, "request_no": r.request_no, "kind": r.kind,
        "kind_label": REQUEST_KINDS.get(r.kind, r.kind), "order_no": r.order.order_no, "status": r.status,
        "status_label": REQUEST_STATUS_LABELS.get(r.status, r.status), "items": list(r.items or []),
        "reason": mask_text(r.reason), "new_address": mask_text(r.new_address) if r.new_address else None,
        "note": r.note, "handled_by": r.handled_by, "updated_at": r.updated_at,
    }) for r in requests]
