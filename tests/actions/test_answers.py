"""Answers from the shop's data: the actions pass on what the service answers, keep the
last product for "这个/那个", and never repeat a number that is not an order number."""
from __future__ import annotations

import re

import pytest

from actions.answers import ActionAccount, ActionProductAnswer, ActionRequestStatus
from actions.orders import ActionOrderStatus, well_formed_order_no
from actions.recommend import ActionRecommend, product_list
from tests.actions.service_stub import ANSWERS, Stub, run_action, slot_events, tracker

CID = 2  # the recorded member
PRODUCT = f"GET /internal/customers/{CID}/product-answer"
ACCOUNT = f"GET /internal/customers/{CID}/account-answer"
REQUESTS = f"GET /internal/customers/{CID}/service-requests"
RECOMMEND = f"GET /internal/customers/{CID}/recommendations"
ORDERS = f"GET /internal/customers/{CID}/orders"


def test_a_price_question_is_answered_from_the_product_and_remembers_it():
    stub = Stub({PRODUCT: ANSWERS["product_price"]})
    events, messages, _ = run_action(ActionProductAnswer, tracker("龙井多少钱", "ask_price"), stub)
    (message,) = messages
    assert message["response"] == "utter_product_price"
    assert message["product_name"] == "明前龙井 250g" and message["price"] == "¥168.00"
    assert "满 99 减 15" in message["offer_line"]
    assert slot_events(events) == {"last_product": "TEA-001"}
    (seen,) = stub.seen
    assert seen.query == {"text": "龙井多少钱", "intent": "ask_price", "last_sku": ""}


def test_a_pronoun_follow_up_sends_the_last_product():
    stub = Stub({PRODUCT: ANSWERS["product_attribute"]})
    events, messages, _ = run_action(
        ActionProductAnswer, tracker("那它能装开水吗", "ask_product", slots={"last_product": "CUP-001"}), stub)
    assert stub.seen[0].query["last_sku"] == "CUP-001" and stub.seen[0].query["intent"] == "ask_product"
    assert messages[0]["response"] == "utter_product_attribute" and messages[0]["value"] == "可以（耐温 100°C）"
    assert slot_events(events) == {"last_product": "CUP-001"}


@pytest.mark.parametrize("payload", ["product_not_found", "product_which"])
def test_no_product_keeps_the_last_one_and_says_so(payload):
    stub = Stub({PRODUCT: ANSWERS[payload]})
    events, messages, _ = run_action(
        ActionProductAnswer, tracker("咖啡机多少钱", "ask_price", slots={"last_product": "TEA-001"}), stub)
    assert [m["response"] for m in messages] == [ANSWERS[payload]["response"]]
    assert events == []  # "这个" still means the tea


def test_a_fact_the_shop_does_not_hold_is_said_to_be_unknown():
    stub = Stub({PRODUCT: ANSWERS["product_fact_unknown"]})
    _, messages, _ = run_action(ActionProductAnswer, tracker("保温杯保修多久", "ask_product"), stub)
    assert messages[0]["response"] == "utter_product_fact_unknown" and messages[0]["topic"] == "保修期"


def test_long_messages_are_cut_to_the_services_bound():
    stub = Stub({PRODUCT: ANSWERS["product_which"]})
    run_action(ActionProductAnswer, tracker("这个" * 400, "ask_product"), stub)
    assert len(stub.seen[0].query["text"]) == 500


def test_product_answer_without_service_or_customer_falls_back_to_the_general_text():
    _, messages, _ = run_action(ActionProductAnswer, tracker("龙井多少钱", "ask_price"), Stub(up=False))
    assert [m["response"] for m in messages] == ["utter_price"]
    stub = Stub({PRODUCT: ANSWERS["product_price"]})
    events, messages, _ = run_action(ActionProductAnswer, tracker("保温杯能装开水吗", "ask_product", customer=False), stub)
    assert [m["response"] for m in messages] == ["utter_ask_product"] and stub.seen == [] and events == []


