"""A realistic demo shop: hundreds of customers and thousands of orders, or 1000× that.
(One module of about 450 lines: the calendar, the purchase plans and the bulk rows are
one vectorised pipeline, read top to bottom.)

``generate_demo_shop(db, customers=400)`` adds

- a catalogue of 42 products in 8 categories (the 12 of ``demo/members.py`` are reused),
  each with the facts of ``demo/catalogue.py`` (description, attributes, aliases, stock, Q&A);
- customers in every lifecycle stage of ``api/domain/lifecycle.py``, in the mix of
  ``STAGE_MIX``, each with the stage ``stage_for`` gives their paid orders and one
  ``StageTransition`` (prospect → stage, trigger ``import``);
- two years of orders with Chinese shopping seasons (双11, 618, 年货节, the Spring
  Festival stop, the August lull) and an evening-heavy day;
- baskets with co-purchase structure (tea with tea ware, snacks with snacks, hoodies
  with the tote bag, …) that association-rule mining can find again.

It is deterministic: the same ``seed``, ``now`` and ``rules`` give the same rows (row
ids aside, which depend on what the database already holds). It commits.

There is no append mode: when a demo member (a ``user_id`` identity ``m-…``) exists it
raises ``ValueError("demo data already present")``, since a second population on top of
the first would not have the stage mix the demo promises.

Why it is fast: everything is planned in memory (numpy for the time series,
``random.Random`` for the baskets) and written with Core ``insert()`` executemany in
chunks, never ORM objects one by one. Customer and order ids are reserved up front so
orders can name their customer without a round trip per row.
"""
from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import accumulate

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Customer, CustomerIdentity, Order, OrderItem, Product, ProductQA, StageTransition
from api.models.customer import STAGES
from api.domain.lifecycle import NOT_PURCHASES, StageRules, stage_for
from demo.bulk import CHINA, HOUR_WEIGHT, reserve_ids, write_rows
from demo.catalogue import product_facts, product_qas

# (sku, name, category, price); the first twelve are demo/members.py's.
CATALOG = [
    ("TEA-001", "明前龙井 250g", "茶叶", "168.00"), ("TEA-002", "云南普洱熟茶饼 357g", "茶叶", "128.00"),
    ("TEA-003", "安溪铁观音 250g", "茶叶", "138.00"), ("TEA-004", "正山小种红茶 200g", "茶叶", "118.00"),
    ("TEA-005", "福鼎白茶饼 300g", "茶叶", "198.00"), ("TEA-006", "茉莉花茶 100g", "茶叶", "58.00"),
    ("CUP-001", "不锈钢保温杯 500ml", "杯具", "89.00"), ("CUP-002", "玻璃泡茶杯 带滤网", "杯具", "59.00"),
    ("CUP-003", "汝窑品茗杯 四只装", "杯具", "128.00"), ("CUP-004", "便携旅行茶具套装", "杯具", "159.00"),
    ("CUP-005", "陶瓷马克杯 350ml", "杯具", "39.00"), ("CUP-006", "宜兴紫砂壶 西施 200ml", "杯具", "268.00"),
    ("BAG-001", "帆布托特包", "箱包", "79.00"), ("BAG-002", "轻便双肩包 20L", "箱包", "199.00"),
    ("BAG-003", "斜挎小方包", "箱包", "129.00"), ("BAG-004", "拉杆登机箱 20 寸", "箱包", "399.00"),
    ("BAG-005", "折叠购物袋 两只装", "箱包", "29.00"),
    ("TEE-001", "纯棉圆领短袖 T 恤", "服饰", "69.00"), ("TEE-002", "加绒卫衣", "服饰", "159.00"),
    ("TEE-003", "连帽卫衣", "服饰", "179.00"), ("TEE-004", "精梳棉袜 五双装", "服饰", "39.00"),
    ("TEE-005", "针织毛线帽", "服饰", "49.00"), ("TEE-006", "轻薄羽绒背心", "服饰", "269.00"),
    ("SNK-001", "每日坚果 30 袋装", "零食", "99.00"), ("SNK-002", "手工牛轧糖 500g", "零食", "49.00"),
    ("SNK-003", "芒果干 500g", "零食", "39.00"), ("SNK-004", "手撕牛肉干 250g", "零食", "69.00"),
    ("SNK-005", "凤梨酥礼盒 12 枚", "零食", "88.00"), ("SNK-006", "海苔脆片 10 包", "零食", "29.00"),
    ("HOM-001", "香薰蜡烛 雪松味", "家居", "88.00"), ("HOM-002", "珊瑚绒毛毯", "家居", "129.00"),
    ("HOM-003", "记忆棉枕", "家居", "159.00"), ("HOM-004", "桌面收纳盒", "家居", "45.00"),
    ("HOM-005", "香薰精油 三瓶装", "家居", "79.00"),
    ("CAR-001", "氨基酸洗面奶 120g", "个护", "69.00"), ("CAR-002", "护手霜礼盒 三支装", "个护", "59.00"),
    ("CAR-003", "保湿面霜 50g", "个护", "149.00"), ("CAR-004", "无硅油洗发水 500ml", "个护", "79.00"),
    ("DIG-001", "20W 快充充电头", "数码配件", "59.00"), ("DIG-002", "磁吸充电宝 10000mAh", "数码配件", "149.00"),
    ("DIG-003", "降噪蓝牙耳机", "数码配件", "299.00"), ("DIG-004", "编织数据线 两根装", "数码配件", "35.00"),
]
CATEGORIES = ("茶叶", "杯具", "箱包", "服饰", "零食", "家居", "个护", "数码配件")
# How much each category attracts customers on average (Dirichlet weights of their tastes).
CATEGORY_APPEAL = (1.0, 0.6, 0.4, 0.7, 1.0, 0.5, 0.4, 0.4)

