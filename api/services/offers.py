"""Offers per lifecycle stage: eligibility, issuance, period limits, campaigns.

An offer names the stages it is for and optional ``rules``:

    min_orders / max_orders    paid purchases so far
    min_spent                  total paid amount (yuan)
    min_points                 member points
    personas                   list of persona names
    days_of_month              member day(s), for trigger "member_day" (default [8])
    window_days                days either side of the birthday, for "birthday" (default 3)

Triggers: "chat" offers are given when the customer asks; "birthday", "member_day" and
"festival" (between ``starts_on`` and ``ends_on``) only on their dates, by the daily
campaign job or when the customer asks on such a day. A customer never gets the same
offer twice within ``period_days``.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Customer, Offer, OfferIssuance, Order
from api.models.content import OFFER_KINDS, OFFER_TRIGGERS
from api.models.customer import PERSONAS, STAGES
from api.services import loop_policy
from api.domain.lifecycle import NOT_PURCHASES

_RULE_TYPES = {"min_orders": int, "max_orders": int, "min_spent": (int, float), "min_points": int,
               "personas": list, "days_of_month": list, "window_days": int}
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


@dataclass(frozen=True)
class CustomerFacts:
    stage: str
    orders: int = 0
    spent: Decimal = Decimal(0)
    points: int = 0
    persona: str | None = None
    birthday: date | None = None
    # offer id -> when this customer last got it
    last_issued: dict[int, datetime] = field(default_factory=dict)


def validate_offer_fields(*, code: str, kind: str, trigger: str, stages: list[str], rules: dict,
                          period_days: int, valid_days: int, starts_on: date | None,
                          ends_on: date | None) -> None:
    """ValueError naming the first problem."""
    if not code or not all(c.isalnum() or c in "-_" for c in code):
        raise ValueError("优惠编码只能包含字母、数字、- 和 _")
    if kind not in OFFER_KINDS:
        raise ValueError(f"未知的优惠类型 {kind!r}；可选：{'、'.join(OFFER_KINDS)}")
    if trigger not in OFFER_TRIGGERS:
        raise ValueError(f"未知的触发方式 {trigger!r}；可选：{'、'.join(OFFER_TRIGGERS)}")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"未知的阶段 {'、'.join(unknown)}；可选：{'、'.join(STAGES)}")
    for key, value in rules.items():
        if key not in _RULE_TYPES:
            raise ValueError(f"未知的领取条件 {key!r}；可选：{'、'.join(_RULE_TYPES)}")
        if isinstance(value, bool) or not isinstance(value, _RULE_TYPES[key]):
            raise ValueError(f"领取条件 {key} 的值类型不对")
    if any(p not in PERSONAS for p in rules.get("personas", [])):
        raise ValueError(f"personas 只能取：{'、'.join(PERSONAS)}")
    if any(not isinstance(d, int) or not 1 <= d <= 31 for d in rules.get("days_of_month", [])):
        raise ValueError("days_of_month 须为 1–31 的整数")
    if period_days < 1 or valid_days < 1:
        raise ValueError("period_days 和 valid_days 至少为 1 天")
    if trigger == "festival" and not (starts_on and ends_on):
        raise ValueError("节日活动须设置开始和结束日期")
    if starts_on and ends_on and ends_on < starts_on:
        raise ValueError("结束日期早于开始日期")


def _near_birthday(birthday: date | None, today: date, window: int) -> bool:
    if birthday is None:
        return False
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            this_year = birthday.replace(year=year)
        except ValueError:  # 29 February in a common year: celebrate on the 28th
            this_year = date(year, 2, 28)
        if abs((this_year - today).days) <= window:
            return True
    return False


def is_eligible(offer: Offer, facts: CustomerFacts, today: date, now: datetime) -> bool:
    """Pure: may this customer get this offer today?"""
    if not offer.enabled:
        return False
    if offer.starts_on and today < offer.starts_on or offer.ends_on and today > offer.ends_on:
        return False
    if offer.stages and facts.stage not in offer.stages:
        return False
    rules = offer.rules or {}
    if facts.orders < rules.get("min_orders", 0) or facts.orders > rules.get("max_orders", 10 ** 9):
        return False
    if facts.spent < Decimal(str(rules.get("min_spent", 0))) or facts.points < rules.get("min_points", 0):
        return False
    if rules.get("personas") and facts.persona not in rules["personas"]:
        return False
    if offer.trigger == "birthday" and not _near_birthday(facts.birthday, today, rules.get("window_days", 3)):
        return False
    if offer.trigger == "member_day" and today.day not in rules.get("days_of_month", [8]):
        return False
    last = facts.last_issued.get(offer.id)
    return last is None or now - last >= timedelta(days=offer.period_days)


def customer_facts(db: Session, customer: Customer) -> CustomerFacts:
    orders, spent = db.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.amount), 0))
        .where(Order.customer_id == customer.id, Order.status.not_in(NOT_PURCHASES))).one()
    last = dict(db.execute(select(OfferIssuance.offer_id, func.max(OfferIssuance.issued_at))
                           .where(OfferIssuance.customer_id == customer.id)
                           .group_by(OfferIssuance.offer_id)).all())
    return CustomerFacts(stage=customer.stage, orders=orders, spent=Decimal(str(spent)), points=customer.points,
                         persona=customer.persona, birthday=customer.birthday, last_issued=last)


def _new_code(prefix: str | None) -> str:
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{prefix}-{body}" if prefix else body


def issue(db: Session, offer: Offer, customer: Customer, trigger: str, now: datetime,
          conversation_id: str | None = None) -> OfferIssuance:
    issuance = OfferIssuance(offer=offer, customer_id=customer.id, stage=customer.stage, trigger=trigger,
                             conversation_id=conversation_id, issued_at=now,
                             coupon_code=_new_code(offer.coupon_prefix) if offer.coupon_prefix else None,
                             expires_at=now + timedelta(days=offer.valid_days))
    db.add(issuance)
    db.flush()
    return issuance


def current_issuance(db: Session, customer_id: int, now: datetime) -> OfferIssuance | None:
    """The customer's newest coupon that is still valid and unused."""
    return db.scalar(select(OfferIssuance)
                     .where(OfferIssuance.customer_id == customer_id, OfferIssuance.coupon_code.is_not(None),
                            OfferIssuance.redeemed_at.is_(None), OfferIssuance.expires_at > now)
                     .order_by(OfferIssuance.issued_at.desc()).limit(1))


