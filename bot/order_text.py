"""What the bot says about where an order is: one sentence per status.

Here, without Rasa, so the action server (bot env) and the demo generator (service env)
say the same thing. Dates come already written for the customer ("11月18日").
"""
from __future__ import annotations


def order_detail(status: str, *, carrier: str | None = None, tracking_no: str | None = None,
                 shipped_on: str = "", delivered_on: str = "") -> str:
    """The sentence for utter_order_status's {order_detail} ("" for other statuses)."""
    if status == "shipped":
        return f"{carrier}运单号 {tracking_no}，{shipped_on}已发出，一般 2–3 天送达。"
    if status in ("delivered", "completed"):
        return f"已于{delivered_on}签收，如有问题可以随时找我。"
    if status == "paid":
        return "仓库正在备货，一般 48 小时内发货，发货后会通知您。"
    if status == "pending_payment":
        return "订单还未付款，超时未付款会自动取消。"
    if status in ("refunding", "refunded"):
        return "退款会原路退回，一般 1–3 个工作日到账。"
    return ""