# What people buy together, by sku or by category: the structure association-rule
# mining should find again. Read "an order with X often also has one of these".
GOES_WITH = {
    "茶叶": ("CUP-002", "CUP-003", "CUP-004", "CUP-006"),
    "CUP-002": ("TEA-001", "TEA-003", "TEA-006"), "CUP-003": ("TEA-002", "TEA-004", "TEA-005"),
    "CUP-004": ("TEA-001", "TEA-006"), "CUP-006": ("TEA-002", "TEA-003"),
    "零食": ("SNK-001", "SNK-002", "SNK-003", "SNK-004", "SNK-005", "SNK-006"),
    "TEE-002": ("BAG-001",), "TEE-003": ("BAG-001",), "BAG-001": ("TEE-002", "TEE-003"),
    "CAR-001": ("CAR-003",), "CAR-003": ("CAR-001", "CAR-002"),
    "DIG-001": ("DIG-004",), "DIG-002": ("DIG-004",), "DIG-003": ("DIG-001",),
    "HOM-001": ("HOM-005",), "HOM-005": ("HOM-001",), "BAG-004": ("BAG-005", "TEE-004"),
}

# The share of customers planned for each stage (the stored stage is what stage_for says).
STAGE_MIX = {"prospect": 0.15, "new": 0.35, "growing": 0.20, "stable": 0.12, "at_risk": 0.08, "churned": 0.10}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚欣怡思雨晨佳嘉俊文博涵瑞泽诗雅婷琳晓昊天华建国志红海春秋云子浩宇"
CARRIERS = (("顺丰速运", "SF", 0.30), ("中通快递", "ZT", 0.25), ("圆通速递", "YT", 0.18),
            ("京东快递", "JD", 0.12), ("韵达快递", "YD", 0.15))
ITEMS_PER_ORDER = (0.42, 0.33, 0.17, 0.08)  # 1, 2, 3 or 4 different products
ITEMS_CUM = list(accumulate(ITEMS_PER_ORDER))[:-1]

# Spring Festival (农历正月初一) dates, for the 年货节 peak and the holiday stop.
SPRING_FESTIVAL = {y: date(y, m, d) for y, m, d in [
    (2020, 1, 25), (2021, 2, 12), (2022, 2, 1), (2023, 1, 22), (2024, 2, 10), (2025, 1, 29),
    (2026, 2, 17), (2027, 2, 6), (2028, 1, 26), (2029, 2, 13), (2030, 2, 3), (2031, 1, 23),
    (2032, 2, 11), (2033, 1, 31), (2034, 2, 19), (2035, 2, 8)]}
