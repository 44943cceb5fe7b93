"""What staff screens read. Personal data is masked here, not in the browser."""
from __future__ import annotations


from typing import Generic, TypeVar

from api.schemas.types import UtcDatetime
from pydantic import BaseModel, ConfigDict, field_validator

from bot.privacy import mask_text

T = TypeVar("T")


class StaffMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("text")
    @classmethod
    def _masked(cls, text: str) -> str:
        # Customers type phone numbers into chats; staff screens show them masked.
        return mask_text(text)

    id: int
    direction: str
    author: str
    text: str
    intent: str | None
    intent_confidence: float | None
    template: str | None
    reply_to_id: int | None
    created_at: UtcDatetime


class StaffConversation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: int
    channel: str
    status: str
    handler: str
    needs_attention: bool
    attention_reason: str | None
    started_at: UtcDatetime
    last_activity_at: UtcDatetime
    closed_at: UtcDatetime | None


class StaffConversationDetail(StaffConversation):
    messages: list[StaffMessage]


class StaffIdentity(BaseModel):
    kind: str
    value_masked: str
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime


class StaffCustomer(BaseModel):
    id: int
    display_name: str | None
    stage: str
    points: int
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
    first_ip_masked: str | None
    last_ip_masked: str | None
    identities: list[StaffIdentity]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
