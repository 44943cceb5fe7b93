"""The generated demo shop: what someone looking at it, or mining it, would notice."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from demo.__main__ import main as cli
from demo.shop import generate_demo_shop
from api.models import Customer, CustomerIdentity, Order, OrderItem, Product, StageTransition
from demo.members import demo_customers_from_env, seed
from api.domain.lifecycle import NOT_PURCHASES, StageRules, stage_for

NOW = datetime(2026, 11, 22, 8, 0)
CARRIERS = {"顺丰速运": "SF", "中通快递": "ZT", "圆通速递": "YT", "京东快递": "JD", "韵达快递": "YD"}


def local(t: datetime) -> datetime:
    return t + timedelta(hours=8)  # stored in UTC, the shop lives in UTC+8


def snapshot(db) -> tuple[list, list, list]:
    """Customers, orders and items as a user sees them, without row ids."""
    db.expire_all()
    customers = db.execute(select(Customer.id, Customer.display_name, Customer.stage, Customer.points,
                                  Customer.birthday, Customer.first_seen_at).order_by(Customer.id)).all()
    rank = {c.id: n for n, c in enumerate(customers)}
    orders = db.execute(select(Order.order_no, Order.customer_id, Order.status, Order.amount, Order.channel,
                               Order.placed_at, Order.tracking_no).order_by(Order.order_no)).all()
    items = db.execute(select(Order.order_no, Product.sku, OrderItem.quantity).join(OrderItem.order)
                       .join(OrderItem.product).order_by(Order.order_no, Product.sku)).all()
    return ([tuple(c[1:]) for c in customers], [(o[0], rank[o[1]], *o[2:]) for o in orders],
            [tuple(i) for i in items])


def remove_customers(db) -> None:
    for table in (OrderItem, Order, CustomerIdentity, StageTransition, Customer):
        db.execute(delete(table))
    db.commit()


def test_same_seed_same_shop_and_a_second_run_is_refused(db):
    report = generate_demo_shop(db, customers=120, seed=7, now=NOW)
    first = snapshot(db)
    assert (report.customers, report.orders, report.order_items) == (120, len(first[1]), len(first[2]))
    with pytest.raises(ValueError, match="demo data already present"):
        generate_demo_shop(db, customers=120, seed=7, now=NOW)
    assert snapshot(db) == first  # the refused run added nothing
    remove_customers(db)
    generate_demo_shop(db, customers=120, seed=7, now=NOW)
    assert snapshot(db) == first
    remove_customers(db)
    generate_demo_shop(db, customers=120, seed=8, now=NOW)
    assert snapshot(db)[1] != first[1]
    products = db.execute(select(Product.sku, Product.category)).all()
    assert len(products) == 42 and len({c for _, c in products}) == 8  # reused, not added again


def test_every_stage_is_there_and_each_stored_stage_is_what_the_purchases_say(db):
    report = generate_demo_shop(db, now=NOW)
    assert report.customers == 400 and 2000 <= report.orders <= 6000
    purchases = defaultdict(list)
    for customer_id, placed in db.execute(select(Order.customer_id, Order.placed_at)
                                          .where(Order.status.not_in(NOT_PURCHASES))):
        purchases[customer_id].append(placed)
    stored = dict(db.execute(select(Customer.id, Customer.stage)).all())
    wrong = {cid: stage for cid, stage in stored.items()
             if stage != stage_for(purchases[cid], NOW, StageRules()).stage}
    assert wrong == {}
    counts = Counter(stored.values())
    assert counts == Counter(report.by_stage)
    target = {"prospect": 0.15, "new": 0.35, "growing": 0.20, "stable": 0.12, "at_risk": 0.08,
              "churned": 0.10}
    for stage, share in target.items():
        assert abs(counts[stage] / 400 - share) <= 0.03, (stage, counts)
    # Regulars really are regular: over 15 purchases each, none more than 30 days overdue.
    assert all(len(purchases[cid]) > 15 and NOW - max(purchases[cid]) < timedelta(days=30)
               for cid, stage in stored.items() if stage == "stable")
    # One recorded change per buyer: from prospect to the stage, by the import.
    changes = db.execute(select(StageTransition.customer_id, StageTransition.from_stage,
                                StageTransition.to_stage, StageTransition.trigger)).all()
    assert sorted((c.customer_id, c.to_stage) for c in changes) == sorted(
        (cid, stage) for cid, stage in stored.items() if stage != "prospect")
    assert {(c.from_stage, c.trigger) for c in changes} == {("prospect", "import")}


def test_double_eleven_and_618_peak_and_february_dips(db):
    generate_demo_shop(db, now=NOW)
    placed = [local(t) for t in db.scalars(select(Order.placed_at))]
    by_month_of_year = Counter(t.month for t in placed)
    mean = len(placed) / 12
    assert by_month_of_year[11] > mean and by_month_of_year[6] > mean and by_month_of_year[2] < mean
    # Against the months either side too, so that the shop's growth cannot explain it.
    by_month = Counter((t.year, t.month) for t in placed)
    around = lambda y, m: (by_month[(y, m - 1)] + by_month[(y, m + 1)]) / 2  # noqa: E731
    assert by_month[(2025, 11)] > 1.1 * around(2025, 11)
    for year in (2025, 2026):
        assert by_month[(year, 6)] > 1.1 * around(year, 6)
        assert by_month[(year, 2)] < around(year, 2)
    by_day = Counter(t.date() for t in placed)
    assert max(by_day, key=by_day.get) == date(2026, 11, 11)
    # Spring Festival 2026 (Feb 17): couriers stopped, far fewer orders than in the weeks before.
    assert sum(by_day[date(2026, 2, d)] for d in range(10, 24)) < 0.5 * sum(
        by_day[date(2026, 1, d)] for d in range(20, 31)) * 14 / 11


def test_baskets_have_co_purchase_structure_and_amounts_add_up(db):
    generate_demo_shop(db, now=NOW)
    baskets, totals, lines = defaultdict(set), defaultdict(Decimal), Counter()
    for row in db.execute(select(OrderItem.order_id, OrderItem.quantity, OrderItem.unit_price, Product.sku,
                                 Product.category).join(OrderItem.product)):
        baskets[row.order_id] |= {row.sku, row.category}
        totals[row.order_id] += row.unit_price * row.quantity
        lines[row.order_id] += 1
    amounts = dict(db.execute(select(Order.id, Order.amount)).all())
    assert amounts.keys() == totals.keys() and all(amounts[o] == totals[o] for o in amounts)
    assert set(lines.values()) == {1, 2, 3, 4}

    def share(thing, given=None):
        chosen = [b for b in baskets.values() if given is None or given in b]
        return sum(thing in b for b in chosen) / len(chosen)

    assert share("杯具", given="茶叶") > 1.6 * share("杯具")  # tea with tea ware
    assert share("BAG-001", given="TEE-002") > 3 * share("BAG-001")  # hoodie with the tote bag
    two_snacks = lambda b: sum(s.startswith("SNK-") for s in b) >= 2  # noqa: E731
    with_nuts = [b for b in baskets.values() if "SNK-001" in b]
    assert sum(map(two_snacks, with_nuts)) / len(with_nuts) > 1.6 * share("零食")  # snacks with snacks


def test_orders_look_real_next_to_the_seeded_members(db):
    seed(db, now=NOW)
    seeded = set(db.scalars(select(Order.order_no)))
    generate_demo_shop(db, now=NOW)
    orders = db.scalars(select(Order)).all()
    numbers = [o.order_no for o in orders]
    assert len(set(numbers)) == len(numbers) and seeded < set(numbers)
    demo = [o for o in orders if o.order_no not in seeded]
    for o in demo:
        assert re.fullmatch(r"DD\d{12}", o.order_no)
        assert o.order_no[2:10] == local(o.placed_at).strftime("%Y%m%d")
        assert NOW - timedelta(days=731) < o.placed_at < NOW and o.channel in ("web", "wechat")
        assert (o.carrier is None) == (o.tracking_no is None) == (o.shipped_at is None)
        if o.carrier:
            assert re.fullmatch(CARRIERS[o.carrier] + r"\d{13}", o.tracking_no) and o.shipped_at > o.placed_at
        if o.status in ("shipped", "delivered", "completed", "refunding"):
            assert o.carrier
        if o.status in ("pending_payment", "paid", "cancelled"):
            assert o.carrier is None
        if o.delivered_at:
            assert o.shipped_at < o.delivered_at < NOW
    statuses = Counter(o.status for o in demo)
    assert statuses["completed"] > 0.8 * len(demo)
    assert 0 < statuses["refunded"] + statuses["cancelled"] < 0.1 * len(demo)
    old = {o.status for o in demo if o.placed_at < NOW - timedelta(days=30)}
    assert old <= {"completed", "refunded", "cancelled"}
    assert "paid" in {o.status for o in demo if o.placed_at > NOW - timedelta(days=2)}
    assert len({o.tracking_no for o in demo if o.tracking_no}) == sum(1 for o in demo if o.tracking_no)


def test_customers_have_names_points_birthdays_and_fake_contacts(db):
    generate_demo_shop(db, now=NOW)
    customers = db.scalars(select(Customer)).all()
    paid, first_order = defaultdict(Decimal), {}
    for o in db.execute(select(Order.customer_id, Order.amount, Order.status, Order.placed_at)):
        if o.status not in NOT_PURCHASES:
            paid[o.customer_id] += o.amount
        first_order[o.customer_id] = min(o.placed_at, first_order.get(o.customer_id, o.placed_at))
    for c in customers:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", c.display_name)
        assert c.points == int(paid.get(c.id, 0))  # one point per yuan paid
        assert c.first_seen_at <= first_order.get(c.id, c.first_seen_at)
        assert c.first_seen_at <= c.last_seen_at <= NOW
    ages = [(NOW.date() - c.birthday).days / 365.25 for c in customers if c.birthday]
    assert 0.75 < len(ages) / len(customers) < 0.95 and 18 <= min(ages) and max(ages) <= 66
    identities = db.execute(select(CustomerIdentity.customer_id, CustomerIdentity.kind,
                                   CustomerIdentity.value)).all()
    phones = [i.value for i in identities if i.kind == "phone"]
    assert all(re.fullmatch(r"170\d{8}", p) for p in phones) and 0.5 < len(phones) / len(customers) < 0.7
    members = {i.customer_id for i in identities if i.kind == "user_id"}
    assert all(re.fullmatch(r"m-\d{6}", i.value) for i in identities if i.kind == "user_id")
    assert len(members & paid.keys()) > 0.85 * len(paid)


def test_command_line_generates_once(settings_env, db, capsys):
    assert cli(["generate-shop", "--customers", "50", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "added 50 customers" in out and "orders/s" in out and "by stage: prospect" in out
    assert db.scalar(select(func.count()).select_from(Customer)) == 50
    assert cli(["generate-shop", "--customers", "50"]) == 1
    assert "demo data already present" in capsys.readouterr().err
    assert db.scalar(select(func.count()).select_from(Customer)) == 50


def test_seed_adds_the_generated_shop_after_the_members(db, monkeypatch):
    assert seed(db, now=NOW, demo_customers=60)
    assert db.scalar(select(func.count()).select_from(Customer)) == 63
    member = db.scalar(select(CustomerIdentity).where(CustomerIdentity.value == "demo-1001"))
    assert member.customer.display_name == "张小明" and member.customer_id == min(
        db.scalars(select(Customer.id)))
    assert not seed(db, now=NOW, demo_customers=60)  # once only
    monkeypatch.delenv("HX_DEMO_CUSTOMERS", raising=False)
    assert demo_customers_from_env() == 400
    monkeypatch.setenv("HX_DEMO_CUSTOMERS", "0")
    assert demo_customers_from_env() == 0
