"""Recommendations: "customers who bought X also bought Y"; the service picks the products.

The customer's message goes along: a product they name ("买了龙井配什么杯子好") anchors
the rules on it (reason ``anchored``), a kind of goods ("有什么保温杯推荐") gets that
category's best sellers (reason ``category``)."""
from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI, ServiceUnavailable
from actions.session import customer_id_of

log = logging.getLogger(__name__)
HOW_MANY = 3


def price_text(value: Any) -> str:
    """¥ and the price without trailing zeros: "168.00" → "¥168", "59.90" → "¥59.9"."""
    try:
        text = f"{Decimal(str(value)):.2f}".rstrip("0").rstrip(".")
    except (InvalidOperation, ValueError):
        return ""
    return f"¥{text}"


def product_list(products: list[dict[str, Any]]) -> str:
    """The {products} of utter_recommend: "名称 ¥价格" joined by 、."""
    return "、".join(f"{p['name']} {price_text(p.get('price'))}".strip() for p in products)


def because_text(products: list[dict[str, Any]]) -> str:
    """The {because} of utter_recommend: what the customer bought that led to these, once each."""
    names = dict.fromkeys(name for p in products for name in p.get("because") or [])
    return "、".join(names)


class ActionRecommend(Action):
    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_recommend"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_no_recommendation")
            return []
        try:
            text = ((tracker.latest_message or {}).get("text") or "").strip()
            found = await self.api.recommendations(customer_id, HOW_MANY, text=text or None)
        except ServiceUnavailable as exc:
            # A suggestion is not worth a person's time: say there is none rather than hand over.
            log.warning("recommendations failed: %s", exc)
            dispatcher.utter_message(response="utter_no_recommendation")
            return []
        products = (found or {}).get("products") or []
        if not products:
            dispatcher.utter_message(response="utter_no_recommendation")
        elif found.get("reason") in ("also_bought", "anchored") and because_text(products):
            dispatcher.utter_message(response="utter_recommend", products=product_list(products),
                                     because=because_text(products))
        elif found.get("reason") == "category" and found.get("category"):
            dispatcher.utter_message(response="utter_recommend_category", products=product_list(products),
                                     category=str(found["category"]))
        else:
            dispatcher.utter_message(response="utter_recommend_popular", products=product_list(products))
        return []
