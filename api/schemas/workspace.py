"""What the staff workspace reads: the queue, one conversation with its customer."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.surveys import FollowUpOut, SurveyOut
from api.schemas.types import DbId, InputModel, Persona, StaffText, Stage, UtcDatetime


class QueueItem(BaseModel):
    conversation_id: str
    customer_id: int
    customer_name: str | None
    stage: str
    persona: str | None
    channel: str
    handler: str
    status: str
    stage_label: str
    assigned_staff_name: str | None
    reason: str | None
    escalated_at: UtcDatetime | None
    claimed_at: UtcDatetime | None
    waiting_seconds: int | None
    position: int | None  # 1 = next in line
    assigned_staff_id: int | None
    preferred_staff_id: int | None
    last_message: str | None  # masked


class QueueOut(BaseModel):
    waiting: list[QueueItem]
    mine: list[QueueItem]
    others: list[QueueItem]  # admins only: conversations other staff have


class WorkspaceMessage(BaseModel):
    id: int
    author: str
    text: str  # masked
    staff_name: str | None
    template: str | None
    intent: str | None
    created_at: UtcDatetime
    # Push channels (WeChat): held | passive | pending | sent | failed, and why it failed.
    delivery: str | None = None
    delivery_error: str | None = None


class WorkspaceEvent(BaseModel):
    id: int
    kind: str
    staff_name: str | None
    text: str | None
    detail: dict
    at: UtcDatetime


class ProfileOrder(BaseModel):
    order_no: str
    status: str
    status_label: str
    amount: Decimal
    placed_at: UtcDatetime


class ProfileConversation(BaseModel):
    id: str
    channel: str
    status: str
    started_at: UtcDatetime
    last_activity_at: UtcDatetime
    messages: int


class CustomerProfile(BaseModel):
    id: int
    display_name: str | None
    stage: str
    stage_label: str
    persona: str | None
    points: int
    tags: list[str]
    identities: list[str]  # kind and masked value
    orders: list[ProfileOrder]
    orders_total: int
    past_conversations: list[ProfileConversation]
    # Seed 003's six tag families from the persona job: {family: tag or [tags]}.
    tag_families: dict = {}
    surveys: list[SurveyOut] = []  # the latest few, newest first
    follow_ups: list[FollowUpOut] = []  # open ones


class WorkspaceConversation(BaseModel):
    conversation: QueueItem
    messages: list[WorkspaceMessage]
    events: list[WorkspaceEvent]
    customer: CustomerProfile


class ReplyIn(InputModel):
    text: StaffText = Field(min_length=1, max_length=2000)


class NoteIn(InputModel):
    text: StaffText = Field(min_length=1, max_length=2000)


class CannedIn(InputModel):
    title: StaffText = Field(min_length=1, max_length=64)
    text: StaffText = Field(min_length=1, max_length=1000)


class CannedOut(BaseModel):
    id: int
    title: str
    text: str
    created_by: str


class StaffRouteIn(InputModel):
    """At least one of ``stage`` and ``persona``."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["stage"], "properties": {"stage": {"type": "string"}}},
        {"required": ["persona"], "properties": {"persona": {"type": "string"}}},
    ]})

    staff_id: DbId
    stage: Stage | None = None
    persona: Persona | None = None


class StaffRouteOut(StaffRouteIn):
    id: int
    staff_name: str
