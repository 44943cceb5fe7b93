"""Lifecycle stages as patent 000 defines them, from a customer's purchases.

    prospect  no purchase yet
    new       1–5 purchases
    growing   6–15 purchases
    stable    more than 15, buying at their usual rhythm
    at_risk   buying clearly below their own rhythm
    churned   no purchase for ``churn_days``

A customer's rhythm is the median gap between their purchases; they are at risk when
the time since their last purchase is ``at_risk_factor`` times that gap or more. It
needs ``rhythm_min_purchases`` purchases to be known. Churn wins over at risk, and both
win over the count-based stages. Only paid orders are purchases.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median

NOT_PURCHASES = frozenset({"pending_payment", "cancelled", "refunded"})


@dataclass(frozen=True)
class StageRules:
    new_max: int = 5
    growing_max: int = 15
    churn_days: int = 180
    at_risk_factor: float = 2.0
    rhythm_min_purchases: int = 3
    # A gap shorter than this is never "at risk", however regular the customer was.
    at_risk_min_days: int = 14

    def __post_init__(self) -> None:
        if not 0 < self.new_max < self.growing_max:
            raise ValueError("stage rules need 0 < new_max < growing_max")
        if self.churn_days <= 0 or self.at_risk_factor <= 1 or self.rhythm_min_purchases < 2:
            raise ValueError("stage rules need churn_days > 0, at_risk_factor > 1, rhythm_min_purchases >= 2")


@dataclass(frozen=True)
class StageDecision:
    stage: str
    reason: str


def stage_for(purchases: list[datetime], now: datetime, rules: StageRules = StageRules()) -> StageDecision:
    """The stage of a customer whose purchases happened at these times."""
    count = len(purchases)
    if count == 0:
        return StageDecision("prospect", "no purchase yet")
    times = sorted(purchases)
    idle_days = (now - times[-1]).total_seconds() / 86400
    if idle_days >= rules.churn_days:
        return StageDecision("churned", f"no purchase for {idle_days:.0f} days (churn after {rules.churn_days})")
    if count >= rules.rhythm_min_purchases:
        rhythm = median((b - a).total_seconds() / 86400 for a, b in zip(times, times[1:]))
        if idle_days >= max(rules.at_risk_factor * rhythm, rules.at_risk_min_days):
            return StageDecision("at_risk", f"{idle_days:.0f} days since the last purchase against a usual "
                                            f"{rhythm:.0f}-day rhythm")
    if count <= rules.new_max:
        return StageDecision("new", f"{count} purchases (new: 1–{rules.new_max})")
    if count <= rules.growing_max:
        return StageDecision("growing", f"{count} purchases (growing: {rules.new_max + 1}–{rules.growing_max})")
    return StageDecision("stable", f"{count} purchases at the usual rhythm")
