"""Self-service on orders: a return, a cancellation, a new address — each a Rasa form.

The forms only collect what the customer says; the service owns the rules and the
words. When a form starts, or when the customer names an order, ``validate_<form>``
asks the service's check endpoint: it picks the customer's only eligible order, lists
the eligible ones to choose from, or refuses with the reason (then the form ends
politely). The confirmation step says what the check returned; after "是的" the submit
action creates the request (the service checks the rules again), after "不用了"
nothing is created.

A customer who says something else while a form waits (another question, "算了")
leaves it: the slot is not filled, the form is rejected, and a rule runs
``action_leave_form`` and then answers that message (data/rules/forms_leave.yml).
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import utter_answer
from actions.orders import order_no_in_message, well_formed_order_no
from actions.service_api import ServiceAPI, ServiceUnavailable
from actions.session import customer_id_of
from bot.privacy import mask_id_card, mask_text

log = logging.getLogger(__name__)

KIND_OF_FORM = {"return_form": "return", "cancel_form": "cancel", "address_form": "address"}
# What a form collects; cleared when it ends, however it ends, so the next one starts afresh.
FORM_SLOTS = ("order_no", "return_reason", "new_address", "request_confirmed", "service_request")
# The service's bound on a reason / an address (RequestCreateIn).
MAX_TEXT = 200
# conversation_id is Rasa's sender id; the service keeps at most this many characters.
MAX_CONVERSATION_ID = 32


def cleared_form_slots() -> list[EventType]:
    return [SlotSet(name, None) for name in FORM_SLOTS]


def stop_form() -> list[EventType]:
    """Ends the form from its validation action, without asking anything more."""
    return [SlotSet("requested_slot", None), ActiveLoop(None)]


def stored_text(value: Any) -> str | None:
    """A reason or address as the service will keep it: trimmed, bounded, no ID-card number."""
    if not isinstance(value, str):
        return None
    text = (mask_id_card(" ".join(value.split())) or "")[:MAX_TEXT]
    return text or None


def form_kind(tracker: Tracker) -> str | None:
    return KIND_OF_FORM.get((tracker.active_loop or {}).get("name") or "")


class RequestFormValidation(FormValidationAction, ABC):
    """validate_<form>: the order comes from the service's check, the rest from the customer."""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form's name in domain.yml (a class attribute in each subclass)."""

    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return f"validate_{self.form}"

    @property
    def kind(self) -> str:
        return KIND_OF_FORM[self.form]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        # The form is starting while it has asked nothing yet. (Whether the tracker shows
        # the form as active at that point depends on whether the message filled a slot —
        # an order number does — so that alone is not the test.)
        starting = not (tracker.active_loop or {}).get("name") or not tracker.get_slot("requested_slot")
        if starting or tracker.get_slot("requested_slot") == "order_no":
            return await self.choose_order(dispatcher, tracker, starting)
        return await super().run(dispatcher, tracker, domain)

    async def choose_order(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                           starting: bool) -> list[EventType]:
        # Only a number in this very message: one left from an earlier question
        # (a status lookup, say) may not be the order the customer means now.
        order_no, malformed = order_no_in_message(tracker)
        if not starting and order_no is None:
            if not malformed:
                return []  # no order named: the form is rejected and a rule takes over
            dispatcher.utter_message(response="utter_order_no_invalid")
            return [SlotSet("order_no", None)]  # asked again
        customer_id = customer_id_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_account_sign_in")
            return cleared_form_slots() + stop_form()
        try:
            check = await self.api.check_request(customer_id, self.kind, order_no)
        except ServiceUnavailable as exc:
            log.error("request check failed: %s", exc)
            check = None
        if not check:
            dispatcher.utter_message(response="utter_handoff")
            return cleared_form_slots() + stop_form()
        remembered = {"response": check.get("response"), "slots": check.get("slots") or {},
                      "order_no": well_formed_order_no(check.get("order_no")),
                      "items": [str(i) for i in check.get("items") or []]}
        if check.get("eligible") and remembered["order_no"]:
            return [SlotSet("order_no", remembered["order_no"]), SlotSet("service_request", remembered)]
        if check.get("response") == "utter_request_ask_order":
            # Several orders qualify: action_ask_order_no lists them.
            return [SlotSet("order_no", None), SlotSet("service_request", remembered)]
        # Refused (with the reason) or no order qualifies: say so and end the form.
        if not utter_answer(dispatcher, check):
            dispatcher.utter_message(response="utter_handoff")
        return cleared_form_slots() + stop_form()

    def validate_order_no(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any]) -> dict[str, Any]:
        # A number typed later in the form does not replace the order the service checked.
        checked = (tracker.get_slot("service_request") or {}).get("order_no")
        return {"order_no": checked}

    def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        return {"return_reason": stored_text(value)}

    def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> dict[str, Any]:
        return {"new_address": stored_text(value)}

    def validate_request_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict[str, Any]) -> dict[str, Any]:
        return {"request_confirmed": value if isinstance(value, bool) else None}


class ValidateReturnForm(RequestFormValidation):
    form = "return_form"


class ValidateCancelForm(RequestFormValidation):
    form = "cancel_form"


class ValidateAddressForm(RequestFormValidation):
    form = "address_form"


class ActionAskOrderNo(Action):
    """The form's question for the order: the eligible orders the check listed."""

    def name(self) -> str:
        return "action_ask_order_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        remembered = tracker.get_slot("service_request") or {}
        if remembered.get("response") != "utter_request_ask_order" or not utter_answer(dispatcher, remembered):
            dispatcher.utter_message(response="utter_ask_order_no")
        return []


