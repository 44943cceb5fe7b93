"""The shop's rules for what a customer may do on an order by themselves (patent 000,
step 4 "自主服务"): return it, cancel it, or change its delivery address.

Pure: the order's status and times, the requests already open on it and the time
now go in, a decision comes out — with the reason in Chinese when the answer is no,
because the customer is told why. The service (api/services/service_requests.py)
asks these rules both when the chat checks a request and again when it is created.

    return   delivered or completed, within RETURN_DAYS of delivery (of placing, for a
             completed order with no delivery time), and no return already open on it
    cancel   pending_payment or paid (not shipped yet)
    address  pending_payment or paid (not dispatched yet)

Anything else is refused, with what the customer can do instead where there is
something (a shipped order: return it once delivered).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

RETURN_DAYS = 7
KINDS = ("return", "cancel", "address")
# Requests that are still being handled: a second one of the same kind waits for it.
OPEN_STATUSES = frozenset({"submitted", "approved"})

NOT_SHIPPED = frozenset({"pending_payment", "paid"})
RECEIVED = frozenset({"delivered", "completed"})

# Why an order in this status cannot have a request of this kind.
_STATUS_REFUSALS = {
    "return": {
        "pending_payment": "订单还未付款，无需退货；不想要的话可以直接取消订单",
        "paid": "订单还未发货，无需退货；可以直接取消订单，款项会原路退回",
        "shipped": "订单还在运输途中，签收后才能申请退货",
        "refunding": "该订单已在退款处理中",
        "refunded": "该订单已经退款",
        "cancelled": "该订单已经取消",
    },
    "cancel": {
        "shipped": "订单已发货，无法取消；签收后可申请退货",
        "delivered": "订单已签收，无法取消；如不满意可申请退货退款",
        "completed": "订单已完成，无法取消；如不满意可申请退货退款",
        "refunding": "该订单正在退款处理中，无需取消",
        "refunded": "该订单已经退款，无需取消",
        "cancelled": "该订单已经取消",
    },
    "address": {
        "shipped": "订单已发货，无法修改收货地址；可以联系快递公司协商改派",
        "delivered": "订单已签收，无法修改收货地址",
        "completed": "订单已完成，无法修改收货地址",
        "refunding": "该订单正在退款处理中，无法修改收货地址",
        "refunded": "该订单已经退款，无法修改收货地址",
        "cancelled": "该订单已经取消，无法修改收货地址",
    },
}
UNKNOWN_STATUS = "订单状态暂时无法办理，请联系人工客服"
WINDOW_PASSED = f"已超过签收后 {RETURN_DAYS} 天的退货期限"
RETURN_OPEN = "该订单已有退货申请正在处理，请耐心等待客服审核"


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know of one order (times naive UTC, as stored)."""

    status: str
    placed_at: datetime
    delivered_at: datetime | None = None
    open_kinds: frozenset[str] = frozenset()  # kinds of this order's requests still open


@dataclass(frozen=True)
class Decision:
    kind: str
    allowed: bool
    why: str = ""  # the refusal's reason, in Chinese; "" when allowed


def open_kinds(requests: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The kinds of ``(kind, status)`` requests that are still open."""
    return frozenset(kind for kind, status in requests if status in OPEN_STATUSES)


def return_deadline(order: OrderFacts) -> datetime | None:
    """Until when the order may be returned (None: it was never received)."""
    if order.status not in RECEIVED:
        return None
    received = order.delivered_at or order.placed_at
    return received + timedelta(days=RETURN_DAYS)


def decide(kind: str, order: OrderFacts, now: datetime) -> Decision:
    """May the customer make a request of ``kind`` on this order now?"""
    if kind not in KINDS:
        raise ValueError(f"not a request kind: {kind!r}")
    if kind == "return":
        return _return(order, now)
    if order.status in NOT_SHIPPED:
        return Decision(kind, True)
    return Decision(kind, False, _STATUS_REFUSALS[kind].get(order.status, UNKNOWN_STATUS))


def _return(order: OrderFacts, now: datetime) -> Decision:
    deadline = return_deadline(order)
    if deadline is None:
        return Decision("return", False, _STATUS_REFUSALS["return"].get(order.status, UNKNOWN_STATUS))
    if "return" in order.open_kinds:
        return Decision("return", False, RETURN_OPEN)
    if now > deadline:
        return Decision("return", False, WINDOW_PASSED)
    return Decision("return", True)
