"""Stage variants: validation of templates, and which text a customer is told."""
from __future__ import annotations

import random

import pytest

from api.services.responses import ResponseCatalog, ResponseText, render_nlg
from api.services.variants import Variant, VariantStore, template_variables, validate_variant

CATALOG = ResponseCatalog({
    "utter_greet": [ResponseText("您好～")],
    "utter_order_status": [ResponseText("订单 {order_no}：{order_status}")],
    "utter_offer": [ResponseText("券码 {coupon_code}")],
})


def store_with(*variants: tuple[int, str, str, str, float, str | None]) -> VariantStore:
    store = VariantStore()
    by_key: dict = {}
    for vid, template, stage, text, weight, persona in variants:
        by_key.setdefault((template, stage), []).append(
            Variant(vid, text, weight, persona, frozenset(template_variables(text))))
    store._by_key = by_key
    return store


def body(response="utter_greet", stage="growing", customer=None, arguments=None):
    meta = {"customer_id": 1, "customer": {"stage": stage, **(customer or {})}}
    return {"response": response, "arguments": arguments or {}, "channel": {"name": "rest"},
            "tracker": {"sender_id": "c1", "slots": {},
                        "latest_message": {"intent": {"name": "greet", "confidence": 0.9}, "metadata": meta}}}


def test_a_customer_of_the_stage_gets_its_variant_and_others_the_default():
    store = store_with((7, "utter_greet", "growing", "{name}您好，您有 {points} 积分", 1.0, None))
    growing = render_nlg(CATALOG, body(customer={"name": "李华", "points": 860}), store)
    assert growing["text"] == "李华您好，您有 860 积分"
    assert growing["custom"]["hx"]["variant_id"] == 7
    other = render_nlg(CATALOG, body(stage="new", customer={"name": "李华", "points": 1}), store)
    assert other["text"] == "您好～" and other["custom"]["hx"]["variant_id"] is None


def test_a_variant_whose_variable_has_no_value_falls_back_to_the_default():
    store = store_with((1, "utter_greet", "new", "{name}您好，送您券 {coupon_code}", 1.0, None))
    # An anonymous new customer holding no coupon: no braces shown, the default is said.
    assert render_nlg(CATALOG, body(stage="new"), store)["text"] == "您好～"
    with_coupon = render_nlg(CATALOG, body(stage="new", customer={"name": "王芳", "coupon_code": "NEW-X"}), store)
    assert with_coupon["text"] == "王芳您好，送您券 NEW-X"


def test_persona_variants_win_over_the_stages_general_ones():
    store = store_with((1, "utter_greet", "stable", "通用", 1.0, None),
                       (2, "utter_greet", "stable", "高价值专属", 1.0, "high_value"))
    assert render_nlg(CATALOG, body(stage="stable", customer={"persona": "high_value"}), store)["text"] == "高价值专属"
    assert render_nlg(CATALOG, body(stage="stable", customer={"persona": "ordinary"}), store)["text"] == "通用"


def test_alternatives_are_chosen_by_weight():
    store = store_with((1, "utter_greet", "new", "A", 3.0, None), (2, "utter_greet", "new", "B", 1.0, None))
    rng = random.Random(5)
    picks = [store.choose("utter_greet", "new", {}, rng=rng).text for _ in range(4000)]
    assert 0.70 < picks.count("A") / len(picks) < 0.80


def test_stage_from_metadata_wins_over_a_stale_slot():
    store = store_with((1, "utter_greet", "at_risk", "好久不见", 1.0, None))
    request = body(stage="at_risk")
    request["tracker"]["slots"] = {"customer_stage": "stable"}  # filled at session start
    assert render_nlg(CATALOG, request, store)["text"] == "好久不见"


@pytest.mark.parametrize("text, problem", [
    ("您好 {foo}", "未知变量：{foo}"),
    ("您好 {name", "花括号不成对"),
    ("您好 {name!r}", "写法不对"),
    ("   ", "不能为空"),
    ("字" * 1001, "太长"),
])
def test_bad_templates_are_refused_with_the_reason(text, problem):
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        validate_variant(CATALOG, "utter_greet", "new", text)


def test_variables_allowed_depend_on_the_template():
    # Order variables belong to the order response; coupon details to the offer response.
    assert validate_variant(CATALOG, "utter_order_status", "new", "{name}，{order_no} {order_status}")
    assert validate_variant(CATALOG, "utter_offer", "new", "{offer_title} {expires_on}")
    with pytest.raises(ValueError, match="order_no"):
        validate_variant(CATALOG, "utter_greet", "new", "{order_no}")


def test_unknown_stage_template_or_persona_is_refused():
    with pytest.raises(ValueError, match="未知的阶段 'vip'"):
        validate_variant(CATALOG, "utter_greet", "vip", "您好")
    with pytest.raises(ValueError, match="未知的回复模板"):
        validate_variant(CATALOG, "utter_nope", "new", "您好")
    with pytest.raises(ValueError, match="未知的客户类型"):
        validate_variant(CATALOG, "utter_greet", "new", "您好", persona="vip")


def test_an_admin_pin_or_veto_of_the_loop_decides_what_is_said(db):
    from api.models import ReplyVariant

    rows = [ReplyVariant(template="utter_greet", stage="new", text=t, weight=w, loop_mode=m, updated_by="t")
            for t, w, m in (("A", 5.0, "auto"), ("B", 0.1, "auto"), ("C", 9.0, "vetoed"))]
    db.add_all(rows)
    db.commit()
    store = VariantStore()
    store.load(db)
    assert {v.text for v in store.candidates("utter_greet", "new", {})} == {"A", "B"}
    rows[1].loop_mode = "pinned"
    db.commit()
    store.load(db)
    assert {store.choose("utter_greet", "new", {}).text for _ in range(50)} == {"B"}
