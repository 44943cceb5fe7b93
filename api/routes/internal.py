"""What the action server may read (one customer's state, orders, product recommendations, answers
about products and their own account) and do (claim an offer)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.db.base import utcnow
from api.schemas.types import DbId
from api.deps import DbDep, SettingsDep, require_internal
from api.models import Customer, Order, OrderItem
from api.models.order import ORDER_STATUS_LABELS
from api.schemas.internal import (
    AccountAnswerOut,
    CustomerState,
    OfferClaimIn,
    OfferClaimOut,
    OrderLine,
    OrdersOut,
    OrderView,
    ProductAnswerOut,
    RecommendationsOut,
    RecommendedProduct,
)
from api.services import account, offers, product_answers
from api.services.merge import live_customer
from api.services.recommendations import recommendations_for

MAX_TEXT = 500  # a customer's message, as the chat channels bound it
router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])


def _customer(db: DbDep, customer_id: int) -> Customer:
    # An action server may hold an id from before a merge: it gets the merged customer.
    customer = live_customer(db, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return customer


@router.get("/customers/{customer_id}", response_model=CustomerState)
def customer_state(customer_id: DbId, db: DbDep) -> CustomerState:
    c = _customer(db, customer_id)
    return CustomerState(id=c.id, display_name=c.display_name, stage=c.stage, points=c.points)


@router.get("/customers/{customer_id}/orders", response_model=OrdersOut)
def customer_orders(
    customer_id: DbId,
    db: DbDep,
    order_no: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> OrdersOut:
    """The customer's newest orders, or the one with ``order_no`` if it is theirs.

    Another customer's order number finds nothing: a customer can only ever learn
    about their own orders.
    """
    customer_id = _customer(db, customer_id).id
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


@router.post("/customers/{customer_id}/offers/claim", response_model=OfferClaimOut)
def claim_offer(customer_id: DbId, body: OfferClaimIn, db: DbDep, settings: SettingsDep) -> OfferClaimOut:
    """The customer asked for an offer (action_offer): issue the best one they may have
    today, or remind them of the coupon they already hold."""
    customer = _customer(db, customer_id)
    tz = ZoneInfo(settings.shop_timezone)
    now = utcnow()
    issuance, is_new = offers.claim_offer(db, customer, now.replace(tzinfo=timezone.utc).astimezone(tz).date(),
                                          now, body.conversation_id)
    db.commit()
    if issuance is None:
        return OfferClaimOut(status="none")
    expires = issuance.expires_at.replace(tzinfo=timezone.utc).astimezone(tz) if issuance.expires_at else None
    return OfferClaimOut(status="new" if is_new else "again", offer_title=issuance.offer.title,
                         offer_detail=issuance.offer.detail, coupon_code=issuance.coupon_code,
                         expires_on=f"{expires.month}月{expires.day}日" if expires else None)


@router.get("/customers/{customer_id}/recommendations", response_model=RecommendationsOut)
def customer_recommendations(customer_id: DbId, db: DbDep,
                             k: Annotated[int, Query(ge=1, le=10)] = 3,
                             text: Annotated[str | None, Query(max_length=MAX_TEXT)] = None) -> RecommendationsOut:
    """Up to ``k`` available products (action_recommend): for the product or kind the
    customer's message ``text`` names (``reason: anchored`` / ``category``), else "also
    bought" from the basket rules, else the best sellers of their stage (``popular``)."""
    customer = _customer(db, customer_id)
    found = recommendations_for(db, customer, k, text=text)
    return RecommendationsOut(reason=found.reason, stage=customer.stage, category=found.category, products=[
        RecommendedProduct(sku=s.product.sku, name=s.product.name, price=s.product.price,
                           confidence=s.confidence, lift=s.lift, because=s.because, sold=s.sold)
        for s in found.products
    ])


def _shop_time(settings) -> tuple[ZoneInfo, datetime]:
    return ZoneInfo(settings.shop_timezone), utcnow()


@router.get("/customers/{customer_id}/product-answer", response_model=ProductAnswerOut)
def product_answer(customer_id: DbId, db: DbDep, settings: SettingsDep,
                   text: Annotated[str, Query(max_length=MAX_TEXT)] = "",
                   intent: Annotated[str | None, Query(max_length=64)] = None,
                   last_sku: Annotated[str | None, Query(max_length=32)] = None) -> ProductAnswerOut:
    """The answer to a question about a product (action_product_answer), from the
    catalogue: price, stock, an attribute, the closest Q&A, an overview — or that the
    product or the fact is unknown. ``last_sku`` is the product of the conversation's
    previous answer, for "这个 / 它"."""
    customer = _customer(db, customer_id)
    tz, now = _shop_time(settings)
    found = product_answers.answer(db, customer, text, intent, last_sku or None,
                                   now.replace(tzinfo=timezone.utc).astimezone(tz).date(), now, tz)
    return ProductAnswerOut(response=found.response, slots=found.slots, sku=found.sku)


@router.get("/customers/{customer_id}/account-answer", response_model=AccountAnswerOut)
def account_answer(customer_id: DbId, db: DbDep, settings: SettingsDep,
                   text: Annotated[str, Query(max_length=MAX_TEXT)] = "") -> AccountAnswerOut:
    """Points, member level or coupons held, from the customer's own account
    (action_account); anonymous visitors are told how to sign in."""
    customer = _customer(db, customer_id)
    tz, now = _shop_time(settings)
    found = account.answer(db, customer, text, now, tz)
    return AccountAnswerOut(response=found.response, slots=found.slots)
