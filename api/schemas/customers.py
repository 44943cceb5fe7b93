"""Account merges and the customer timeline, as staff screens read them."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.service_requests import ServiceRequestEvent
from api.schemas.types import DbId, InputModel, StaffText, UtcDatetime


class MergeIn(InputModel):
    source_id: DbId
    note: StaffText = Field(default="", max_length=200)


class MergeOut(BaseModel):
    id: int
    source_id: int
    target_id: int
    status: str  # proposed | merged | undone | rejected
    reason: str  # login | phone | staff | wechat
    detail: str
    # How many rows of each kind changed owner, and the points that moved (the row
    # ids stay in the database for the undo).
    moved: dict[str, int]
    created_at: UtcDatetime
    merged_at: UtcDatetime | None
    merged_by: str | None
    # For a rejected proposal: who rejected it and when.
    undone_at: UtcDatetime | None
    undone_by: str | None


class MergePage(BaseModel):
    items: list[MergeOut]
    total: int


class MessageEvent(BaseModel):
    conversation_id: str
    channel: str
    direction: str
    author: str
    text: str  # phone numbers and IP addresses masked
    template: str | None
    intent: str | None


class OrderEventLine(BaseModel):
    name: str
    quantity: int


class OrderEvent(BaseModel):
    order_no: str
    status: str
    status_label: str
    amount: Decimal
    channel: str
    items: list[OrderEventLine]


class StageChangeEvent(BaseModel):
    from_stage: str
    to_stage: str
    reason: str
    trigger: str


class OfferEvent(BaseModel):
    offer_id: int
    code: str
    title: str
    kind: str
    trigger: str
    stage: str
    coupon_code: str | None
    conversation_id: str | None
    expires_at: UtcDatetime | None
    redeemed_at: UtcDatetime | None


class MergeEvent(BaseModel):
    merge_id: int
    action: Literal["proposed", "merged", "rejected", "undone"]
    status: str  # the merge's status now
    reason: str
    source_id: int
    target_id: int
    other_customer_id: int
    by: str | None
    detail: str


class TimelineEventOut(BaseModel):
    """One event; the field named like ``kind`` holds its details."""

    key: str  # e.g. "message:123"; pass it back as ``before_event`` to page on
    kind: Literal["message", "order", "stage_change", "offer", "merge", "service_request"]
    at: UtcDatetime
    customer_id: int  # whose record it is: a merged-away customer's events keep its id
    message: MessageEvent | None = None
    order: OrderEvent | None = None
    stage_change: StageChangeEvent | None = None
    offer: OfferEvent | None = None
    merge: MergeEvent | None = None
    service_request: ServiceRequestEvent | None = None


class TimelinePage(BaseModel):
    customer_id: int
    # Every customer merged into this one, whose history the timeline includes.
    merged_customer_ids: list[int]
    items: list[TimelineEventOut]
    # Where the next (older) page starts; both None on the last page.
    next_before: UtcDatetime | None
    next_before_event: str | None