# Orders per local hour of day relative to each other: late evenings busy, nights quiet.
DAY = 86400


@dataclass
class DemoReport:
    customers: int
    orders: int
    order_items: int
    by_stage: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        rate = self.orders / self.seconds if self.seconds else 0.0
        stages = ", ".join(f"{stage} {n}" for stage, n in self.by_stage.items())
        return (f"added {self.customers} customers, {self.orders} orders ({self.order_items} items) "
                f"in {self.seconds:.1f} s ({rate:,.0f} orders/s)\nby stage: {stages}")


def day_weight(d: date) -> float:
    """How busy the shop is on this (local) date, 1 being an ordinary day."""
    w = 1.0
    if d.month == 11 and d.day <= 11:
        w = 3.0 if d.day == 11 else 1.7  # 双11: presales from Nov 1, then the day itself
    elif d.month == 6 and d.day <= 18:
        w = 2.5 if d.day == 18 else 1.5  # 618
    elif d.month == 8:
        w = 0.75  # summer lull
    festival = SPRING_FESTIVAL.get(d.year)
    if festival is not None:
        delta = (d - festival).days
        if -25 <= delta < -7:
            w *= 1.5  # 年货节: gifts and festival food, until couriers stop taking parcels
        elif -7 <= delta <= 6:
            w *= 0.3  # couriers stopped, families at home
        elif 6 < delta <= 20:
            w *= 0.7  # back at work with the money spent
    return w * (1.1 if d.weekday() >= 5 else 1.0)


