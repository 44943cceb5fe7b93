"""GET /internal/customers/{id}/product-answer: questions about a product answered from the
catalogue's own data — or said to be unknown, never invented."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from api.db.base import utcnow
from api.models import Customer, Offer, OfferIssuance, Product, ProductQA
from api.services import product_answers
from tests.api.conftest import INTERNAL

AUTH = {"Authorization": f"Bearer {INTERNAL}"}


@pytest.fixture(autouse=True)
def fresh_cache():
    product_answers.clear_cache()
    yield
    product_answers.clear_cache()


@pytest.fixture
def shop(db):
    products = {
        "TEA-001": Product(sku="TEA-001", name="明前龙井 250g", category="茶叶", price=Decimal("168.00"), stock=120,
                           description="西湖产区明前采摘，豆香清雅。",
                           attributes={"产地": "浙江杭州西湖", "保质期": "18 个月", "净含量": "250g"},
                           aliases=["龙井茶", "西湖龙井"],
                           qas=[ProductQA(question="怎么泡比较好喝", answer="80°C 左右的水，玻璃杯下投法冲泡。")]),
        "CUP-001": Product(sku="CUP-001", name="不锈钢保温杯 500ml", category="杯具", price=Decimal("89.00"), stock=6,
                           attributes={"容量": "500ml", "材质": "316 不锈钢", "是否可装开水": "可以，耐温 100°C"},
                           aliases=["保温杯", "不锈钢杯"],
                           qas=[ProductQA(question="保温效果能保持多久", answer="热水 12 小时保持 60°C 以上。")]),
        "BAG-004": Product(sku="BAG-004", name="拉杆登机箱 20 寸", category="箱包", price=Decimal("399.00"), stock=0),
        "DIG-003": Product(sku="DIG-003", name="降噪蓝牙耳机", category="数码配件", price=Decimal("299.00"), stock=40),
        "CUP-006": Product(sku="CUP-006", name="宜兴紫砂壶 西施 200ml", category="杯具", price=Decimal("268.00"),
                           stock=3, on_sale=False),
        "TEE-002": Product(sku="TEE-002", name="加绒卫衣", category="服饰", price=Decimal("159.00"), stock=30),
        "TEE-003": Product(sku="TEE-003", name="连帽卫衣", category="服饰", price=Decimal("179.00"), stock=30),
    }
    db.add_all(products.values())
    db.commit()
    return products


@pytest.fixture
def me(db):
    c = Customer(stage="new", display_name="张小明")
    db.add(c)
    db.commit()
    return c


def ask(client, customer_id: int, text: str, intent: str = "ask_product", last_sku: str = "") -> dict:
    resp = client.get(f"/internal/customers/{customer_id}/product-answer",
                      params={"text": text, "intent": intent, "last_sku": last_sku}, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("text,sku,price", [
    ("龙井多少钱", "TEA-001", "¥168.00"),
    ("明前龙井250g价格", "TEA-001", "¥168.00"),
    ("ＬＯＮＧ井 no, 西湖龙井几块钱一罐", "TEA-001", "¥168.00"),
    ("降噪耳机多少钱一个", "DIG-003", "¥299.00"),
    ("20寸登机箱价格多少", "BAG-004", "¥399.00"),
    ("20 寸的登机箱怎么卖", "BAG-004", "¥399.00"),
    ("紫砂壶什么价", "CUP-006", "¥268.00"),
])
def test_price_from_any_name_the_customer_uses(client, shop, me, text, sku, price):
    answer = ask(client, me.id, text, intent="ask_price")
    assert answer["response"] == "utter_product_price" and answer["sku"] == sku
    assert answer["slots"]["price"] == price
    assert answer["slots"]["product_name"] == shop[sku].name
    assert answer["slots"]["offer_line"] == ""


def test_the_price_mentions_an_offer_the_customer_may_use_without_issuing_it(client, db, shop, me):
    db.add(Offer(code="NEW10", title="新客立减券", detail="满 99 减 10", kind="coupon", stages=["new"],
                 coupon_prefix="NEW", updated_by="admin"))
    db.commit()
    answer = ask(client, me.id, "龙井多少钱")
    assert "新客立减券" in answer["slots"]["offer_line"] and "满 99 减 10" in answer["slots"]["offer_line"]
    assert db.query(OfferIssuance).count() == 0  # telling is not issuing
    held = OfferIssuance(offer=db.query(Offer).one(), customer_id=me.id, stage="new", trigger="chat",
                         coupon_code="NEW-ABCD2345", expires_at=utcnow() + timedelta(days=3))
    db.add(held)
    db.commit()
    assert "下单时可以使用" in ask(client, me.id, "龙井多少钱")["slots"]["offer_line"]


@pytest.mark.parametrize("text,sku,stock_text", [
    ("那个龙井茶还有货吗", "TEA-001", "有货"),
    ("保温杯还有库存吗", "CUP-001", "仅剩 6 件"),
    ("登机箱卖完了吗", "BAG-004", "暂时缺货"),
    ("紫砂壶有现货吗", "CUP-006", "已下架"),
])
def test_stock_from_stock_and_on_sale(client, shop, me, text, sku, stock_text):
    answer = ask(client, me.id, text)
    assert answer == {"response": "utter_product_stock", "sku": sku,
                      "slots": {"product_name": shop[sku].name, "stock_text": stock_text}}


@pytest.mark.parametrize("text,attribute,value", [
    ("保温杯容量多大", "容量", "500ml"),
    ("保温杯能装多少水", "容量", "500ml"),
    ("保温杯是什么材料做的", "材质", "316 不锈钢"),
    ("这款保温杯能装开水吗", "是否可装开水", "可以，耐温 100°C"),
    ("龙井是哪里产的", "产地", "浙江杭州西湖"),
    ("龙井能放多久", "保质期", "18 个月"),
])
def test_the_attribute_asked_about(client, shop, me, text, attribute, value):
    answer = ask(client, me.id, text)
    assert answer["response"] == "utter_product_attribute"
    assert answer["slots"]["attribute"] == attribute and answer["slots"]["value"] == value


def test_the_closest_admin_qa_and_unknown_below_the_threshold(client, shop, me):
    qa = ask(client, me.id, "龙井怎么泡好喝呀")
    assert qa["response"] == "utter_product_qa" and qa["slots"]["answer"].startswith("80°C")
    assert ask(client, me.id, "保温杯保温能保持多久")["slots"]["answer"] == "热水 12 小时保持 60°C 以上。"
    unknown = ask(client, me.id, "保温杯可以放进洗碗机吗")
    assert unknown["response"] == "utter_product_fact_unknown" and unknown["sku"] == "CUP-001"
    assert "洗碗机" in unknown["slots"]["topic"]
    # An attribute the product does not hold is unknown, not guessed from another product.
    colour = ask(client, me.id, "降噪耳机有几种颜色")
    assert colour == {"response": "utter_product_fact_unknown", "sku": "DIG-003",
                      "slots": {"product_name": "降噪蓝牙耳机", "topic": "颜色"}}


def test_overview_when_only_the_product_is_named(client, shop, me):
    answer = ask(client, me.id, "介绍一下明前龙井")
    assert answer == {"response": "utter_product_overview", "sku": "TEA-001",
                      "slots": {"product_name": "明前龙井 250g", "price": "¥168.00",
                                "description": "西湖产区明前采摘，豆香清雅。"}}


def test_pronouns_refer_to_the_last_product(client, shop, me):
    first = ask(client, me.id, "保温杯多少钱")
    again = ask(client, me.id, "那它还有货吗", last_sku=first["sku"])
    assert again["response"] == "utter_product_stock" and again["sku"] == "CUP-001"
    assert ask(client, me.id, "这个是什么材质", last_sku="CUP-001")["slots"]["value"] == "316 不锈钢"
    # A product named wins over the last one.
    assert ask(client, me.id, "那龙井呢多少钱", last_sku="CUP-001")["sku"] == "TEA-001"
    assert ask(client, me.id, "这个多少钱") == {"response": "utter_product_which", "slots": {}, "sku": None}
    assert ask(client, me.id, "这个多少钱", last_sku="NO-SUCH")["response"] == "utter_product_which"


@pytest.mark.parametrize("text,query", [
    ("你们卖iPhone吗", "iphone"),
    ("有没有卖电饭煲", "电饭煲"),
    ("苹果干多少钱", "苹果干"),
])
def test_what_the_shop_does_not_sell_is_not_found(client, shop, me, text, query):
    assert ask(client, me.id, text, last_sku="TEA-001") == {
        "response": "utter_product_not_found", "slots": {"query": query}, "sku": None}


def test_personal_numbers_are_never_echoed(client, shop, me):
    answer = ask(client, me.id, "有没有卖11010519491231002X")
    assert "11010519491231002X" not in str(answer)
    answer = ask(client, me.id, "有卖13812345678吗")
    assert "13812345678" not in str(answer)


def test_several_products_matching_offer_a_choice(client, shop, me):
    answer = ask(client, me.id, "卫衣多少钱")
    assert answer == {"response": "utter_product_choices", "sku": None,
                      "slots": {"product_name": "卫衣", "choices": "加绒卫衣 ¥159.00、连帽卫衣 ¥179.00"}}


def test_an_admins_edit_is_answered_at_once(client, db, shop, me):
    assert ask(client, me.id, "保温杯容量多大")["slots"]["value"] == "500ml"
    shop["CUP-001"].attributes = {**shop["CUP-001"].attributes, "容量": "600ml"}
    db.commit()
    assert ask(client, me.id, "保温杯容量多大")["slots"]["value"] == "600ml"
    db.add(Product(sku="HOM-009", name="竹纤维凉席 1.8 米", category="家居", price=Decimal("239.00"), stock=8))
    db.commit()
    assert ask(client, me.id, "凉席多少钱")["slots"] == {"product_name": "竹纤维凉席 1.8 米", "price": "¥239.00",
                                                         "offer_line": ""}
    db.add(ProductQA(product_id=shop["CUP-001"].id, question="可以放洗碗机吗", answer="不建议，请手洗。"))
    db.commit()
    assert ask(client, me.id, "保温杯能不能放洗碗机")["slots"]["answer"] == "不建议，请手洗。"


def test_bad_input_is_refused(client, shop, me):
    url = f"/internal/customers/{me.id}/product-answer"
    assert client.get(url, params={"text": "龙" * 501}, headers=AUTH).status_code == 422
    assert client.get(url, params={"text": "龙井"}).status_code == 401
    assert client.get("/internal/customers/999999/product-answer", params={"text": "龙井"},
                      headers=AUTH).status_code == 404


@pytest.mark.parametrize("text", ["", " ", "\x00\x07", "🍵🍵？", "%%%", "？" * 500, "龙井" * 250, "１２３４５６７８",
                                  "<script>alert(1)</script>", "这个"])
def test_odd_messages_get_an_answer_not_an_error(client, shop, me, text):
    answer = ask(client, me.id, text, intent="", last_sku="")
    assert answer["response"].startswith("utter_product_")
    account = client.get(f"/internal/customers/{me.id}/account-answer", params={"text": text}, headers=AUTH)
    recs = client.get(f"/internal/customers/{me.id}/recommendations", params={"text": text}, headers=AUTH)
    assert account.status_code == 200 and recs.status_code == 200
