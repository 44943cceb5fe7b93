"""Answers from the shop's own data: products, the member's account, their requests.

The service decides what to say (architecture decision 3): each endpoint returns a
response of domain.yml and its variables, and these actions only pass them on. The
only thing kept here is the conversation's memory of the last product talked about
(slot ``last_product``), so that "这个 / 那个 / 它" next turn refers to it.
"""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI, ServiceUnavailable
from actions.session import customer_id_of

log = logging.getLogger(__name__)


def message_text(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("text") or "").strip()


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def utter_answer(dispatcher: CollectingDispatcher, answer: dict[str, Any] | None, **extra: str) -> bool:
    """Say the service's answer; False if it gave none. ``extra`` fills variables the
    service leaves to the conversation (a form's reason or new address)."""
    response = (answer or {}).get("response")
    if not isinstance(response, str) or not response.startswith("utter_"):
        return False
    slots = {k: "" if v is None else str(v) for k, v in ((answer or {}).get("slots") or {}).items()}
    dispatcher.utter_message(response=response, **{**slots, **extra})
    return True


class ActionProductAnswer(Action):
    """ask_product / ask_price: price, stock, an attribute or the closest Q&A of a product."""

    # Said when the service cannot answer: the shop's general text, which offers a person.
    GENERIC = {"ask_price": "utter_price"}

    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_product_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = latest_intent(tracker)
        generic = self.GENERIC.get(intent or "", "utter_ask_product")
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response=generic)
            return []
        try:
            answer = await self.api.product_answer(customer_id, message_text(tracker), intent,
                                                   tracker.get_slot("last_product"))
        except ServiceUnavailable as exc:
            log.warning("product answer failed: %s", exc)
            answer = None
        if not utter_answer(dispatcher, answer):
            dispatcher.utter_message(response=generic)
            return []
        sku = answer.get("sku")
        return [SlotSet("last_product", sku)] if sku else []


class ActionAccount(Action):
    """ask_membership / ask_my_coupons: points, level, benefits, coupons held."""

    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_account"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_account_sign_in")
            return []
        try:
            answer = await self.api.account_answer(customer_id, message_text(tracker))
        except ServiceUnavailable as exc:
            log.warning("account answer failed: %s", exc)
            answer = None
        if not utter_answer(dispatcher, answer):
            # The general membership text still helps; coupons held need a person.
            fallback = "utter_membership" if latest_intent(tracker) == "ask_membership" else "utter_handoff"
            dispatcher.utter_message(response=fallback)
        return []


class ActionRequestStatus(Action):
    """ask_request_status: the customer's newest returns / cancellations / address changes."""

    HOW_MANY = 3

    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_request_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_account_sign_in")
            return []
        try:
            answer = await self.api.request_status(customer_id, self.HOW_MANY)
        except ServiceUnavailable as exc:
            log.warning("request status failed: %s", exc)
            answer = None
        if not utter_answer(dispatcher, answer):
            dispatcher.utter_message(response="utter_handoff")
        return []