class Calendar:
    """Shopping intensity per hour of the window, and the time change that applies it.

    Purchases are planned in "demand time", where every hour is alike, and mapped to
    clock time through the cumulative intensity. A steady every-20-days buyer then buys
    more often around 双11 and less at the Spring Festival, as real ones do, while the
    median gap the lifecycle rules look at stays about 20 days.
    """

    def __init__(self, start: datetime, days: int) -> None:
        self.start, self.days = start, days
        local = np.datetime64(start + CHINA, "s") + np.arange(days * 24) * np.timedelta64(1, "h")
        dates = local.astype("datetime64[D]")
        hours = ((local - dates) // np.timedelta64(1, "h")).astype(int)
        unique, inverse = np.unique(dates, return_inverse=True)
        weight = np.array([day_weight(d) for d in unique.astype(object)])[inverse] * HOUR_WEIGHT[hours]
        demand = np.concatenate([[0.0], np.cumsum(weight)])
        self._clock = np.arange(days * 24 + 1) / 24
        self._demand = demand * (days / demand[-1])  # demand time also runs from 0 to days

    def to_demand(self, t):
        return np.interp(t, self._clock, self._demand)

    def to_clock(self, u):
        return np.interp(u, self._demand, self._clock)

    def spread(self, rng: np.random.Generator, k: int, t0: float, t1: float) -> np.ndarray:
        """k times between clock days t0 and t1, as busy as the calendar says."""
        return np.sort(self.to_clock(rng.uniform(self.to_demand(max(t0, 0)), self.to_demand(t1), k)))

    def seconds(self, t: np.ndarray) -> np.ndarray:
        """Clock days as whole seconds since the start, never reaching ``now``."""
        return np.clip(np.round(np.asarray(t) * DAY), 0, self.days * DAY - 1).astype(np.int64)

    def datetimes(self, secs: np.ndarray) -> list[datetime]:
        return (np.datetime64(self.start, "us") + secs.astype("timedelta64[s]")).tolist()


def plan_purchases(kind: str, rng: np.random.Generator, cal: Calendar, rules: StageRules) -> np.ndarray:
    """Purchase times (clock days since the window start) of one customer meant to be ``kind``."""
    end = cal.days
    if kind == "prospect":
        return np.empty(0)
    if kind == "new":
        k = 1 + int(rng.choice(rules.new_max, p=_decreasing(rules.new_max)))
        first = cal.spread(rng, 1, end - 0.95 * rules.churn_days, end)
        return np.append(first, cal.spread(rng, k - 1, first[0], end))
    if kind == "growing":
        k = int(rng.integers(rules.new_max + 1, rules.growing_max + 1))
        return cal.spread(rng, k, end - rng.uniform(max(90, 10 * k), end), end)
    if kind == "churned":
        last = end - rng.uniform(rules.churn_days + 1, end)
        k = int(rng.integers(1, 11))
        return np.append(cal.spread(rng, k - 1, last - rng.uniform(10, 300), last), last)
    # Regulars: one purchase every `rhythm` days of demand time, give or take a quarter.
    if kind == "stable":
        rhythm = rng.uniform(10, 30)
        # Most regulars have been with the shop for most of the window.
        most = 0.97 * end / rhythm
        count = int(rng.uniform(max(rules.growing_max + 3, 0.75 * most), max(rules.growing_max + 4, most)))
        last = end - rng.uniform(0.05, 1.0) * rhythm
    else:  # at_risk: was regular, now overdue by well over at_risk_factor × rhythm
        rhythm = rng.uniform(7, 25)
        idle = max(rules.at_risk_min_days + 1, rules.at_risk_factor * rhythm * rng.uniform(1.15, 1.8))
        count = int(rng.integers(rules.rhythm_min_purchases, rules.growing_max + 12))
        last = cal.to_demand(end - min(idle, rules.churn_days - 1))
    u = last - np.concatenate([[0.0], np.cumsum(rhythm * rng.lognormal(0, 0.25, count - 1))])[::-1]
    return cal.to_clock(u[u >= 0])


def _decreasing(n: int) -> np.ndarray:
    p = 0.6 ** np.arange(n)
    return p / p.sum()


class Baskets:
    """Draws the products of one order from a customer's tastes and GOES_WITH."""

    def __init__(self, products: list[tuple[int, str, str, int]], r: random.Random) -> None:
        self.r = r
        self.category = [cat for _, _, cat, _ in products]
        index = {sku: i for i, (_, sku, _, _) in enumerate(products)}
        self.in_category = [[i for i, c in enumerate(self.category) if c == cat] for cat in CATEGORIES]
        # Within a category some products sell better than others.
        self.popularity = [list(accumulate(r.uniform(0.3, 1.0) for _ in members))
                           for members in self.in_category]
        self.companions = [[index[s] for s in GOES_WITH.get(sku, GOES_WITH.get(cat, ()))]
                           for _, sku, cat, _ in products]

    def _product(self, taste: list[float]) -> int:
        c = bisect.bisect(taste, self.r.random() * taste[-1])
        members, weights = self.in_category[c], self.popularity[c]
        return members[bisect.bisect(weights, self.r.random() * weights[-1])]

    def draw(self, taste: list[float]) -> list[tuple[int, int]]:
        """(product index, quantity) pairs, 1–4 different products."""
        r = self.r
        size = 1 + bisect.bisect(ITEMS_CUM, r.random())
        items = [self._product(taste)]
        for _ in range(12):  # a few tries: a drawn product may be in the basket already
            if len(items) == size:
                break
            x, anchor = r.random(), items[0]
            if x < 0.65 and self.companions[anchor]:
                pick = r.choice(self.companions[anchor])
            elif x < 0.8:
                pick = r.choice(self.in_category[CATEGORIES.index(self.category[anchor])])
            else:
                pick = self._product(taste)
            if pick not in items:
                items.append(pick)
        # Snacks go by the handful; most other things one at a time.
        return [(i, r.choice((1, 1, 1, 2, 2, 3)) if self.category[i] == "零食" else r.choice((1,) * 9 + (2,)))
                for i in items]


def generate_demo_shop(db: Session, *, customers: int = 400, seed: int = 20261122,
                       now: datetime | None = None, rules: StageRules | None = None) -> DemoReport:
    """Add a demo shop of ``customers`` customers and their orders (see the module doc)."""
    started = time.perf_counter()
    if not 0 <= customers <= 900_000:  # member ids are m- and 6 digits
        raise ValueError("customers must be between 0 and 900000")
    if db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.kind == "user_id",
                                                   CustomerIdentity.value.like("m-%")).limit(1)):
        raise ValueError("demo data already present")
    if customers == 0:
        return DemoReport(0, 0, 0, dict.fromkeys(STAGES, 0), time.perf_counter() - started)
    rules = rules or StageRules()
    if now is None:
        now = utcnow()
    elif now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    rng, r = np.random.default_rng(seed), random.Random(seed)
    products = _ensure_catalog(db)
    cal = Calendar(now - timedelta(days=(days := max(730, rules.churn_days + 365))), days)

    # 1. Who buys when. Each customer is planned as one stage and re-drawn until
    # stage_for agrees; the stored stage is stage_for's answer in any case.
    counts = {kind: round(share * customers) for kind, share in STAGE_MIX.items()}
    counts["new"] += customers - sum(counts.values())
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    kinds = [kinds[i] for i in rng.permutation(customers)]
    stages, reasons = [], []
    first_seen, last_seen = np.zeros(customers, np.int64), np.zeros(customers, np.int64)
    cust_of, secs_of, kind_of = [], [], []  # per order: customer index, placed (s), 0 or unpaid kind
    for c, kind in enumerate(kinds):
        for _ in range(40):  # one or two tries nearly always do
            secs = cal.seconds(plan_purchases(kind, rng, cal, rules))
            decision = stage_for(cal.datetimes(secs), now, rules)
            if decision.stage == kind:
                break
        stages.append(decision.stage)
        reasons.append(decision.reason)
        if len(secs):  # they looked around a while before the first purchase
            first_seen[c] = secs[0] - rng.uniform(0.02, 30) * DAY
            extra = _unpaid_orders(rng, secs, cal)
            extra_kinds = _unpaid_kinds(rng, extra, days)
        else:
            first_seen[c] = rng.uniform(0, days) * DAY
            abandoned = rng.random() < 0.06  # put something in the cart, never paid
            extra = cal.seconds(rng.uniform(first_seen[c] / DAY, days, int(abandoned)))
            extra_kinds = np.where(extra > (days - 1) * DAY, 3, 1)
        placed = np.concatenate([secs, extra]).astype(np.int64)
        last_seen[c] = min(days * DAY - 1,
                           max(placed.max(initial=0), first_seen[c]) + rng.uniform(0, 2) * DAY)
        cust_of.append(np.full(len(placed), c))
        secs_of.append(placed)
        kind_of.append(np.concatenate([np.zeros(len(secs), int), extra_kinds]))

    # 2. The orders, oldest first, with statuses that fit their age.
    placed = np.concatenate(secs_of)
    order = np.argsort(placed, kind="stable")
    placed, cust = placed[order], np.concatenate(cust_of)[order].astype(np.int64)
    status, shipped, delivered = _statuses(rng, placed, np.concatenate(kind_of)[order], days)
    n_orders = len(placed)
    order_nos = _order_numbers(db, cal, placed)
    carrier = rng.choice(len(CARRIERS), n_orders, p=[w for *_, w in CARRIERS])
    wechat_share = rng.beta(2, 2, customers)
    channel = np.where(rng.random(n_orders) < wechat_share[cust], "wechat", "web")

    # 3. Baskets, from each customer's tastes.
    baskets = Baskets(products, r)
    tastes = [list(accumulate(t)) for t in rng.dirichlet(CATEGORY_APPEAL, customers).tolist()]
    item_order, item_product, item_qty, amount = [], [], [], np.zeros(n_orders, np.int64)
    for o, c in enumerate(cust.tolist()):
        for p, qty in baskets.draw(tastes[c]):
            item_order.append(o)
            item_product.append(p)
            item_qty.append(qty)
            amount[o] += products[p][3] * qty
    paid = ~np.isin(status, list(NOT_PURCHASES))
    points = np.bincount(cust[paid], weights=amount[paid], minlength=customers) // 100  # ¥1 = 1 point

    # 4. Write: customers, identities, orders, items, stage changes.
    cust_ids = reserve_ids(db, Customer.__table__, customers)
    order_ids = reserve_ids(db, Order.__table__, n_orders)
    names = [r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))
             for _ in range(customers)]
    ages = rng.triangular(18, 30, 65, customers)
    has_birthday = rng.random(customers) < 0.85
    dt = cal.datetimes
    first_dt, last_dt = dt(first_seen), dt(last_seen)
    write_rows(db, Customer.__table__, ({
        "id": int(cust_ids[c]), "display_name": names[c], "stage": stages[c], "points": int(points[c]),
        "first_seen_at": first_dt[c], "last_seen_at": last_dt[c],
        "birthday": now.date() - timedelta(days=int(ages[c] * 365.25)) if has_birthday[c] else None,
    } for c in range(customers)))
    buyer = np.array([s != "prospect" for s in stages], bool)
    member = rng.random(customers) < np.where(buyer, 0.92, 0.35)
    member_no = rng.choice(900_000, customers, replace=False) + 100_000
    phone = rng.random(customers) < 0.60
    phone_no = rng.choice(100_000_000, customers, replace=False)
    identities = [(c, "user_id", f"m-{member_no[c]}") for c in np.flatnonzero(member)]
    identities += [(c, "phone", f"170{phone_no[c]:08d}") for c in np.flatnonzero(phone)]
    write_rows(db, CustomerIdentity.__table__, ({
        "customer_id": int(cust_ids[c]), "kind": kind, "value": value,
        "first_seen_at": first_dt[c], "last_seen_at": last_dt[c]} for c, kind, value in identities))
    write_rows(db, Order.__table__, _order_rows(cal, order_ids, order_nos, cust_ids[cust], status, channel,
                                           amount, carrier, placed, shipped, delivered))
    prices = [Decimal(p[3]).scaleb(-2) for p in products]
    write_rows(db, OrderItem.__table__, ({
        "order_id": int(order_ids[o]), "product_id": products[p][0], "quantity": q, "unit_price": prices[p]}
        for o, p, q in zip(item_order, item_product, item_qty)))
    write_rows(db, StageTransition.__table__, ({
        "customer_id": int(cust_ids[c]), "from_stage": "prospect", "to_stage": stages[c],
        "reason": reasons[c][:200], "trigger": "import", "at": now} for c in np.flatnonzero(buyer)))
    db.commit()
    by_stage = {s: stages.count(s) for s in STAGES}
    return DemoReport(customers, n_orders, len(item_order), by_stage, time.perf_counter() - started)