class ActionAskRequestConfirmed(Action):
    """The confirmation step: what the service's check said, with the customer's reason or address."""

    def name(self) -> str:
        return "action_ask_request_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        kind = form_kind(tracker) or "return"
        remembered = tracker.get_slot("service_request") or {}
        # Shown back to the customer: phone numbers in an address are masked too.
        extra = {"reason": mask_text(tracker.get_slot("return_reason") or "")} if kind == "return" else {}
        if kind == "address":
            extra = {"new_address": mask_text(tracker.get_slot("new_address") or "")}
        slots = {"order_no": remembered.get("order_no") or tracker.get_slot("order_no") or "",
                 "items": "、".join(remembered.get("items") or []), **(remembered.get("slots") or {})}
        dispatcher.utter_message(response=f"utter_request_confirm_{kind}", **{**slots, **extra})
        return []


class ActionSubmitRequest(Action, ABC):
    """After the form: create the request if the customer said yes; clear the form either way."""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form this submits (a class attribute in each subclass)."""

    def __init__(self, api: ServiceAPI | None = None):
        self.api = api or ServiceAPI()

    def name(self) -> str:
        return f"action_submit_{KIND_OF_FORM[self.form]}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        confirmed = tracker.get_slot("request_confirmed")
        if confirmed is False:
            dispatcher.utter_message(response="utter_request_cancelled")
        elif confirmed is True:
            await self.submit(dispatcher, tracker)
        # None: the form ended early (refused, nothing eligible) and has said why.
        return cleared_form_slots()

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        kind = KIND_OF_FORM[self.form]
        remembered = tracker.get_slot("service_request") or {}
        order_no = well_formed_order_no(remembered.get("order_no") or tracker.get_slot("order_no"))
        customer_id = customer_id_of(tracker)
        if order_no is None or customer_id is None:
            dispatcher.utter_message(response="utter_handoff")
            return
        sender = tracker.sender_id or ""
        request = {"kind": kind, "order_no": order_no, "items": remembered.get("items") or [],
                   "reason": (stored_text(tracker.get_slot("return_reason")) or "") if kind == "return" else "",
                   "new_address": stored_text(tracker.get_slot("new_address")) if kind == "address" else None,
                   "conversation_id": sender if 0 < len(sender) <= MAX_CONVERSATION_ID else None}
        try:
            result = await self.api.create_request(customer_id, request)
        except ServiceUnavailable as exc:
            log.error("request creation failed: %s", exc)
            result = None
        if not utter_answer(dispatcher, result):
            dispatcher.utter_message(response="utter_handoff")


class ActionSubmitReturn(ActionSubmitRequest):
    form = "return_form"


class ActionSubmitCancel(ActionSubmitRequest):
    form = "cancel_form"


class ActionSubmitAddress(ActionSubmitRequest):
    form = "address_form"


class ActionLeaveForm(Action):
    """The customer turned to something else mid-form: end it and forget what it held."""

    def name(self) -> str:
        return "action_leave_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + cleared_form_slots()
