"""Orders (staff API): recording one re-derives the customer's lifecycle stage."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.db.base import utcnow
from api.schemas.errors import errors
from api.deps import DbDep, SettingsDep, require_admin
from api.models import Customer, Order, OrderItem, StageTransition
from api.schemas.orders import OrderIn, OrderItemOut, OrderOut, OrderRecorded, StageChangeOut
from api.schemas.types import DbId, naive_utc
from api.services.orders import DuplicateOrder, OrderError, OrderLine, record_order, recompute_stage


router = APIRouter(prefix="/api", tags=["orders"], dependencies=[Depends(require_admin)])


def order_out(order: Order) -> OrderOut:
    return OrderOut(order_no=order.order_no, customer_id=order.customer_id, status=order.status,
                    channel=order.channel, amount=order.amount, placed_at=order.placed_at,
                    items=[OrderItemOut(sku=i.product.sku, name=i.product.name, quantity=i.quantity,
                                        unit_price=i.unit_price) for i in order.items])


@router.post("/orders", response_model=OrderRecorded, status_code=status.HTTP_201_CREATED,
            responses=errors(404, 409))
def create_order(body: OrderIn, db: DbDep, settings: SettingsDep) -> OrderRecorded:
    customer = db.get(Customer, body.customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"客户 #{body.customer_id} 不存在")
    placed = naive_utc(body.placed_at) if body.placed_at else utcnow()
    try:
        order = record_order(db, customer=customer, order_no=body.order_no, placed_at=placed,
                             channel=body.channel, status=body.status,
                             lines=[OrderLine(i.sku, i.quantity, i.unit_price) for i in body.items])
        db.flush()
    except OrderError as exc:
        db.rollback()
        code = status.HTTP_409_CONFLICT if isinstance(exc, DuplicateOrder) else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, str(exc)) from None
    change = recompute_stage(db, customer, settings.stage_rules(), trigger="order")
    db.commit()
    return OrderRecorded(order=order_out(order), customer_stage=customer.stage,
                         stage_change=StageChangeOut.model_validate(change) if change else None)


@router.get("/customers/{customer_id}/orders", response_model=list[OrderOut])
def customer_orders(customer_id: DbId, db: DbDep) -> list[OrderOut]:
    if db.get(Customer, customer_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"客户 #{customer_id} 不存在")
    orders = db.scalars(select(Order).where(Order.customer_id == customer_id)
                        .options(selectinload(Order.items).selectinload(OrderItem.product))
                        .order_by(Order.placed_at.desc()))
    return [order_out(o) for o in orders]


@router.get("/customers/{customer_id}/stage-history", response_model=list[StageChangeOut])
def stage_history(customer_id: DbId, db: DbDep) -> list[StageTransition]:
    if db.get(Customer, customer_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"客户 #{customer_id} 不存在")
    return list(db.scalars(select(StageTransition).where(StageTransition.customer_id == customer_id)
                           .order_by(StageTransition.id)))