def _unpaid_orders(rng: np.random.Generator, secs: np.ndarray, cal: Calendar) -> np.ndarray:
    """Times of a buyer's cancelled, refunded and unpaid orders, which are no purchases."""
    if not len(secs):
        return np.empty(0, np.int64)
    n = rng.binomial(len(secs), 0.05)
    times = cal.seconds(cal.spread(rng, n, secs[0] / DAY, secs[-1] / DAY))
    if secs[-1] > (cal.days - 60) * DAY and rng.random() < 0.03:  # active lately, left one unpaid
        times = np.append(times, cal.days * DAY - int(rng.uniform(600, 18 * 3600)))
    return times


def _unpaid_kinds(rng: np.random.Generator, extra: np.ndarray, days: int) -> np.ndarray:
    """1 cancelled, 2 refunded, 3 pending payment (only the last day's orders wait for payment)."""
    kinds = rng.choice((1, 2), len(extra))
    return np.where(extra > (days - 1) * DAY, 3, kinds)


def _statuses(rng: np.random.Generator, placed: np.ndarray, kind: np.ndarray, days: int):
    """Status, shipped and delivered seconds (-1: not yet) of each order, from its age."""
    n, age = len(placed), days * DAY - placed
    ship = (rng.uniform(0.1, 1.5, n) * DAY).astype(np.int64)
    deliver = ship + (rng.uniform(1, 4, n) * DAY).astype(np.int64)
    status = np.select([age < ship, age < deliver, age < deliver + 7 * DAY],
                       ["paid", "shipped", "delivered"], "completed").astype(object)
    # A few recent deliveries are being returned; refunds come before or after delivery.
    status[(status == "delivered") & (rng.random(n) < 0.06)] = "refunding"
    refunded_after_delivery = (kind == 2) & (age > deliver) & (rng.random(n) < 0.5)
    status[kind == 1], status[kind == 2], status[kind == 3] = "cancelled", "refunded", "pending_payment"
    went_out = np.isin(status, ["shipped", "delivered", "completed", "refunding"]) | refunded_after_delivery
    arrived = np.isin(status, ["delivered", "completed", "refunding"]) | refunded_after_delivery
    return status, np.where(went_out, placed + ship, -1), np.where(arrived, placed + deliver, -1)


