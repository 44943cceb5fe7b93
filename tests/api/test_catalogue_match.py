"""api/domain/catalogue_match.py: products found from the catalogue's own names, and what is
asked of them (pure: no database)."""
from __future__ import annotations

import pytest

from api.domain.catalogue_match import (
    CatalogueEntry, Fact, FactIndex, Matcher, asked_noun, detect_aspect, has_pronoun, normalise, strip_mentions)

CATALOGUE = [
    CatalogueEntry("TEA-001", "明前龙井 250g", "茶叶"), CatalogueEntry("TEA-002", "云南普洱熟茶饼 357g", "茶叶"),
    CatalogueEntry("TEA-003", "安溪铁观音 250g", "茶叶"), CatalogueEntry("TEA-005", "福鼎白茶饼 300g", "茶叶"),
    CatalogueEntry("CUP-001", "不锈钢保温杯 500ml", "杯具", ("保温杯", "不锈钢杯")),
    CatalogueEntry("CUP-002", "玻璃泡茶杯 带滤网", "杯具"), CatalogueEntry("CUP-006", "宜兴紫砂壶 西施 200ml", "杯具"),
    CatalogueEntry("BAG-004", "拉杆登机箱 20 寸", "箱包"), CatalogueEntry("BAG-006", "拉杆登机箱 24 寸", "箱包"),
    CatalogueEntry("TEE-001", "纯棉圆领短袖 T 恤", "服饰"), CatalogueEntry("TEE-002", "加绒卫衣", "服饰"),
    CatalogueEntry("TEE-003", "连帽卫衣", "服饰"), CatalogueEntry("SNK-003", "芒果干 500g", "零食"),
    CatalogueEntry("SNK-004", "手撕牛肉干 250g", "零食"), CatalogueEntry("DIG-001", "iPhone 20W 快充头", "数码配件"),
    CatalogueEntry("DIG-003", "降噪蓝牙耳机", "数码配件"),
]


@pytest.fixture(scope="module")
def matcher():
    return Matcher.build(CATALOGUE)


def skus(matcher, text):
    best = matcher.best(text)
    return best.skus if best else ()


@pytest.mark.parametrize("text,expected", [
    ("龙井多少钱", ("TEA-001",)),
    ("明前龙井250G还有吗", ("TEA-001",)),
    ("明前龙井 250g", ("TEA-001",)),
    ("那个龙井茶还有货吗", ("TEA-001",)),
    ("普洱有没有", ("TEA-002",)),
    ("铁观音怎么卖", ("TEA-003",)),
    ("紫砂壶多少钱", ("CUP-006",)),
    ("宜兴紫砂壶西施", ("CUP-006",)),
    ("这款保温杯能装开水吗", ("CUP-001",)),
    ("不锈钢杯多大", ("CUP-001",)),
    ("降噪耳机多少钱一个", ("DIG-003",)),
    ("蓝牙耳机", ("DIG-003",)),
    ("20寸登机箱价格多少", ("BAG-004",)),
    ("20 寸登机箱", ("BAG-004",)),
    ("２０寸 登机箱", ("BAG-004",)),
    ("24寸的登机箱有货吗", ("BAG-006",)),
    ("登机箱多少钱", ("BAG-004", "BAG-006")),
    ("卫衣多少钱", ("TEE-002", "TEE-003")),
    ("加绒卫衣多少钱", ("TEE-002",)),
    ("T恤有什么颜色", ("TEE-001",)),
    ("IPHONE快充头", ("DIG-001",)),
    ("牛肉干好吃吗", ("SNK-004",)),
    ("茶饼", ("TEA-002", "TEA-005")),
])
def test_products_are_found_by_full_partial_and_alias_names(matcher, text, expected):
    assert skus(matcher, text) == expected


@pytest.mark.parametrize("text", ["苹果干有吗", "你们卖iPhone手机吗", "有没有卖电饭煲", "你好", "我想退货", "茶"])
def test_nothing_the_catalogue_does_not_hold(matcher, text):
    best = matcher.best(text)
    assert best is None or best.key == "iphone"  # "iPhone" names the charger only in part


