"""What the admin console reads and writes: reply variants, offers, their history."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from api.schemas.types import (
    DB_INT_MAX,
    DbInt,
    InputModel,
    IsoDate,
    OfferKind,
    OfferTrigger,
    Persona,
    StaffText,
    Stage,
    UtcDatetime,
    not_null,
)


class VariantIn(InputModel):
    template: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    stage: Stage
    persona: Persona | None = None
    text: StaffText = Field(min_length=1, max_length=2000)
    enabled: bool = True
    weight: float = Field(default=1.0, ge=0, le=100)
    note: StaffText = Field(default="", max_length=200)


class VariantPatch(InputModel):
    """Fields left out stay as they are; ``persona`` may be set to null (every persona),
    the others may not (their columns are NOT NULL)."""

    stage: Stage = not_null()
    persona: Persona | None = None
    text: StaffText = not_null(min_length=1, max_length=2000)
    enabled: bool = not_null()
    weight: float = not_null(ge=0, le=100)
    note: StaffText = Field(default="", max_length=200)


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


class PreviewIn(InputModel):
    stage: Stage
    template: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    persona: Persona | None = None
    # An unsaved draft to see before saving it.
    text: StaffText | None = Field(default=None, min_length=1, max_length=2000)


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


class OfferRules(TypedDict, total=False):
    """Who may claim an offer; every rule left out holds for everyone."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]

    min_orders: Annotated[int, Field(ge=0, le=DB_INT_MAX)]
    max_orders: Annotated[int, Field(ge=0, le=DB_INT_MAX)]
    min_spent: Annotated[float, Field(ge=0, le=1e9)]
    min_points: Annotated[int, Field(ge=0, le=DB_INT_MAX)]
    personas: list[Persona]
    days_of_month: list[Annotated[int, Field(ge=1, le=31)]]
    window_days: Annotated[int, Field(ge=0, le=366)]


OfferCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Days = Annotated[int, Field(ge=1, le=3650)]


class OfferIn(InputModel):
    code: OfferCode
    title: StaffText = Field(min_length=1, max_length=64)
    detail: StaffText = Field(min_length=1, max_length=300)
    kind: OfferKind
    trigger: OfferTrigger = "chat"
    stages: list[Stage] = []
    rules: OfferRules = {}
    period_days: Days = 30
    valid_days: Days = 14
    coupon_prefix: str | None = Field(default=None, max_length=8, pattern=r"^[A-Z0-9]*$")
    priority: DbInt = 0
    enabled: bool = True
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    note: StaffText = Field(default="", max_length=200)


class OfferPatch(InputModel):
    """Fields left out stay as they are; ``coupon_prefix``, ``starts_on`` and ``ends_on``
    may be set to null, the others may not (their columns are NOT NULL)."""

    title: StaffText = not_null(min_length=1, max_length=64)
    detail: StaffText = not_null(min_length=1, max_length=300)
    kind: OfferKind = not_null()
    trigger: OfferTrigger = not_null()
    stages: list[Stage] = not_null()
    rules: OfferRules = not_null()
    period_days: Days = not_null()
    valid_days: Days = not_null()
    coupon_prefix: str | None = Field(default=None, max_length=8, pattern=r"^[A-Z0-9]*$")
    priority: DbInt = not_null()
    enabled: bool = not_null()
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    note: StaffText = Field(default="", max_length=200)


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
