"""Member levels from a customer's cumulative paid spend, and what each level gives.

A level is earned by spending: what the customer paid over all their orders (the same
purchases api/domain/lifecycle.py counts — not unpaid, cancelled or refunded orders).
The chat tells a member their level, its benefits and how far the next one is.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Level:
    name: str
    min_spent: Decimal
    benefits: str


LEVELS: tuple[Level, ...] = (
    Level("普通会员", Decimal(0), "消费 1 元积 1 分，积分可抵现；生日当月领生日礼券"),
    Level("银卡会员", Decimal(500), "消费 1 元积 1.2 分；生日礼券；每月 8 日会员日专享折扣"),
    Level("金卡会员", Decimal(2000), "消费 1 元积 1.5 分；生日礼券；会员日专享折扣；全场包邮"),
    Level("钻石会员", Decimal(5000), "消费 1 元积 2 分；生日礼券；会员日专享折扣；全场包邮；专属客服优先接待"),
)


@dataclass(frozen=True)
class Standing:
    level: Level
    next_level: Level | None
    to_next: Decimal  # still to spend for the next level (0 at the top)

    @property
    def next_level_text(self) -> str:
        if self.next_level is None:
            return f"您已是最高等级{self.level.name}"
        return f"再消费 ¥{self.to_next:.2f} 升级到{self.next_level.name}"


def standing_for(spent: Decimal | int | float) -> Standing:
    """The level of a customer who has paid ``spent`` yuan in all, and the next one."""
    spent = Decimal(str(spent)) if not isinstance(spent, Decimal) else spent
    spent = max(spent, Decimal(0))
    current = LEVELS[0]
    for level in LEVELS:
        if spent >= level.min_spent:
            current = level
    index = LEVELS.index(current)
    following = LEVELS[index + 1] if index + 1 < len(LEVELS) else None
    gap = (following.min_spent - spent).quantize(Decimal("0.01")) if following else Decimal(0)
    return Standing(current, following, gap)