def test_a_product_added_is_found_at_once():
    grown = Matcher.build(CATALOGUE + [CatalogueEntry("HOM-009", "竹纤维凉席 1.8 米", "家居")])
    assert skus(grown, "凉席多少钱") == ("HOM-009",)
    assert skus(Matcher.build(CATALOGUE), "凉席多少钱") == ()


def test_categories_outside_the_product_mention(matcher):
    text = "买了龙井配什么杯子好"
    mentions = matcher.mentions(text)
    assert [m.skus for m in mentions] == [("TEA-001",)]
    assert matcher.category_in(text, mentions) == ("杯子", "杯具")
    assert matcher.category_in("有什么茶叶推荐", []) == ("茶叶", "茶叶")
    assert matcher.category_in("保温杯", matcher.mentions("保温杯")) is None


def test_normalisation_and_pronouns():
    assert normalise("  ＩＰｈｏｎｅ　20 W ") == "iphone20w"
    assert has_pronoun("那个还有吗") and has_pronoun("它多少钱") and not has_pronoun("龙井多少钱")


@pytest.mark.parametrize("text,kind,attribute", [
    ("多少钱", "price", None), ("价格多少", "price", None), ("几块钱一个", "price", None), ("价钱贵吗", "price", None),
    ("还有货吗", "stock", None), ("有现货吗", "stock", None), ("库存多少", "stock", None), ("卖完了吗", "stock", None),
    ("还有吗", "stock", None),
    ("容量多大", "attribute", "容量"), ("能装多少", "attribute", "容量"), ("几毫升", "attribute", "容量"),
    ("是什么材料", "attribute", "材质"), ("什么做的", "attribute", "材质"), ("哪里产的", "attribute", "产地"),
    ("能放多久", "attribute", "保质期"), ("多大码", "attribute", "尺码"), ("有几种颜色", "attribute", "颜色"),
    ("颜色", "attribute", "颜色"), ("", "overview", None), ("介绍一下", "overview", None),
    ("能装开水吗", "question", None), ("适合送长辈吗", "question", None),
])
def test_the_aspect_asked(text, kind, attribute):
    aspect = detect_aspect(text, ["容量", "材质", "是否可装开水"])
    assert (aspect.kind, aspect.attribute) == (kind, attribute)


def test_an_attribute_of_the_product_wins_by_its_own_name():
    assert detect_aspect("是否可装开水", ["是否可装开水"]).attribute == "是否可装开水"
    assert detect_aspect("可装开水吗", ["是否可装开水"]).attribute == "是否可装开水"
    assert detect_aspect("", [], intent="ask_price").kind == "price"


@pytest.mark.parametrize("text,noun", [
    ("你们卖iPhone吗", "iphone"), ("有没有卖电饭煲", "电饭煲"), ("你们店有空气炸锅吗", "空气炸锅"),
    ("电饭煲多少钱", "电饭煲"), ("这个多少钱", None), ("有什么优惠", None), ("在吗", None),
])
def test_the_noun_asked_for(text, noun):
    assert asked_noun(text) == noun


def test_qa_similarity_has_a_threshold_and_stays_with_its_product(matcher):
    index = FactIndex([Fact("CUP-001", "能装开水吗", "可以，耐温 100°C", "qa"),
                       Fact("CUP-001", "是否可以放进冰箱", "可以冷藏，不可冷冻", "qa"),
                       Fact("TEA-001", "怎么泡比较好喝", "80°C 水冲泡", "qa"),
                       Fact("CUP-001", "是否可装开水", "可以", "attribute")])
    for question in ("可以装开水吗", "能不能装开水", "开水能装吗？"):
        fact, score = index.closest("CUP-001", question)
        assert "开水" in fact.question and score >= 0.5
    assert index.closest("CUP-001", "能放冰箱吗")[0].answer == "可以冷藏，不可冷冻"
    assert index.closest("CUP-001", "怎么泡比较好喝") is None  # another product's Q&A
    assert index.closest("CUP-001", "送人合适吗") is None
    assert index.closest("NONE", "能装开水吗") is None
    rest = strip_mentions("这款保温杯能装开水吗", matcher.mentions("这款保温杯能装开水吗"))
    assert index.closest("CUP-001", rest)[0].question in ("能装开水吗", "是否可装开水")
