"""What the action server reads about a customer."""
from __future__ import annotations

from decimal import Decimal

from api.schemas.types import InputModel, Storable, UtcDatetime
from pydantic import BaseModel, Field


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
    placed_at: UtcDatetime
    carrier: str | None
    tracking_no: str | None
    shipped_at: UtcDatetime | None
    delivered_at: UtcDatetime | None
    items: list[OrderLine]


class OrdersOut(BaseModel):
    orders: list[OrderView]


class OfferClaimIn(InputModel):
    conversation_id: Storable | None = Field(default=None, max_length=32)


class OfferClaimOut(BaseModel):
    status: str  # new | again | none
    offer_title: str | None = None
    offer_detail: str | None = None
    coupon_code: str | None = None
    expires_on: str | None = None  # the shop's local date, e.g. "12月6日"


class RecommendedProduct(BaseModel):
    sku: str
    name: str
    price: Decimal
    confidence: float | None = None  # also_bought / anchored: of the best rule behind it
    lift: float | None = None
    because: list[str] = []  # also_bought: the customer's products that triggered it; anchored: the one named
    sold: int | None = None  # popular / category: units sold in the last 90 days


class RecommendationsOut(BaseModel):
    reason: str  # anchored | category | also_bought | popular | none
    stage: str
    products: list[RecommendedProduct]
    category: str | None = None  # category: the kind the customer asked for (杯子, 保温杯)


class ProductAnswerOut(BaseModel):
    """A response of domain.yml and its template variables (rendered by the service's NLG)."""
    response: str
    slots: dict[str, str]
    sku: str | None = None  # the product the answer was about: the action keeps it for "这个/它"


class AccountAnswerOut(BaseModel):
    response: str
    slots: dict[str, str]
