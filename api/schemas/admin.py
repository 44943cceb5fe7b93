"""What the admin console reads and writes: reply variants, offers, their history."""
from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import UtcDatetime


class VariantIn(BaseModel):
    template: str = Field(max_length=64)
    stage: str = Field(max_length=16)
    persona: str | None = Field(default=None, max_length=24)
    text: str = Field(max_length=2000)
    enabled: bool = True
    weight: float = 1.0
    note: str = Field(default="", max_length=200)


class VariantPatch(BaseModel):
    stage: str | None = Field(default=None, max_length=16)
    persona: str | None = Field(default=None, max_length=24)
    text: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None
    weight: float | None = None
    note: str = Field(default="", max_length=200)


class VariantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    template: str
    stage: str
    persona: str | None
    text: str
    enabled: bool
    weight: float
    version: int
    updated_at: UtcDatetime
    updated_by: str


class TemplateOut(BaseModel):
    name: str
    defaults: list[str]
    variables: dict[str, str]
    variants: list[VariantOut]


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    entity_id: int
    version: int
    action: str
    data: dict[str, Any] | None
    changed_by: str
    changed_at: UtcDatetime
    note: str


class PreviewIn(BaseModel):
    stage: str = Field(max_length=16)
    template: str | None = Field(default=None, max_length=64)
    persona: str | None = Field(default=None, max_length=24)
    # An unsaved draft to see before saving it.
    text: str | None = Field(default=None, max_length=2000)


class PreviewCandidate(BaseModel):
    source: str  # variant | default | draft
    variant_id: int | None
    weight: float | None
    text: str


class PreviewOut(BaseModel):
    template: str
    stage: str
    candidates: list[PreviewCandidate]
    sample: dict[str, Any]


class OfferIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=64)
    detail: str = Field(min_length=1, max_length=300)
    kind: str
    trigger: str = "chat"
    stages: list[str] = []
    rules: dict[str, Any] = {}
    period_days: int = 30
    valid_days: int = 14
    coupon_prefix: str | None = Field(default=None, max_length=8, pattern=r"^[A-Z0-9]*$")
    priority: int = 0
    enabled: bool = True
    starts_on: date | None = None
    ends_on: date | None = None
    note: str = Field(default="", max_length=200)


class OfferPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=64)
    detail: str | None = Field(default=None, min_length=1, max_length=300)
    kind: str | None = None
    trigger: str | None = None
    stages: list[str] | None = None
    rules: dict[str, Any] | None = None
    period_days: int | None = None
    valid_days: int | None = None
    coupon_prefix: str | None = Field(default=None, max_length=8, pattern=r"^[A-Z0-9]*$")
    priority: int | None = None
    enabled: bool | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    note: str = Field(default="", max_length=200)


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title: str
    detail: str
    kind: str
    trigger: str
    stages: list[str]
    rules: dict[str, Any]
    period_days: int
    valid_days: int
    coupon_prefix: str | None
    priority: int
    enabled: bool
    starts_on: date | None
    ends_on: date | None
    version: int
    updated_at: UtcDatetime
    updated_by: str
    issued: int = 0


class IssuanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    offer_id: int
    customer_id: int
    stage: str
    trigger: str
    coupon_code: str | None
    conversation_id: str | None
    issued_at: UtcDatetime
    expires_at: UtcDatetime | None
    redeemed_at: UtcDatetime | None
