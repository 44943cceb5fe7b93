"""Answers about the customer's own account: points, member level and coupons held.

Only a signed-in member has an account to speak of: a customer with a ``user_id``
identity (WeChat followers who linked their member account were merged into that
customer, api/services/merge.py). Anyone else is told how to sign in.

The level is earned by cumulative paid spend (api/domain/membership.py); coupons are
the customer's issued offers with a code that are neither redeemed nor expired, their
expiry given as a date of the shop's time zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.domain.catalogue_match import normalise
from api.domain.lifecycle import NOT_PURCHASES
from api.domain.membership import standing_for
from api.models import Customer, CustomerIdentity, OfferIssuance, Order

MAX_COUPONS = 10
_COUPON_CUES = ("券", "红包", "优惠码", "过期", "到期")
_LEVEL_CUES = ("等级", "级别", "权益", "特权", "升级", "几级", "什么会员", "会员卡", "银卡", "金卡", "钻石", "vip", "福利")
_POINTS_CUES = ("积分", "分数", "多少分")


@dataclass(frozen=True)
class AccountAnswer:
    response: str
    slots: dict[str, str] = field(default_factory=dict)


def is_member(db: Session, customer: Customer) -> bool:
    return db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.customer_id == customer.id,
                                                       CustomerIdentity.kind == "user_id").limit(1)) is not None


def paid_spend(db: Session, customer_id: int) -> Decimal:
    spent = db.scalar(select(func.coalesce(func.sum(Order.amount), 0))
                      .where(Order.customer_id == customer_id, Order.status.not_in(NOT_PURCHASES)))
    return Decimal(str(spent or 0))


def aspect_of(text: str | None) -> str:
    """coupons | level | points (the default: points with the level)."""
    norm = normalise(text or "")
    if any(c in norm for c in _COUPON_CUES):
        return "coupons"
    if any(c in norm for c in _LEVEL_CUES) and not any(c in norm for c in _POINTS_CUES):
        return "level"
    return "points"


def _local_date(moment: datetime, tz) -> str:
    local = moment.replace(tzinfo=timezone.utc).astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def coupon_list(db: Session, customer_id: int, now: datetime, tz) -> str:
    held = db.scalars(select(OfferIssuance).options(selectinload(OfferIssuance.offer))
                      .where(OfferIssuance.customer_id == customer_id, OfferIssuance.coupon_code.is_not(None),
                             OfferIssuance.redeemed_at.is_(None),
                             (OfferIssuance.expires_at.is_(None)) | (OfferIssuance.expires_at > now))
                      .order_by(OfferIssuance.expires_at, OfferIssuance.id).limit(MAX_COUPONS)).all()
    lines = []
    for issuance in held:
        until = f"{_local_date(issuance.expires_at, tz)}前有效" if issuance.expires_at else "长期有效"
        lines.append(f"「{issuance.offer.title}」（{issuance.offer.detail}）券码 {issuance.coupon_code}，{until}")
    return "；".join(lines)


def answer(db: Session, customer: Customer, text: str | None, now: datetime, tz) -> AccountAnswer:
    if not is_member(db, customer):
        return AccountAnswer("utter_account_sign_in")
    aspect = aspect_of(text)
    if aspect == "coupons":
        listed = coupon_list(db, customer.id, now, tz)
        return AccountAnswer("utter_account_coupons", {"coupon_list": listed}) if listed \
            else AccountAnswer("utter_account_no_coupons")
    standing = standing_for(paid_spend(db, customer.id))
    name = customer.display_name or "亲"
    if aspect == "level":
        return AccountAnswer("utter_account_level", {"customer_name": name, "level": standing.level.name,
                                                     "benefits": standing.level.benefits,
                                                     "next_level_text": standing.next_level_text})
    return AccountAnswer("utter_account_points", {"customer_name": name, "points": str(customer.points),
                                                  "level": standing.level.name,
                                                  "next_level_text": standing.next_level_text})
