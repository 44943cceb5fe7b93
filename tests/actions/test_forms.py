"""Self-service forms: the service's check picks or lists the order or refuses (and the
form ends), the confirmation says what will happen, only a "yes" creates a request,
and a customer who turns to something else leaves the form."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.self_service import (
    FORM_SLOTS,
    ActionAskOrderNo,
    ActionAskRequestConfirmed,
    ActionLeaveForm,
    ActionSubmitAddress,
    ActionSubmitCancel,
    ActionSubmitReturn,
    ValidateAddressForm,
    ValidateCancelForm,
    ValidateReturnForm,
)
from tests.actions.service_stub import ANSWERS, Stub, run_action, slot_events, tracker

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
CID = 2
CHECK = f"GET /internal/customers/{CID}/service-requests/check"
CREATE = f"POST /internal/customers/{CID}/service-requests"
ID_NUMBER = "12345619900101123X"


def ended(events) -> bool:
    return any(e["event"] == "active_loop" and e["name"] is None for e in events)


def remembered(check: dict) -> dict:
    return {"response": check["response"], "slots": check["slots"], "order_no": check["order_no"],
            "items": check["items"]}


# ------------------------------------------------------------------ choosing the order


def test_starting_a_return_takes_the_only_eligible_order_without_asking():
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    events, messages, _ = run_action(ValidateReturnForm, tracker("我要退货", "return_refund"), stub, DOMAIN)
    assert messages == []  # the form goes on to ask for the reason
    assert stub.seen[0].query == {"kind": "return"}
    slots = slot_events(events)
    assert slots["order_no"] == "DD202611020007"
    assert slots["service_request"]["items"] == ["每日坚果 30 袋装"] and not ended(events)


def test_an_order_number_from_an_earlier_question_is_not_assumed():
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    run_action(ValidateReturnForm, tracker("我要退货", "return_refund", slots={"order_no": "DD202611150001"}),
               stub, DOMAIN)
    assert "order_no" not in stub.seen[0].query


def test_several_eligible_orders_are_listed_to_choose_from():
    stub = Stub({CHECK: ANSWERS["check_ask_order"]})
    events, messages, _ = run_action(ValidateReturnForm, tracker("申请退货", "return_refund"), stub, DOMAIN)
    slots = slot_events(events)
    assert messages == [] and slots["order_no"] is None and not ended(events)
    # The form then asks for the order: with the list the service gave.
    asking = tracker("申请退货", "return_refund", slots={"service_request": slots["service_request"]},
                     active_loop="return_form")
    _, messages, _ = run_action(ActionAskOrderNo, asking)
    assert messages[0]["response"] == "utter_request_ask_order"
    assert "DD202611120777" in messages[0]["order_list"]


def test_an_order_named_when_the_form_starts_is_checked_even_if_rasa_shows_the_form_active():
    # "帮我取消订单DD…": the number fills a slot, so Rasa already shows the form as active
    # when it first validates; nothing has been asked yet, so the order is checked now.
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    t = tracker("退货 DD202611020007", "return_refund",
                entities=[{"entity": "order_no", "value": "DD202611020007"}], active_loop="return_form")
    events, _, _ = run_action(ValidateReturnForm, t, stub, DOMAIN)
    assert len(stub.seen) == 1 and stub.seen[0].query["order_no"] == "DD202611020007"
    assert slot_events(events)["order_no"] == "DD202611020007"


def test_the_order_named_in_reply_is_checked():
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    t = tracker("DD202611020007", "query_order", entities=[{"entity": "order_no", "value": "dd202611020007"}],
                slots={"requested_slot": "order_no"}, active_loop="return_form")
    events, _, _ = run_action(ValidateReturnForm, t, stub, DOMAIN)
    assert stub.seen[0].query == {"kind": "return", "order_no": "DD202611020007"}
    assert slot_events(events)["order_no"] == "DD202611020007"


def test_a_cancel_refused_by_the_rules_says_why_and_ends_the_form():
    stub = Stub({CHECK: ANSWERS["check_cancel_refused"]})
    t = tracker("订单DD202611150001取消", "cancel_order", entities=[{"entity": "order_no", "value": "DD202611150001"}])
    events, messages, _ = run_action(ValidateCancelForm, t, stub, DOMAIN)
    assert stub.seen[0].query == {"kind": "cancel", "order_no": "DD202611150001"}
    (message,) = messages
    assert message["response"] == "utter_request_refused" and "已发货" in message["why"]
    assert ended(events) and all(v is None for v in slot_events(events).values())


def test_no_eligible_order_ends_the_form():
    stub = Stub({CHECK: ANSWERS["check_none_eligible"]})
    events, messages, _ = run_action(ValidateAddressForm, tracker("改地址", "change_address"), stub, DOMAIN)
    assert [m["response"] for m in messages] == ["utter_request_no_eligible_order"] and ended(events)


@pytest.mark.parametrize("stub", [Stub(up=False), Stub({CHECK: None})], ids=["down", "404"])
def test_without_the_service_the_form_hands_over(stub):
    events, messages, _ = run_action(ValidateCancelForm, tracker("取消订单", "cancel_order"), stub, DOMAIN)
    assert [m["response"] for m in messages] == ["utter_handoff"] and ended(events)


def test_an_anonymous_visitor_is_told_to_sign_in():
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    events, messages, _ = run_action(ValidateReturnForm, tracker("我要退货", "return_refund", customer=False),
                                     stub, DOMAIN)
    assert [m["response"] for m in messages] == ["utter_account_sign_in"] and ended(events) and stub.seen == []


def test_no_order_in_the_reply_lets_the_rules_take_over():
    """"算了" at the order question: nothing filled, the form is rejected (and left by a rule)."""
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    t = tracker("算了", "deny", slots={"requested_slot": "order_no"}, active_loop="return_form")
    events, messages, _ = run_action(ValidateReturnForm, t, stub, DOMAIN)
    assert events == [] and messages == [] and stub.seen == []


def test_an_id_number_given_as_the_order_is_not_echoed_and_the_order_is_asked_again():
    stub = Stub({CHECK: ANSWERS["check_return_eligible"]})
    t = tracker(ID_NUMBER, "inform_id_number", entities=[{"entity": "order_no", "value": ID_NUMBER}],
                slots={"requested_slot": "order_no"}, active_loop="return_form")
    events, messages, _ = run_action(ValidateReturnForm, t, stub, DOMAIN)
    assert [m["response"] for m in messages] == ["utter_order_no_invalid"] and stub.seen == []
    assert slot_events(events) == {"order_no": None} and not ended(events)
    assert not any(re.search(r"\d{6}", str(v)) for m in messages for v in m.values())


# ------------------------------------------------------------------ reason, address, confirmation


def test_the_reason_is_kept_bounded_and_without_id_numbers():
    t = tracker("x", "return_refund", active_loop="return_form", slots={"requested_slot": "return_reason"},
                candidates={"return_reason": f"  尺码不合适   身份证{ID_NUMBER} " + "太大" * 200})
    events, _, _ = run_action(ValidateReturnForm, t, Stub(), DOMAIN)
    reason = slot_events(events)["return_reason"]
    assert reason.startswith("尺码不合适 身份证1234") and ID_NUMBER not in reason and len(reason) == 200


def test_the_confirmation_says_order_items_and_reason():
    check = ANSWERS["check_return_eligible"]
    t = tracker("尺码不合适", "return_refund", active_loop="return_form",
                slots={"order_no": "DD202611020007", "return_reason": "尺码不合适", "service_request": remembered(check),
                       "requested_slot": "request_confirmed"})
    _, messages, _ = run_action(ActionAskRequestConfirmed, t)
    assert messages[0]["response"] == "utter_request_confirm_return"
    assert (messages[0]["order_no"], messages[0]["items"], messages[0]["reason"]) == \
        ("DD202611020007", "每日坚果 30 袋装", "尺码不合适")


def test_the_address_confirmation_masks_a_phone_number():
    check = ANSWERS["check_address_eligible"]
    t = tracker("x", "out_of_scope", active_loop="address_form",
                slots={"new_address": "杭州市西湖区文三路 100 号 张三 13800001111", "service_request": remembered(check)})
    _, messages, _ = run_action(ActionAskRequestConfirmed, t)
    assert messages[0]["response"] == "utter_request_confirm_address"
    assert "13800001111" not in messages[0]["new_address"] and "文三路 100 号" in messages[0]["new_address"]


# ------------------------------------------------------------------ submitting


def confirmed_return(answer: bool | None) -> tuple:
    return tracker("是的" if answer else "不用了", "affirm" if answer else "deny",
                   slots={"order_no": "DD202611020007", "return_reason": "尺码不合适", "request_confirmed": answer,
                          "service_request": remembered(ANSWERS["check_return_eligible"])})


def test_yes_creates_the_request_and_tells_its_number():
    stub = Stub({CREATE: ANSWERS["created_return"]})
    t = confirmed_return(True)
    events, messages, _ = run_action(ActionSubmitReturn, t, stub)
    (seen,) = stub.seen
    assert seen.body == {"kind": "return", "order_no": "DD202611020007", "items": ["每日坚果 30 袋装"],
                         "reason": "尺码不合适", "new_address": None, "conversation_id": t.sender_id}
    assert messages[0]["response"] == "utter_request_created" and messages[0]["request_no"] == "SR2026112000001"
    assert set(slot_events(events)) == set(FORM_SLOTS) and not any(slot_events(events).values())


def test_no_creates_nothing():
    stub = Stub({CREATE: ANSWERS["created_return"]})
    events, messages, _ = run_action(ActionSubmitReturn, confirmed_return(False), stub)
    assert [m["response"] for m in messages] == ["utter_request_cancelled"] and stub.seen == []
    assert not any(slot_events(events).values())


def test_a_form_that_ended_early_submits_nothing_and_says_nothing_more():
    stub = Stub({CREATE: ANSWERS["created_return"]})
    events, messages, _ = run_action(ActionSubmitCancel, tracker("取消订单", "cancel_order"), stub)
    assert messages == [] and stub.seen == [] and set(slot_events(events)) == set(FORM_SLOTS)


def test_rules_checked_again_at_creation_can_still_refuse():
    stub = Stub({CREATE: ANSWERS["create_refused"]})
    _, messages, _ = run_action(ActionSubmitReturn, confirmed_return(True), stub)
    assert messages[0]["response"] == "utter_request_refused" and "7 天" in messages[0]["why"]


def test_an_address_change_sends_the_new_address():
    stub = Stub({CREATE: {**ANSWERS["created_return"], "slots": {**ANSWERS["created_return"]["slots"],
                                                                 "kind_label": "修改收货地址"}}})
    t = tracker("是的", "affirm", slots={"order_no": "DD202611200615", "new_address": "上海市徐汇区漕溪北路 1 号",
                                        "request_confirmed": True,
                                        "service_request": remembered(ANSWERS["check_address_eligible"])})
    run_action(ActionSubmitAddress, t, stub)
    assert stub.seen[0].body["kind"] == "address" and stub.seen[0].body["new_address"] == "上海市徐汇区漕溪北路 1 号"
    assert stub.seen[0].body["reason"] == ""


def test_creation_with_the_service_down_hands_over():
    _, messages, _ = run_action(ActionSubmitReturn, confirmed_return(True), Stub(up=False))
    assert [m["response"] for m in messages] == ["utter_handoff"]


def test_leaving_a_form_ends_it_and_forgets_what_it_held():
    events, messages, _ = run_action(ActionLeaveForm, tracker("龙井多少钱", "ask_price", active_loop="return_form"))
    assert messages == [] and ended(events)
    assert set(slot_events(events)) == set(FORM_SLOTS) | {"requested_slot"} and not any(slot_events(events).values())


# ------------------------------------------------------------------ the Rasa data


def test_every_intent_can_leave_every_form():
    """Without a rule for some intent, a rejected form would have no next action (a loop)."""
    rules = yaml.safe_load((ROOT / "data" / "rules" / "forms_leave.yml").read_text(encoding="utf-8"))["rules"]
    covered = {(r["condition"][0]["active_loop"], r["steps"][0]["intent"]) for r in rules}
    intents = {i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]} | {"nlu_fallback"}
    for form in DOMAIN["forms"]:
        assert {i for f, i in covered if f == form} == intents, form


CONTRACT = {
    "utter_product_price": {"product_name", "price", "offer_line"},
    "utter_product_stock": {"product_name", "stock_text"},
    "utter_product_attribute": {"product_name", "attribute", "value"},
    "utter_product_qa": {"product_name", "answer"},
    "utter_product_overview": {"product_name", "price", "description"},
    "utter_product_fact_unknown": {"product_name", "topic"},
    "utter_product_not_found": {"query"},
    "utter_product_which": set(),
    "utter_product_choices": {"product_name", "choices"},
    "utter_account_points": {"customer_name", "points", "level", "next_level_text"},
    "utter_account_level": {"customer_name", "level", "benefits", "next_level_text"},
    "utter_account_coupons": {"coupon_list"},
    "utter_account_no_coupons": set(),
    "utter_account_sign_in": set(),
    "utter_recommend": {"because", "products"},
    "utter_recommend_popular": {"products"},
    "utter_recommend_category": {"category", "products"},
    "utter_no_recommendation": set(),
    "utter_request_ask_order": {"order_list"},
    "utter_request_no_eligible_order": {"kind_label"},
    "utter_request_refused": {"order_no", "kind_label", "why"},
    "utter_request_confirm_return": {"order_no", "items", "reason"},
    "utter_request_confirm_cancel": {"order_no", "items"},
    "utter_request_confirm_address": {"order_no", "new_address"},
    "utter_request_created": {"request_no", "kind_label", "order_no", "status_label"},
    "utter_request_status": {"request_list"},
    "utter_no_requests": set(),
}


@pytest.mark.parametrize("name, variables", CONTRACT.items())
def test_every_contract_response_has_exactly_its_variables(name, variables):
    for variation in DOMAIN["responses"][name]:
        assert set(re.findall(r"\{(\w+)\}", variation["text"])) == variables


def test_unknown_products_and_facts_are_never_made_up():
    for name in ("utter_product_not_found", "utter_product_fact_unknown"):
        text = DOMAIN["responses"][name][0]["text"]
        assert ("没有找到" in text or "暂无该信息" in text) and "转人工" in text


def test_personal_numbers_are_acknowledged_without_variables():
    for name in ("utter_phone_received", "utter_id_number_not_needed", "utter_order_no_invalid"):
        assert "{" not in DOMAIN["responses"][name][0]["text"]
    assert DOMAIN["responses"]["utter_phone_received"][0]["text"].startswith("收到您的手机号")
