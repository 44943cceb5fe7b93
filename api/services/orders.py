"""Recording orders, and the lifecycle stage that follows from them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Customer, Order, OrderItem, Product, StageTransition
from api.models.order import ORDER_CHANNELS, ORDER_STATUS_LABELS
from api.domain.lifecycle import NOT_PURCHASES, StageRules, stage_for

CHANNELS = ORDER_CHANNELS


class OrderError(ValueError):
    """The order cannot be recorded; the message says why."""


class DuplicateOrder(OrderError):
    """An order with this number is recorded already."""


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal | None = None  # the catalogue price when not given


def purchase_times(db: Session, customer_id: int) -> list[datetime]:
    return list(db.scalars(select(Order.placed_at).where(Order.customer_id == customer_id,
                                                         Order.status.not_in(NOT_PURCHASES))))


def recompute_stage(db: Session, customer: Customer, rules: StageRules, trigger: str,
                    now: datetime | None = None) -> StageTransition | None:
    """Set the customer's stage from their purchases; record the change if there is one."""
    decision = stage_for(purchase_times(db, customer.id), now or utcnow(), rules)
    if decision.stage == customer.stage:
        return None
    change = StageTransition(customer=customer, from_stage=customer.stage, to_stage=decision.stage,
                             reason=decision.reason, trigger=trigger, at=now or utcnow())
    customer.stage = decision.stage
    db.add(change)
    return change


def record_order(db: Session, *, customer: Customer, order_no: str, lines: list[OrderLine],
                 placed_at: datetime, channel: str = "web", status: str = "paid") -> Order:
    """Add an order (not committed). Raises OrderError naming the problem."""
    if status not in ORDER_STATUS_LABELS:
        raise OrderError(f"未知的订单状态 {status!r}；可选：{'、'.join(ORDER_STATUS_LABELS)}")
    if channel not in CHANNELS:
        raise OrderError(f"未知的下单渠道 {channel!r}；可选：{'、'.join(CHANNELS)}")
    if not lines:
        raise OrderError("订单至少要有一件商品")
    if db.scalar(select(Order.id).where(Order.order_no == order_no)) is not None:
        raise DuplicateOrder(f"订单 {order_no} 已存在")
    skus = {line.sku for line in lines}
    products = {p.sku: p for p in db.scalars(select(Product).where(Product.sku.in_(skus)))}
    unknown = sorted(skus - products.keys())
    if unknown:
        raise OrderError(f"未知的商品编号：{'、'.join(unknown)}")
    items = []
    for line in lines:
        if line.quantity < 1:
            raise OrderError(f"{line.sku} 的数量至少为 1")
        price = products[line.sku].price if line.unit_price is None else line.unit_price
        if price < 0:
            raise OrderError(f"{line.sku} 的价格不能为负数")
        items.append(OrderItem(product=products[line.sku], quantity=line.quantity, unit_price=price))
    order = Order(order_no=order_no, customer=customer, status=status, channel=channel, items=items,
                  amount=sum(i.unit_price * i.quantity for i in items), placed_at=placed_at)
    db.add(order)
    return order
