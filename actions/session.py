"""Session start: load the customer's state from the service into slots."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI, ServiceUnavailable

log = logging.getLogger(__name__)


def customer_id_of(tracker: Tracker) -> int | None:
    """The id the service put in the message metadata (Rasa is only reachable from it)."""
    for source in ((tracker.latest_message or {}).get("metadata"), tracker.get_slot("session_started_metadata")):
        if isinstance(source, dict) and source.get("customer_id") is not None:
            try:
                return int(source["customer_id"])
            except (TypeError, ValueError):
                return None
    value = tracker.get_slot("customer_id")
    return int(value) if value and str(value).isdigit() else None


class ActionSessionStart(Action):
    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        customer_id = customer_id_of(tracker)
        if customer_id is not None:
            try:
                state = await self.api.customer(customer_id)
            except ServiceUnavailable as exc:
                # The conversation goes on without personal touches rather than failing.
                log.warning("session start without customer state: %s", exc)
                state = None
            events.append(SlotSet("customer_id", str(customer_id)))
            if state:
                events += [SlotSet("customer_name", state.get("display_name")),
                           SlotSet("customer_stage", state.get("stage")),
                           SlotSet("member_points", float(state.get("points") or 0))]
        events.append(ActionExecuted("action_listen"))
        return events
