"""GET /internal/customers/{id}/recommendations: "also bought" from the basket rules,
else the best sellers of the customer's stage."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from api.db.base import utcnow
from api.models import AssociationRule, Customer, Order, OrderItem, Product
from api.services import product_answers, recommendations
from tests.api.conftest import ADMIN, INTERNAL

AUTH = {"Authorization": f"Bearer {INTERNAL}"}
NOW = utcnow()
CATALOG = [("TEA-001", "明前龙井 250g", "茶叶", "168.00"), ("CUP-001", "不锈钢保温杯 500ml", "杯具", "89.00"),
           ("CUP-002", "玻璃泡茶杯 带滤网", "杯具", "59.00"), ("CUP-003", "汝窑品茗杯 四只装", "杯具", "128.00"),
           ("CUP-006", "宜兴紫砂壶 西施 200ml", "杯具", "268.00"), ("SNK-001", "每日坚果 30 袋装", "零食", "99.00"),
           ("SNK-002", "手工牛轧糖 500g", "零食", "49.00"), ("DIG-001", "iPhone  20W 快充头", "数码配件", "59.00"),
           ("DIG-004", "编织数据线 两根装", "数码配件", "35.00")]


@pytest.fixture(autouse=True)
def fresh_cache():
    # Tests on PostgreSQL (HX_TEST_DATABASE_URL) share one database URL.
    recommendations.clear_cache()
    product_answers.clear_cache()
    yield
    recommendations.clear_cache()
    product_answers.clear_cache()


@pytest.fixture
def shop(db):
    products = {sku: Product(sku=sku, name=name, category=cat, price=Decimal(price), stock=50)
                for sku, name, cat, price in CATALOG}
    db.add_all(products.values())
    db.commit()
    return products


_orders = iter(range(1, 10_000))


def buy(db, customer: Customer, products: list[Product], days_ago: float = 10, status: str = "completed",
        quantity: int = 1) -> None:
    items = [OrderItem(product=p, quantity=quantity, unit_price=p.price) for p in products]
    db.add(Order(order_no=f"DD2026{next(_orders):08d}", customer=customer, status=status, items=items,
                 amount=sum(p.price * quantity for p in products), placed_at=NOW - timedelta(days=days_ago)))
    db.commit()


def rule(db, antecedents: list[str], consequents: list[str], confidence: float, lift: float, rank: int,
         computed_at=None) -> None:
    db.add(AssociationRule(kind="basket", rank=rank, antecedents=antecedents, consequents=consequents, support=0.02,
                           confidence=confidence, lift=lift, computed_at=computed_at or NOW))
    db.commit()


def get(client, customer_id: int, **params):
    resp = client.get(f"/internal/customers/{customer_id}/recommendations", params=params, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


def customer(db, stage: str = "new") -> Customer:
    c = Customer(stage=stage)
    db.add(c)
    db.commit()
    return c


def test_also_bought_ranks_by_confidence_and_leaves_out_what_was_bought(client, db, shop):
    me = customer(db)
    buy(db, me, [shop["TEA-001"], shop["CUP-001"]])
    buy(db, me, [shop["CUP-003"]], status="refunded")  # a refund is not a purchase
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.45, 2.8, 2)
    rule(db, ["明前龙井 250g"], ["汝窑品茗杯 四只装"], 0.30, 3.5, 3)
    rule(db, ["明前龙井 250g", "不锈钢保温杯 500ml"], ["宜兴紫砂壶 西施 200ml"], 0.60, 4.0, 1)
    rule(db, ["玻璃泡茶杯 带滤网"], ["明前龙井 250g"], 0.50, 2.0, 4)  # antecedent not bought
    rule(db, ["不锈钢保温杯 500ml"], ["明前龙井 250g"], 0.70, 2.0, 5)  # consequent already bought
    rule(db, ["每日坚果 30 袋装"], ["手工牛轧糖 500g"], 0.90, 5.0, 6)  # not this customer's

    answer = get(client, me.id)
    assert answer["reason"] == "also_bought" and answer["stage"] == "new"
    assert [p["sku"] for p in answer["products"]] == ["CUP-006", "CUP-002", "CUP-003"]
    first = answer["products"][0]
    assert first == {"sku": "CUP-006", "name": "宜兴紫砂壶 西施 200ml", "price": "268.00", "confidence": 0.6,
                     "lift": 4.0, "because": ["不锈钢保温杯 500ml", "明前龙井 250g"], "sold": None}
    assert answer["products"][1]["because"] == ["明前龙井 250g"]
    assert [p["sku"] for p in get(client, me.id, k=1)["products"]] == ["CUP-006"]


def test_names_match_after_normalisation_and_old_purchases_do_not_trigger(client, db, shop):
    me = customer(db, "growing")
    buy(db, me, [shop["DIG-001"]], days_ago=20)
    buy(db, me, [shop["SNK-001"]], days_ago=400)  # more than a year ago
    # The job stores normalised names: NFKC, one space, lower case.
    rule(db, ["iphone 20w 快充头"], ["编织数据线 两根装"], 0.5, 3.0, 1)
    rule(db, ["每日坚果 30 袋装"], ["手工牛轧糖 500g"], 0.9, 5.0, 2)
    rule(db, ["手工牛轧糖 500g"], ["每日坚果 30 袋装"], 0.9, 5.0, 3)
    answer = get(client, me.id)
    assert answer["reason"] == "also_bought"
    assert [(p["sku"], p["because"]) for p in answer["products"]] == [("DIG-004", ["iPhone  20W 快充头"])]


def test_new_rules_are_used_as_soon_as_the_job_stores_them(client, db, shop):
    me = customer(db)
    buy(db, me, [shop["TEA-001"]])
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.4, 2.0, 1, computed_at=NOW - timedelta(days=1))
    assert [p["sku"] for p in get(client, me.id)["products"]] == ["CUP-002"]
    db.query(AssociationRule).delete()
    rule(db, ["明前龙井 250g"], ["汝窑品茗杯 四只装"], 0.4, 2.0, 1)
    assert [p["sku"] for p in get(client, me.id)["products"]] == ["CUP-003"]


def test_without_a_matching_rule_the_stages_best_sellers(client, db, shop):
    me, peer, other_stage = customer(db, "new"), customer(db, "new"), customer(db, "stable")
    buy(db, me, [shop["SNK-001"]])
    buy(db, peer, [shop["SNK-001"], shop["SNK-002"]], quantity=3)
    buy(db, peer, [shop["CUP-002"]], quantity=2)
    buy(db, peer, [shop["CUP-003"]], quantity=9, days_ago=120)  # outside the 90 days
    buy(db, peer, [shop["CUP-006"]], quantity=9, status="cancelled")
    buy(db, other_stage, [shop["DIG-004"]], quantity=50)  # another stage's favourite
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.4, 2.0, 1)  # not for what this customer has
    answer = get(client, me.id)
    assert answer["reason"] == "popular"
    assert [(p["sku"], p["sold"], p["because"], p["confidence"]) for p in answer["products"]] == [
        ("SNK-002", 3, [], None), ("CUP-002", 2, [], None)]  # SNK-001: already theirs


def test_a_prospect_gets_the_shops_best_sellers_and_an_empty_shop_nothing(client, db, shop):
    newcomer = customer(db, "prospect")
    assert get(client, newcomer.id) == {"reason": "none", "stage": "prospect", "products": [], "category": None}
    recommendations.clear_cache()
    buyer = customer(db, "stable")
    buy(db, buyer, [shop["DIG-004"]], quantity=5)
    buy(db, buyer, [shop["CUP-002"], shop["SNK-002"]])
    answer = get(client, newcomer.id, k=2)
    assert answer["reason"] == "popular" and [p["sku"] for p in answer["products"]] == ["DIG-004", "CUP-002"]


def test_unknown_customer_token_and_k(client, db, shop):
    url = "/internal/customers/{}/recommendations"
    assert client.get(url.format(999999), headers=AUTH).status_code == 404
    me = customer(db)
    assert client.get(url.format(me.id)).status_code == 401
    assert client.get(url.format(me.id), headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 401
    assert client.get(url.format(me.id), params={"k": 0}, headers=AUTH).status_code == 422
    assert client.get(url.format(me.id), params={"k": 11}, headers=AUTH).status_code == 422


def test_a_merged_id_gets_the_live_customers_recommendations(client, db, shop):
    live = customer(db)
    old = Customer(stage="prospect", merged_into_id=live.id)
    db.add(old)
    db.commit()
    buy(db, live, [shop["TEA-001"]])
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.4, 2.0, 1)
    assert get(client, old.id) == get(client, live.id)
    assert get(client, old.id)["products"][0]["because"] == ["明前龙井 250g"]


def test_stage_variants_of_the_replies_may_use_what_the_action_fills_in():
    from api.services.responses import ResponseCatalog
    from api.services.variants import validate_variant
    from ops.paths import ROOT

    catalog = ResponseCatalog.from_files(ROOT / "domain.yml", ROOT / "data")
    text = "{name}，买过{because}的老朋友也爱：{products}"
    assert validate_variant(catalog, "utter_recommend", "stable", text) == text
    assert validate_variant(catalog, "utter_recommend_popular", "new", "看看这些热销款：{products}")
    with pytest.raises(ValueError, match="because"):
        validate_variant(catalog, "utter_recommend_popular", "new", "买过{because}的也买：{products}")
    assert validate_variant(catalog, "utter_no_recommendation", "churned", "好久不见，{name}～")


# --- what the customer names first (issue 14) --------------------------------------------

def test_a_named_product_anchors_the_answer_on_its_rules_kept_to_the_kind_asked(client, db, shop):
    me = customer(db)
    buy(db, me, [shop["SNK-001"]])  # his own history points elsewhere
    rule(db, ["每日坚果 30 袋装"], ["手工牛轧糖 500g"], 0.9, 5.0, 1)
    rule(db, ["明前龙井 250g"], ["手工牛轧糖 500g"], 0.8, 3.0, 2)  # not a cup
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.45, 2.8, 3)
    rule(db, ["明前龙井 250g", "每日坚果 30 袋装"], ["汝窑品茗杯 四只装"], 0.6, 3.5, 4)
    answer = get(client, me.id, text="买了龙井配什么杯子好")
    assert answer["reason"] == "anchored" and answer["category"] is None
    assert [(p["sku"], p["because"]) for p in answer["products"]] == [
        ("CUP-003", ["明前龙井 250g"]), ("CUP-002", ["明前龙井 250g"])]
    unfiltered = get(client, me.id, text="明前龙井一般搭配什么一起买")
    assert unfiltered["reason"] == "anchored"
    assert [p["sku"] for p in unfiltered["products"]] == ["SNK-002", "CUP-003", "CUP-002"]
    # Without a product named, his history as before.
    assert get(client, me.id, text="有什么推荐的")["reason"] == "also_bought"


def test_without_rules_for_the_named_product_the_best_sellers_of_the_kind_asked(client, db, shop):
    me, other = customer(db), customer(db)
    buy(db, other, [shop["CUP-006"]], quantity=4)
    buy(db, other, [shop["CUP-002"]], quantity=2)
    buy(db, other, [shop["SNK-002"]], quantity=9)
    answer = get(client, me.id, text="买了龙井配什么杯子好")
    assert answer["reason"] == "category" and answer["category"] == "杯子"
    assert [p["sku"] for p in answer["products"]] == ["CUP-006", "CUP-002", "CUP-001"]


def test_a_kind_named_alone_gives_products_of_that_kind_in_stock_only(client, db, shop):
    shop["CUP-001"].aliases = ["保温杯"]
    extra = Product(sku="CUP-009", name="儿童保温杯 350ml", category="杯具", price=Decimal("69.00"), stock=5)
    gone = Product(sku="CUP-010", name="钛保温杯 400ml", category="杯具", price=Decimal("299.00"), stock=0)
    off = Product(sku="CUP-011", name="车载保温杯", category="杯具", price=Decimal("99.00"), stock=9, on_sale=False)
    db.add_all([extra, gone, off])
    db.commit()
    me, other = customer(db), customer(db)
    buy(db, other, [extra], quantity=3)
    buy(db, other, [gone, off], quantity=8)
    answer = get(client, me.id, text="我想买个保温杯送人，有什么推荐的")
    assert answer["reason"] == "category" and answer["category"] == "保温杯"
    assert [p["sku"] for p in answer["products"]] == ["CUP-009", "CUP-001"]
    teas = get(client, me.id, text="有什么好喝的茶叶推荐吗")
    assert teas["reason"] == "category" and [p["sku"] for p in teas["products"]] == ["TEA-001"]


def test_products_out_of_stock_or_off_sale_are_never_recommended(client, db, shop):
    me = customer(db)
    buy(db, me, [shop["TEA-001"]])
    rule(db, ["明前龙井 250g"], ["玻璃泡茶杯 带滤网"], 0.45, 2.8, 1)
    rule(db, ["明前龙井 250g"], ["汝窑品茗杯 四只装"], 0.30, 3.5, 2)
    shop["CUP-002"].stock = 0
    shop["CUP-003"].on_sale = False
    db.commit()
    answer = get(client, me.id)
    assert answer["reason"] != "also_bought"
    assert not {"CUP-002", "CUP-003"} & {p["sku"] for p in answer["products"]}


def test_text_is_bounded(client, db, shop):
    me = customer(db)
    url = f"/internal/customers/{me.id}/recommendations"
    assert client.get(url, params={"text": "龙" * 501}, headers=AUTH).status_code == 422
    assert client.get(url, params={"text": "龙" * 500}, headers=AUTH).status_code == 200
