"""Order status: the customer's own orders, looked up through the service."""
from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI, ServiceUnavailable
from actions.session import customer_id_of
from bot.order_text import order_detail as detail_for_status

log = logging.getLogger(__name__)
# Dates are told to the customer in the shop's time zone; the service sends UTC.
SHOP_TZ = ZoneInfo(os.environ.get("HX_SHOP_TIMEZONE", "Asia/Shanghai"))
# The shop's order numbers: DD + 12 digits. Anything else the NLU tagged as order_no (an
# ID-card or phone number, say) is never repeated to the customer nor sent on.
ORDER_NO = re.compile(r"DD\d{12}")


def well_formed_order_no(value: object) -> str | None:
    """The order number in canonical form ("dd2026…" → "DD2026…"), or None if it is not one."""
    if not isinstance(value, str):
        return None
    candidate = value.strip().upper()
    return candidate if ORDER_NO.fullmatch(candidate) else None


def order_no_in_message(tracker: Tracker) -> tuple[str | None, bool]:
    """(the well-formed order number in the latest message, whether something else was tagged as one)."""
    values = list(tracker.get_latest_entity_values("order_no"))
    found = next((no for no in map(well_formed_order_no, values) if no), None)
    return found, bool(values) and found is None


def _day(value: str | None) -> str:
    if not value:
        return ""
    # Python 3.10 (the bot environment) does not read a trailing "Z".
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(SHOP_TZ)
    return f"{moment.month}月{moment.day}日"


def order_detail(order: dict[str, Any]) -> str:
    """One sentence on where the order is, for utter_order_status's {order_detail}."""
    return detail_for_status(order["status"], carrier=order.get("carrier"), tracking_no=order.get("tracking_no"),
                             shipped_on=_day(order.get("shipped_at")), delivered_on=_day(order.get("delivered_at")))


def order_line(order: dict[str, Any]) -> str:
    items = order.get("items") or []
    what = items[0]["name"] if items else "商品"
    count = sum(i["quantity"] for i in items)
    if count > 1:
        what += f" 等 {count} 件"
    return f"{order['order_no']}（{what}）：{order['status_label']}"


class ActionOrderStatus(Action):
    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        # Only a number in this very message counts: a slot left from an earlier
        # question would answer about the wrong order.
        order_no, malformed = order_no_in_message(tracker)
        if malformed:
            # Say what an order number looks like, without the digits that were sent.
            dispatcher.utter_message(response="utter_order_no_invalid")
            return []
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_ask_order_no")
            return []
        try:
            orders = await self.api.orders(customer_id, order_no=order_no)
        except ServiceUnavailable as exc:
            log.error("order lookup failed: %s", exc)
            dispatcher.utter_message(response="utter_handoff")
            return []
        if order_no:
            if orders:
                o = orders[0]
                dispatcher.utter_message(response="utter_order_status", order_no=o["order_no"],
                                         order_status=o["status_label"], order_detail=order_detail(o))
            else:
                dispatcher.utter_message(response="utter_order_not_found", order_no=order_no)
            return []
        if not orders:
            dispatcher.utter_message(response="utter_no_orders")
        elif len(orders) == 1:
            o = orders[0]
            dispatcher.utter_message(response="utter_order_status", order_no=o["order_no"],
                                     order_status=o["status_label"], order_detail=order_detail(o))
        else:
            dispatcher.utter_message(response="utter_recent_orders",
                                     order_list="\n".join(order_line(o) for o in orders))
        return []
