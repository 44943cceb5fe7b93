"""What the action server reads about a customer."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel


class CustomerState(BaseModel):
    id: int
    display_name: str | None
    stage: str
    points: int


class OrderLine(BaseModel):
    name: str
    quantity: int


class OrderView(BaseModel):
    order_no: str
    status: str
    status_label: str
    amount: Decimal
    placed_at: datetime
    carrier: str | None
    tracking_no: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    items: list[OrderLine]


class OrdersOut(BaseModel):
    orders: list[OrderView]
