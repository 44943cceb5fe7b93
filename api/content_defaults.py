"""The replies and offers a new shop starts with, one set per lifecycle stage.

Written by "system" with revisions like any admin edit, so the console's history
shows where they came from; a shop edits or disables them in the console.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Offer, ReplyVariant
from api.services import revisions
from api.services.responses import ResponseCatalog
from api.services.variants import create_variant

SYSTEM = "system"

GREETINGS = {
    "prospect": "您好～欢迎第一次来店里逛逛！新人可领满 99 减 15 券，回复「领券」就能拿到。"
                "查商品、问物流、售后问题都可以问我～",
    "new": "{name}您好～欢迎回来！订单、物流、退换货的问题都可以直接问我。",
    "growing": "{name}您好～您现在有 {points} 积分，再多逛逛就能升级稳定会员啦。请问有什么可以帮您？",
    "stable": "{name}您好，感谢您一直以来的支持！作为稳定会员您享有顺丰包邮和专属客服，今天有什么可以帮您？",
    "at_risk": "{name}，好久不见，想您啦！给您准备了老朋友回归礼，回复「领券」就能领取。有什么可以帮您？",
    "churned": "{name}您好，好久不见！店里上了很多新品，还为您准备了回归礼，回复「领券」即可领取～",
}

# Second wordings for some stages: alternatives the analytics loop weighs by outcome
# (analytics/loop.py) until one proves better; both start at the same weight.
ALTERNATIVE_GREETINGS = {
    "new": "{name}您好！第二次见面啦～有任何订单、物流或售后问题，直接告诉我就好。",
    "growing": "{name}您好！感谢常来光顾，今天想了解点什么？订单、物流、新品都可以问我。",
    "at_risk": "{name}您好，好久没见到您了！最近有没有遇到什么不满意的地方？告诉我，我马上帮您处理。",
}


def _offers(today: date) -> list[dict]:
    double12 = date(today.year, 12, 10)
    return [
        dict(code="new-welcome", title="新人专享满 99 减 15 券", detail="满 99 元减 15 元，全场通用",
             kind="coupon", stages=["prospect", "new"], rules={"max_orders": 2}, period_days=365,
             valid_days=14, coupon_prefix="NEW", priority=10),
        dict(code="new-freeship", title="新客首单包邮", detail="首单不限金额包邮（偏远地区除外）",
             kind="coupon", stages=["prospect", "new"], rules={"max_orders": 2}, period_days=365,
             valid_days=14, coupon_prefix="SHIP", priority=10),
        dict(code="growing-upgrade", title="成长会员升级礼", detail="满 199 元减 20 元；本月再下 2 单即可升级稳定会员，享全场 95 折",
             kind="upgrade", stages=["growing"], period_days=30, valid_days=30, coupon_prefix="UP", priority=10),
        dict(code="stable-benefit", title="稳定会员专享券", detail="满 299 元减 40 元，可与会员折扣叠加",
             kind="benefit", stages=["stable"], period_days=30, valid_days=30, coupon_prefix="VIP", priority=10),
        dict(code="winback", title="老朋友回归礼", detail="无门槛 20 元券，全场通用", kind="winback",
             stages=["at_risk", "churned"], period_days=90, valid_days=30, coupon_prefix="BACK", priority=20),
        dict(code="winback-gift", title="回归赠品", detail="下单即送定制茶杯一只（限量）", kind="winback",
             stages=["at_risk", "churned"], period_days=90, valid_days=30, coupon_prefix="GIFT", priority=20),
        dict(code="birthday", title="生日礼券", detail="满 100 元减 30 元，生日前后 3 天可领", kind="campaign",
             trigger="birthday", rules={"window_days": 3}, period_days=300, valid_days=10,
             coupon_prefix="BDAY", priority=30),
        dict(code="member-day", title="会员日 9 折券", detail="每月 8 日会员日，全场 9 折（最高减 50 元）",
             kind="campaign", trigger="member_day", stages=["new", "growing", "stable"],
             rules={"days_of_month": [8]}, period_days=20, valid_days=3, coupon_prefix="MDAY", priority=25),
        dict(code="double12", title="双 12 返场券", detail="满 200 元减 30 元", kind="campaign", trigger="festival",
             starts_on=double12, ends_on=date(today.year, 12, 12), period_days=30, valid_days=5,
             coupon_prefix="D12", priority=28),
    ]


def seed_content(db: Session, catalog: ResponseCatalog, today: date) -> bool:
    """Add the defaults once; False when the shop already has variants or offers."""
    if db.scalar(select(ReplyVariant.id).limit(1)) or db.scalar(select(Offer.id).limit(1)):
        return False
    for greetings in (GREETINGS, ALTERNATIVE_GREETINGS):
        for stage, text in greetings.items():
            create_variant(db, catalog, SYSTEM, template="utter_greet", stage=stage, text=text, note="默认内容")
    for fields in _offers(today):
        offer = Offer(**fields, version=1, updated_by=SYSTEM)
        db.add(offer)
        db.flush()
        revisions.record(db, "offer", offer, "create", SYSTEM, "默认内容")
    return True
