"""Offers: the customer asks for a coupon or a deal; the service decides which one."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI, ServiceUnavailable
from actions.session import customer_id_of

log = logging.getLogger(__name__)


class ActionOffer(Action):
    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_no_offer")
            return []
        try:
            # The service's conversation id is Rasa's sender id.
            claim = await self.api.claim_offer(customer_id, tracker.sender_id)
        except ServiceUnavailable as exc:
            log.warning("offer claim failed: %s", exc)
            dispatcher.utter_message(response="utter_handoff")
            return []
        status = (claim or {}).get("status")
        if status not in ("new", "again"):
            dispatcher.utter_message(response="utter_no_offer")
            return []
        arguments = {k: claim.get(k) or "" for k in ("offer_title", "offer_detail", "coupon_code", "expires_on")}
        if not claim.get("coupon_code"):
            response = "utter_offer_benefit"
        else:
            response = "utter_offer" if status == "new" else "utter_offer_again"
        dispatcher.utter_message(response=response, **arguments)
        return []
