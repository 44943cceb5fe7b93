"""What the action server may read: one customer's state and orders."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.deps import DbDep, require_internal
from api.models import Customer, Order, OrderItem
from api.models.order import ORDER_STATUS_LABELS
from api.schemas.internal import CustomerState, OrderLine, OrdersOut, OrderView

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])


def _customer(db: DbDep, customer_id: int) -> Customer:
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return customer


@router.get("/customers/{customer_id}", response_model=CustomerState)
def customer_state(customer_id: int, db: DbDep) -> CustomerState:
    c = _customer(db, customer_id)
    return CustomerState(id=c.id, display_name=c.display_name, stage=c.stage, points=c.points)


@router.get("/customers/{customer_id}/orders", response_model=OrdersOut)
def customer_orders(
    customer_id: int,
    db: DbDep,
    order_no: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> OrdersOut:
    """The customer's newest orders, or the one with ``order_no`` if it is theirs.

    Another customer's order number finds nothing: a customer can only ever learn
    about their own orders.
    """
    _customer(db, customer_id)
    query = (select(Order).where(Order.customer_id == customer_id)
             .options(selectinload(Order.items).selectinload(OrderItem.product))
             .order_by(Order.placed_at.desc()).limit(limit))
    if order_no:
        query = query.where(Order.order_no == order_no.upper())
    orders = db.scalars(query).all()
    return OrdersOut(orders=[
        OrderView(order_no=o.order_no, status=o.status,
                  status_label=ORDER_STATUS_LABELS.get(o.status, o.status), amount=o.amount,
                  placed_at=o.placed_at, carrier=o.carrier, tracking_no=o.tracking_no,
                  shipped_at=o.shipped_at, delivered_at=o.delivered_at,
                  items=[OrderLine(name=i.product.name, quantity=i.quantity) for i in o.items])
        for o in orders
    ])
