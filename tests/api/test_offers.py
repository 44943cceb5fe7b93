"""Offers: who may have which, never twice within the period, campaigns on their dates."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from api.models import Customer, Offer, OfferIssuance
from api.services.offers import (
    CustomerFacts,
    claim_offer,
    is_eligible,
    issue_campaign_offers,
    validate_offer_fields,
)
from tests.api.conftest import INTERNAL

NOW = datetime(2026, 11, 22, 8, 0)
TODAY = NOW.date()


def offer(**fields) -> Offer:
    base = dict(id=1, code="x", title="券", detail="d", kind="coupon", trigger="chat", stages=[], rules={},
                period_days=30, valid_days=14, coupon_prefix="X", priority=0, enabled=True,
                starts_on=None, ends_on=None)
    return Offer(**{**base, **fields})


@pytest.mark.parametrize("facts, eligible", [
    (CustomerFacts("new", orders=1), True),
    (CustomerFacts("growing", orders=7), False),            # not for this stage
    (CustomerFacts("new", orders=3), False),                # max_orders 2
    (CustomerFacts("new", orders=1, last_issued={1: NOW - timedelta(days=29)}), False),  # within the period
    (CustomerFacts("new", orders=1, last_issued={1: NOW - timedelta(days=30)}), True),   # period over
])
def test_stage_rules_and_period(facts, eligible):
    o = offer(stages=["prospect", "new"], rules={"max_orders": 2})
    assert is_eligible(o, facts, TODAY, NOW) is eligible


def test_spending_points_and_persona_rules():
    o = offer(rules={"min_spent": 500, "min_points": 100, "personas": ["high_value"]})
    rich = CustomerFacts("stable", spent=Decimal("600"), points=150, persona="high_value")
    assert is_eligible(o, rich, TODAY, NOW)
    assert not is_eligible(o, CustomerFacts("stable", spent=Decimal("499.99"), points=150, persona="high_value"),
                           TODAY, NOW)
    assert not is_eligible(o, CustomerFacts("stable", spent=Decimal("600"), points=150, persona="ordinary"),
                           TODAY, NOW)


@pytest.mark.parametrize("birthday, today, eligible", [
    (date(1990, 11, 25), date(2026, 11, 22), True),    # three days before
    (date(1990, 11, 26), date(2026, 11, 22), False),   # four days before
    (date(1990, 1, 1), date(2026, 12, 30), True),      # across the new year
    (date(1992, 2, 29), date(2027, 2, 28), True),      # leap-day birthday in a common year
    (None, date(2026, 11, 22), False),
])
def test_birthday_window(birthday, today, eligible):
    o = offer(trigger="birthday", kind="campaign", rules={"window_days": 3})
    assert is_eligible(o, CustomerFacts("new", birthday=birthday), today, NOW) is eligible


def test_member_day_and_festival_dates():
    member_day = offer(trigger="member_day", rules={"days_of_month": [8]})
    assert is_eligible(member_day, CustomerFacts("new"), date(2026, 12, 8), NOW)
    assert not is_eligible(member_day, CustomerFacts("new"), date(2026, 12, 9), NOW)
    festival = offer(trigger="festival", starts_on=date(2026, 12, 10), ends_on=date(2026, 12, 12))
    assert [is_eligible(festival, CustomerFacts("new"), date(2026, 12, d), NOW) for d in (9, 10, 12, 13)] == \
        [False, True, True, False]


@pytest.mark.parametrize("fields, problem", [
    ({"kind": "lottery"}, "未知的优惠类型"),
    ({"stages": ["vip"]}, "未知的阶段 vip"),
    ({"rules": {"min_age": 18}}, "未知的领取条件 'min_age'"),
    ({"rules": {"min_orders": "3"}}, "类型不对"),
    ({"rules": {"days_of_month": [32]}}, "1–31"),
    ({"trigger": "festival"}, "开始和结束日期"),
    ({"period_days": 0}, "至少为 1 天"),
])
def test_bad_offers_are_refused_with_the_reason(fields, problem):
    base = dict(code="ok-1", kind="coupon", trigger="chat", stages=[], rules={}, period_days=30, valid_days=14,
                starts_on=None, ends_on=None)
    with pytest.raises(ValueError, match=problem):
        validate_offer_fields(**{**base, **fields})


def _add_offers(db):
    db.add_all([
        Offer(code="new-welcome", title="新人券", detail="满 99 减 15", kind="coupon", stages=["prospect", "new"],
              rules={}, period_days=365, valid_days=14, coupon_prefix="NEW", priority=10, updated_by="t"),
        Offer(code="winback", title="回归礼", detail="无门槛 20", kind="winback", stages=["at_risk", "churned"],
              rules={}, period_days=90, valid_days=30, coupon_prefix="BACK", priority=20, updated_by="t"),
        Offer(code="bday", title="生日券", detail="满 100 减 30", kind="campaign", trigger="birthday", stages=[],
              rules={"window_days": 3}, period_days=300, valid_days=10, coupon_prefix="BDAY", priority=30,
              updated_by="t"),
    ])
    db.commit()


def test_claiming_twice_gives_the_same_coupon_not_a_second_one(db):
    _add_offers(db)
    customer = Customer(stage="new")
    db.add(customer)
    db.commit()
    first, new = claim_offer(db, customer, TODAY, NOW, "conv-1")
    assert new and first.offer.code == "new-welcome" and first.coupon_code.startswith("NEW-")
    again, new_again = claim_offer(db, customer, TODAY, NOW + timedelta(hours=1), "conv-2")
    assert not new_again and again.id == first.id
    assert db.scalar(select(func.count(OfferIssuance.id))) == 1


def test_the_highest_priority_eligible_offer_wins(db):
    _add_offers(db)
    customer = Customer(stage="at_risk", birthday=date(1990, 11, 23))
    db.add(customer)
    db.commit()
    issuance, _ = claim_offer(db, customer, TODAY, NOW)
    assert issuance.offer.code == "bday"  # birthday (30) before win-back (20)
    second, new = claim_offer(db, customer, TODAY, NOW)
    assert new and second.offer.code == "winback"


def test_campaign_job_issues_birthday_offers_once(db):
    _add_offers(db)
    db.add_all([Customer(stage="new", birthday=date(1991, 11, 22)), Customer(stage="new", birthday=date(1991, 6, 1)),
                Customer(stage="stable")])
    db.commit()
    counts = issue_campaign_offers(db, TODAY, NOW)
    db.commit()
    assert counts["issued"] == 1 and counts["customers"] == 3
    assert issue_campaign_offers(db, TODAY, NOW + timedelta(hours=3))["issued"] == 0


def test_the_action_servers_claim_endpoint(client, db):
    _add_offers(db)
    customer = Customer(stage="prospect")
    db.add(customer)
    db.commit()
    auth = {"Authorization": f"Bearer {INTERNAL}"}
    url = f"/internal/customers/{customer.id}/offers/claim"
    first = client.post(url, json={"conversation_id": "c1"}, headers=auth).json()
    assert first["status"] == "new" and first["offer_title"] == "新人券"
    assert first["coupon_code"].startswith("NEW-") and first["expires_on"].endswith("日")
    again = client.post(url, json={"conversation_id": "c1"}, headers=auth).json()
    assert again["status"] == "again" and again["coupon_code"] == first["coupon_code"]
    assert client.post(url, json={}).status_code == 401
    assert client.post("/internal/customers/999999/offers/claim", json={}, headers=auth).status_code == 404


def test_no_offer_for_the_stage(client, db):
    _add_offers(db)
    customer = Customer(stage="stable")
    db.add(customer)
    db.commit()
    answer = client.post(f"/internal/customers/{customer.id}/offers/claim", json={},
                         headers={"Authorization": f"Bearer {INTERNAL}"}).json()
    assert answer == {"status": "none", "offer_title": None, "offer_detail": None, "coupon_code": None,
                      "expires_on": None}


def test_among_equal_priorities_the_loops_stage_share_or_an_admins_pin_decides():
    import random

    from api.services.offers import choose_offer

    a = Offer(code="A", priority=1, stage_weights={"new": 0.9, "growing": 0.1}, loop_mode="auto")
    b = Offer(code="B", priority=1, stage_weights={"new": 0.1, "growing": 0.9}, loop_mode="auto")
    low = Offer(code="LOW", priority=0, stage_weights={}, loop_mode="pinned")
    rng = random.Random(3)
    picks = [choose_offer([a, b, low], "new", rng).code for _ in range(2000)]
    assert 0.85 < picks.count("A") / len(picks) < 0.95 and "LOW" not in picks
    assert choose_offer([a, b], "stable", rng).code in {"A", "B"}  # no share yet: even
    b.loop_mode = "pinned"
    assert {choose_offer([a, b], "new", rng).code for _ in range(50)} == {"B"}
    assert choose_offer([], "new") is None


def test_alternatives_the_loop_weighs_count_as_one_offer(db):
    _add_offers(db)
    db.add(Offer(code="new-freeship", title="新客首单包邮", detail="首单包邮", kind="coupon", stages=["prospect", "new"],
                 rules={}, period_days=365, valid_days=14, coupon_prefix="SHIP", priority=10, version=1, updated_by="t"))
    customer = Customer(stage="new")
    db.add(customer)
    db.commit()
    first, new = claim_offer(db, customer, TODAY, NOW, "conv-1")
    again, new_again = claim_offer(db, customer, TODAY, NOW + timedelta(hours=1), "conv-2")
    assert new and not new_again and again.id == first.id
    assert db.scalar(select(func.count(OfferIssuance.id))) == 1
