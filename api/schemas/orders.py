from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import DbId, InputModel, OrderChannel, OrderStatus, UtcDatetime, UtcDatetimeIn


class OrderLineIn(InputModel):
    sku: str = Field(min_length=1, max_length=32)
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Decimal | None = Field(default=None, strict=False, ge=0, max_digits=10, decimal_places=2)


class OrderIn(InputModel):
    order_no: str = Field(pattern=r"^[A-Z0-9]{6,32}$")
    customer_id: DbId
    placed_at: UtcDatetimeIn | None = None
    channel: OrderChannel = "web"
    status: OrderStatus = "paid"
    items: list[OrderLineIn] = Field(min_length=1, max_length=200)


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    quantity: int
    unit_price: Decimal


class OrderOut(BaseModel):
    order_no: str
    customer_id: int
    status: str
    channel: str
    amount: Decimal
    placed_at: UtcDatetime
    items: list[OrderItemOut]


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage: str
    to_stage: str
    reason: str
    trigger: str
    at: UtcDatetime


class OrderRecorded(BaseModel):
    order: OrderOut
    customer_stage: str
    stage_change: StageChangeOut | None