@pytest.mark.parametrize("text, intent, payload", [
    ("我现在有多少积分", "ask_membership", "account_points"),
    ("我有哪些券", "ask_my_coupons", "account_coupons"),
    ("我是什么会员", "ask_membership", "account_sign_in"),
])
def test_account_questions_are_answered_from_the_account(text, intent, payload):
    stub = Stub({ACCOUNT: ANSWERS[payload]})
    _, messages, _ = run_action(ActionAccount, tracker(text, intent), stub)
    (message,) = messages
    assert message["response"] == ANSWERS[payload]["response"]
    for name, value in ANSWERS[payload]["slots"].items():
        assert message[name] == value
    assert stub.seen[0].query == {"text": text}


def test_account_for_an_anonymous_visitor_tells_how_to_sign_in_and_asks_nothing():
    stub = Stub({ACCOUNT: ANSWERS["account_points"]})
    _, messages, _ = run_action(ActionAccount, tracker("我有多少积分", "ask_membership", customer=False), stub)
    assert [m["response"] for m in messages] == ["utter_account_sign_in"] and stub.seen == []


@pytest.mark.parametrize("intent, fallback", [("ask_membership", "utter_membership"),
                                              ("ask_my_coupons", "utter_handoff")])
def test_account_with_the_service_down(intent, fallback):
    _, messages, _ = run_action(ActionAccount, tracker("我的积分", intent), Stub(up=False))
    assert [m["response"] for m in messages] == [fallback]


@pytest.mark.parametrize("payload", ["request_status", "no_requests"])
def test_request_status_lists_the_customers_requests(payload):
    stub = Stub({REQUESTS: ANSWERS[payload]})
    _, messages, _ = run_action(ActionRequestStatus, tracker("我的退货进度", "ask_request_status"), stub)
    assert [m["response"] for m in messages] == [ANSWERS[payload]["response"]]
    assert stub.seen[0].query == {"limit": "3"}
    if payload == "request_status":
        assert "SR2026112000001" in messages[0]["request_list"]


def test_recommendation_sends_the_message_and_names_the_anchor_product():
    stub = Stub({RECOMMEND: ANSWERS["recommend_anchored"]})
    _, messages, _ = run_action(ActionRecommend, tracker("买了龙井配什么杯子好", "ask_recommendation"), stub)
    assert stub.seen[0].query == {"k": "3", "text": "买了龙井配什么杯子好"}
    (message,) = messages
    assert message["response"] == "utter_recommend" and message["because"] == "明前龙井 250g"
    assert message["products"] == product_list(ANSWERS["recommend_anchored"]["products"])


def test_recommendation_for_a_kind_of_goods_names_the_category():
    stub = Stub({RECOMMEND: ANSWERS["recommend_category"]})
    _, messages, _ = run_action(ActionRecommend, tracker("想买个保温杯送人 有什么推荐", "ask_recommendation"), stub)
    assert messages == [{**messages[0], "response": "utter_recommend_category", "category": "保温杯",
                         "products": "不锈钢保温杯 500ml ¥89"}]


ID_NUMBER = "12345619900101123X"


def test_an_id_number_caught_as_an_order_number_is_not_echoed_nor_looked_up():
    stub = Stub({ORDERS: {"orders": []}})
    t = tracker(f"{ID_NUMBER}", "query_order", entities=[{"entity": "order_no", "value": ID_NUMBER}])
    _, messages, _ = run_action(ActionOrderStatus, t, stub)
    assert [m["response"] for m in messages] == ["utter_order_no_invalid"]
    assert not any(re.search(r"\d{6}", str(v)) for m in messages for v in m.values())
    assert stub.seen == []


def test_a_lower_case_order_number_next_to_other_digits_is_used():
    stub = Stub({ORDERS: {"orders": []}})
    t = tracker("dd202611150001", "query_order", entities=[{"entity": "order_no", "value": "13800000000"},
                                                            {"entity": "order_no", "value": "dd202611150001"}])
    _, messages, _ = run_action(ActionOrderStatus, t, stub)
    assert messages[0]["response"] == "utter_order_not_found" and messages[0]["order_no"] == "DD202611150001"
    assert stub.seen[0].query["order_no"] == "DD202611150001"


@pytest.mark.parametrize("value, expected", [
    ("DD202611030017", "DD202611030017"), (" dd202611030017 ", "DD202611030017"),
    (ID_NUMBER, None), ("DD2026110300", None), ("DD2026110300171", None), ("13800000000", None), (None, None),
])
def test_well_formed_order_numbers(value, expected):
    assert well_formed_order_no(value) == expected