def claim_offer(db: Session, customer: Customer, today: date, now: datetime,
                conversation_id: str | None = None) -> tuple[OfferIssuance | None, bool]:
    """The customer asked for an offer: give the best one they may have today.

    Returns (issuance, is_new). When nothing new is allowed but they already hold a
    valid coupon from within its period, that one is returned again (is_new False), so
    asking twice never yields a second coupon."""
    offer = choose_offer(_eligible_offers(db, customer, today, now), customer.stage)
    held = current_issuance(db, customer.id, now)
    # Alternatives the loop weighs count as one offer: who holds one gets it again, not
    # the other as well.
    if offer is not None and not (held is not None and loop_policy.same_offer_group(held.offer, offer)):
        return issue(db, offer, customer, "chat", now, conversation_id), True
    return held, False


def _eligible_offers(db: Session, customer: Customer, today: date, now: datetime) -> list[Offer]:
    facts = customer_facts(db, customer)
    offers = db.scalars(select(Offer).where(Offer.enabled.is_(True), loop_policy.usable(Offer))
                        .order_by(Offer.priority.desc(), Offer.id)).all()
    return [o for o in offers if is_eligible(o, facts, today, now)]


def usable_offer(db: Session, customer: Customer, today: date,
                 now: datetime) -> tuple[OfferIssuance | None, Offer | None]:
    """Read-only, for answers that mention an offer (a product's price): the coupon the
    customer holds, else the offer ``claim_offer`` could give them today — nothing is
    issued. Among equals the pick is stable per customer, so asking twice says the same."""
    held = current_issuance(db, customer.id, now)
    if held is not None:
        return held, None
    eligible = _eligible_offers(db, customer, today, now)
    return None, choose_offer(eligible, customer.stage, random.Random(customer.id)) if eligible else None


def choose_offer(eligible: list[Offer], stage: str, rng: random.Random | None = None) -> Offer | None:
    """The highest priority wins; among equals an admin's pin wins, else the analytics
    loop's share for the stage (``stage_weights``, even when it has not run) decides."""
    if not eligible:
        return None
    top = max(o.priority for o in eligible)
    tier = [o for o in eligible if o.priority == top]
    pinned = loop_policy.pinned_arms(tier)
    if pinned:  # an admin's pin wins outright
        return pinned[0]
    weights = [max(float((o.stage_weights or {}).get(stage, 1.0)), 0.0) for o in tier]
    if not any(weights):
        weights = [1.0] * len(tier)
    return (rng or random).choices(tier, weights=weights)[0]


CAMPAIGN_CHUNK = 500


def issue_campaign_offers(db: Session, today: date, now: datetime, progress=None) -> dict[str, int]:
    """The daily job: birthday, member-day and festival offers to everyone eligible
    today. Commits every ``CAMPAIGN_CHUNK`` customers so a long run holds no long
    transaction; ``progress`` (set_total/advance) follows the customers."""
    campaigns = db.scalars(select(Offer).where(Offer.enabled.is_(True), Offer.trigger != "chat")).all()
    counts = {"campaigns": len(campaigns), "customers": 0, "issued": 0}
    if not campaigns:
        return counts
    live = Customer.merged_into_id.is_(None)
    if progress is not None:
        progress.set_total(db.scalar(select(func.count()).select_from(Customer).where(live)) or 0)
    last_id = 0
    while True:
        chunk = db.scalars(select(Customer).where(live, Customer.id > last_id)
                           .order_by(Customer.id).limit(CAMPAIGN_CHUNK)).all()
        if not chunk:
            return counts
        last_id = chunk[-1].id
        for customer in chunk:
            facts = customer_facts(db, customer)
            for offer in campaigns:
                if is_eligible(offer, facts, today, now):
                    issue(db, offer, customer, offer.trigger, now)
                    counts["issued"] += 1
        db.commit()
        counts["customers"] += len(chunk)
        if progress is not None:
            progress.advance(len(chunk))
