"""The shop's rules for returns, cancellations and address changes (pure)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from api.domain.self_service import (
    RETURN_DAYS,
    WINDOW_PASSED,
    OrderFacts,
    decide,
    open_kinds,
    return_deadline,
)
from api.models.order import ORDER_STATUS_LABELS

NOW = datetime(2026, 12, 3, 8, 0)
PLACED = NOW - timedelta(days=10)


def order(status: str, delivered_days_ago: float | None = None, open_=frozenset()) -> OrderFacts:
    delivered = NOW - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    return OrderFacts(status, PLACED, delivered, frozenset(open_))


@pytest.mark.parametrize("status", ["delivered", "completed"])
def test_a_received_order_may_be_returned_within_the_window(status):
    assert decide("return", order(status, delivered_days_ago=1), NOW).allowed
    assert decide("return", order(status, delivered_days_ago=RETURN_DAYS), NOW).allowed


def test_the_return_window_is_counted_from_delivery():
    late = decide("return", order("delivered", delivered_days_ago=RETURN_DAYS + 0.01), NOW)
    assert not late.allowed and late.why == WINDOW_PASSED and "7 天" in late.why
    assert return_deadline(order("delivered", delivered_days_ago=2)) == NOW - timedelta(days=2) + timedelta(days=7)


def test_a_completed_order_without_delivery_time_counts_from_placing():
    # placed 10 days ago, no delivery time: the window has passed
    assert not decide("return", order("completed"), NOW).allowed
    recent = OrderFacts("completed", NOW - timedelta(days=3))
    assert decide("return", recent, NOW).allowed


def test_a_second_return_waits_for_the_open_one():
    refused = decide("return", order("delivered", 1, open_kinds([("return", "submitted")])), NOW)
    assert not refused.allowed and "正在处理" in refused.why
    # a rejected one is closed: the customer may ask again within the window
    assert decide("return", order("delivered", 1, open_kinds([("return", "rejected")])), NOW).allowed


@pytest.mark.parametrize("status,words", [("pending_payment", "未付款"), ("paid", "未发货"), ("shipped", "签收后"),
                                          ("refunding", "退款处理中"), ("refunded", "已经退款"),
                                          ("cancelled", "已经取消")])
def test_a_return_of_an_order_not_received_is_refused_with_why(status, words):
    decision = decide("return", order(status), NOW)
    assert not decision.allowed and words in decision.why


@pytest.mark.parametrize("status", ["pending_payment", "paid"])
@pytest.mark.parametrize("kind", ["cancel", "address"])
def test_an_order_not_shipped_may_be_cancelled_or_readdressed(kind, status):
    assert decide(kind, order(status), NOW).allowed


def test_a_shipped_order_cannot_be_cancelled_but_may_be_returned_once_delivered():
    decision = decide("cancel", order("shipped"), NOW)
    assert not decision.allowed and decision.why == "订单已发货，无法取消；签收后可申请退货"


@pytest.mark.parametrize("status", ["shipped", "delivered", "completed", "refunding", "refunded", "cancelled"])
def test_the_address_cannot_change_after_dispatch(status):
    decision = decide("address", order(status, 1), NOW)
    assert not decision.allowed and "无法修改收货地址" in decision.why


def test_every_status_has_a_chinese_answer_for_every_kind():
    for kind in ("return", "cancel", "address"):
        for status in ORDER_STATUS_LABELS:
            decision = decide(kind, order(status, 1), NOW)
            assert decision.allowed or (decision.why and "订单" in decision.why), (kind, status)


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        decide("exchange", order("paid"), NOW)