def _order_numbers(db: Session, cal: Calendar, placed: np.ndarray) -> list[str]:
    """DDYYYYMMDDNNNN by local date: NNNN counts from 1000 and skips numbers in use.

    The bot recognises exactly this shape (DD + 12 digits), so a day holds at most 9000
    demo orders: about 1.2 million orders over the two years with the peaks above.
    """
    taken = set(db.scalars(select(Order.order_no).where(Order.order_no.like("DD%"))))
    local = np.datetime64(cal.start + CHINA, "us") + placed.astype("timedelta64[s]")
    day_strings = np.char.replace(np.datetime_as_string(local, unit="D"), "-", "").tolist()
    numbers, next_free = [], {}
    for day in day_strings:
        n = next_free.get(day, 1000)
        while f"DD{day}{n}" in taken:
            n += 1
        if n > 9999:
            raise ValueError(f"more than 9000 demo orders on {day}: order numbers DD{day}NNNN run out; "
                             "generate fewer customers")
        numbers.append(f"DD{day}{n}")
        next_free[day] = n + 1
    return numbers


def _order_rows(cal, ids, numbers, customer_ids, status, channel, amount, carrier,
                placed, shipped, delivered):
    dt = cal.datetimes
    placed_at, shipped_at, delivered_at = dt(placed), dt(shipped), dt(delivered)
    cents: dict[int, Decimal] = {}
    for o in range(len(ids)):
        out = shipped[o] >= 0
        name, prefix, _ = CARRIERS[carrier[o]]
        yield {
            "id": int(ids[o]), "order_no": numbers[o], "customer_id": int(customer_ids[o]),
            "status": status[o], "channel": str(channel[o]),
            "amount": cents.setdefault(int(amount[o]), Decimal(int(amount[o])).scaleb(-2)),
            "carrier": name if out else None,
            # 13 digits: four that look random, then the order's place in this run (so unique).
            "tracking_no": f"{prefix}{(o * 7919) % 9000 + 1000}{o:09d}" if out else None,
            "placed_at": placed_at[o], "shipped_at": shipped_at[o] if out else None,
            "delivered_at": delivered_at[o] if delivered[o] >= 0 else None,
        }


def _ensure_catalog(db: Session) -> list[tuple[int, str, str, int]]:
    """The catalogue as (id, sku, category, price in fen); adds the products that are missing."""
    skus = [sku for sku, *_ in CATALOG]
    have = set(db.scalars(select(Product.sku).where(Product.sku.in_(skus))))
    missing = [{"sku": s, "name": n, "category": c, "price": Decimal(p), **product_facts(s)}
               for s, n, c, p in CATALOG if s not in have]
    if missing:
        db.execute(insert(Product.__table__), missing)
    rows = {p.sku: p for p in db.scalars(select(Product).where(Product.sku.in_(skus)))}
    qas = [{"product_id": rows[m["sku"]].id, "question": q, "answer": a}
           for m in missing for q, a in product_qas(m["sku"])]
    if qas:
        db.execute(insert(ProductQA.__table__), qas)
    # Existing rows keep their own category and price; an unknown category counts as 家居.
    return [(rows[s].id, s, rows[s].category if rows[s].category in CATEGORIES else "家居",
             int(round(rows[s].price * 100))) for s in skus]
