"""Stage computation at every boundary of patent 000's stages."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from api.domain.lifecycle import StageRules, stage_for

NOW = datetime(2026, 11, 22, 12, 0)


def every(days: float, count: int, last_days_ago: float = 1) -> list[datetime]:
    """``count`` purchases ``days`` apart, the last one ``last_days_ago`` before NOW."""
    last = NOW - timedelta(days=last_days_ago)
    return [last - timedelta(days=days * i) for i in range(count)]


@pytest.mark.parametrize("count, stage", [(0, "prospect"), (1, "new"), (5, "new"), (6, "growing"),
                                          (15, "growing"), (16, "stable"), (40, "stable")])
def test_count_boundaries(count, stage):
    assert stage_for(every(7, count), NOW).stage == stage


def test_churn_boundary_is_configurable():
    assert stage_for(every(7, 20, last_days_ago=179.9), NOW).stage != "churned"
    assert stage_for(every(7, 20, last_days_ago=180), NOW).stage == "churned"
    assert stage_for(every(7, 1, last_days_ago=180), NOW).stage == "churned"
    assert stage_for(every(7, 3, last_days_ago=40), NOW, StageRules(churn_days=30)).stage == "churned"


def test_at_risk_is_relative_to_the_customers_own_rhythm():
    weekly = every(7, 20, last_days_ago=13.9)
    assert stage_for(weekly, NOW).stage == "stable"
    assert stage_for(every(7, 20, last_days_ago=14), NOW).stage == "at_risk"
    # A monthly buyer 40 days out is not at risk; at 60 days they are.
    assert stage_for(every(30, 8, last_days_ago=40), NOW).stage == "growing"
    decision = stage_for(every(30, 8, last_days_ago=60), NOW)
    assert decision.stage == "at_risk" and "30-day rhythm" in decision.reason


def test_rhythm_needs_enough_purchases_and_a_minimum_gap():
    assert stage_for(every(3, 2, last_days_ago=100), NOW).stage == "new"  # two purchases: no rhythm yet
    daily = every(1, 10, last_days_ago=10)
    assert stage_for(daily, NOW).stage == "growing"  # 10 days < at_risk_min_days
    assert stage_for(every(1, 10, last_days_ago=14), NOW).stage == "at_risk"


def test_order_of_purchases_does_not_matter():
    times = every(10, 8, last_days_ago=2)
    assert stage_for(list(reversed(times)), NOW) == stage_for(times, NOW)


@pytest.mark.parametrize("rules", [dict(new_max=0), dict(new_max=10, growing_max=10), dict(churn_days=0),
                                   dict(at_risk_factor=1.0), dict(rhythm_min_purchases=1)])
def test_bad_rules_are_refused(rules):
    with pytest.raises(ValueError):
        StageRules(**rules)
