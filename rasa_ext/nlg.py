"""Rasa's NLG client for the service's /nlg endpoint, slimmed down.

Rasa's built-in callback NLG posts the whole tracker, every event so far, for each
response, and opens a new HTTP session per call. Rendering needs only the response
name, the action's arguments, the slots, the latest intent and the message metadata,
so this one sends just those, over one kept-alive session. The request keeps the field names of Rasa's format
(``response``, ``arguments``, ``channel``, ``tracker.slots``, ``tracker.latest_message``),
so the service also works with the stock ``type: callback``.

Configured in endpoints.yml as ``nlg: type: rasa_ext.nlg.ServiceNLG``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Text

import aiohttp
from jsonschema import Draft202012Validator, ValidationError
from rasa.core.nlg.callback import nlg_response_format_spec
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=5)
# Rasa's own check (jsonschema.validate) re-checks the schema itself on every call;
# compiled once, the same check costs a fraction.
_RESPONSE = Draft202012Validator(nlg_response_format_spec())


def slim_request(utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                 arguments: Dict[Text, Any]) -> Dict[Text, Any]:
    latest = tracker.latest_message
    intent = dict(latest.intent) if latest and latest.intent else {}
    return {
        "response": utter_action,
        "arguments": arguments,
        "channel": {"name": output_channel},
        "tracker": {
            "sender_id": tracker.sender_id,
            "slots": tracker.current_slot_values(),
            "latest_message": {"intent": {"name": intent.get("name"),
                                          "confidence": intent.get("confidence")},
                               # The service's per-turn customer state (stage, name, …):
                               # fresher than slots filled at session start.
                               "metadata": getattr(latest, "metadata", None) or {}},
        },
    }


class ServiceNLG(NaturalLanguageGenerator):
    def __init__(self, endpoint_config: EndpointConfig, domain: Optional[Domain] = None) -> None:
        self.url = endpoint_config.url
        self.headers = dict(endpoint_config.headers or {})
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: a session belongs to the event loop that is running Rasa.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, headers=self.headers)
        return self._session

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker,
                       output_channel: Text, **kwargs: Any) -> Optional[Dict[Text, Any]]:
        kwargs.pop("domain_responses", None)
        body = slim_request(utter_action, tracker, output_channel, kwargs)
        try:
            async with self._client().post(self.url, json=body) as resp:
                if resp.status != 200:
                    raise RasaException(f"NLG endpoint answered HTTP {resp.status} for {utter_action}")
                content = await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # distinct classes on 3.10
            raise RasaException(f"NLG endpoint unreachable: {type(exc).__name__} {exc}") from exc
        if content in (None, ""):
            return None  # the endpoint chose to say nothing
        try:
            _RESPONSE.validate(content)
        except ValidationError as exc:
            raise RasaException(f"NLG endpoint answered an invalid response: {exc.message}") from exc
        return content
