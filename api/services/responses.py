"""Rendering of bot responses for Rasa's NLG endpoint.

Rasa asks the service for every ``utter_*`` it wants to say. The text comes from
``domain.yml`` and ``data/**`` (the defaults); admin-edited variants per stage
(api/services/variants.py) replace them for customers of that stage. Variables such
as ``{order_no}`` are filled from the action's arguments first, then from the
customer's state the service sent with the message, then from the tracker's slots.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.privacy import mask_id_card
from bot.rasa_client import MARKER_KEY, BotReply

if TYPE_CHECKING:
    from api.services.variants import VariantStore

_VARIABLE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ResponseText:
    text: str
    channel: str | None = None


class ResponseCatalog:
    """The default texts of every response, read from Rasa's own files."""

    def __init__(self, responses: dict[str, list[ResponseText]]):
        self.responses = responses

    @classmethod
    def from_files(cls, domain_path: Path, data_dir: Path | None = None) -> ResponseCatalog:
        files = [domain_path]
        if data_dir is not None and data_dir.is_dir():
            files += sorted(p for p in data_dir.rglob("*.yml"))
        responses: dict[str, list[ResponseText]] = {}
        for path in files:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for name, variations in (doc.get("responses") or {}).items():
                for v in variations or []:
                    if isinstance(v, dict) and v.get("text"):
                        responses.setdefault(name, []).append(ResponseText(v["text"], v.get("channel")))
        return cls(responses)

    def pick(self, name: str, channel: str | None = None, rng: random.Random | None = None) -> str | None:
        options = [r for r in self.responses.get(name, []) if r.channel in (None, channel)]
        if not options:
            return None
        return (rng or random).choice(options).text


def fill_variables(template: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` with known values; an unknown name is left as written.

    An ID-card number in a value is masked: whatever a slot caught from the customer's
    text, the bot never says one back."""
    def sub(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else mask_id_card(str(value))

    return _VARIABLE.sub(sub, template)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


def variables_from_request(body: dict[str, Any], tracker: dict[str, Any]) -> dict[str, Any]:
    """Slots, then the customer's state the service sent with the message, then the
    action's arguments: later sources win."""
    slots = _object(tracker.get("slots"), "tracker.slots")
    values: dict[str, Any] = {k: v for k, v in slots.items() if v is not None}
    # Short aliases for the customer's state, for whoever writes the texts.
    if "customer_name" in values:
        values.setdefault("name", values["customer_name"])
    if "member_points" in values:
        points = values["member_points"]
        values.setdefault("points", int(points) if isinstance(points, float) else points)
    if "customer_stage" in values:
        values.setdefault("stage", values["customer_stage"])
    values.update({k: v for k, v in _customer_metadata(tracker).items() if v is not None})
    arguments = _object(body.get("arguments"), "arguments")
    values.update({k: v for k, v in arguments.items() if v is not None})
    return values


def _customer_metadata(tracker: dict[str, Any]) -> dict[str, Any]:
    latest = _object(tracker.get("latest_message"), "latest_message")
    metadata = _object(latest.get("metadata"), "latest_message.metadata")
    return _object(metadata.get("customer"), "latest_message.metadata.customer")


def render_nlg(catalog: ResponseCatalog, body: dict[str, Any], variants: VariantStore | None = None) -> dict[str, Any]:
    """Answer one NLG request: the variant for the customer's stage when there is a
    usable one, else the default text. The ``custom`` marker tells the service what
    was said."""
    name = body.get("response")
    if not isinstance(name, str) or not name:
        raise ValueError("the NLG request has no 'response' name")
    channel = _object(body.get("channel"), "channel").get("name")
    tracker = _object(body.get("tracker"), "tracker")
    reply = render_response(catalog, variants, name, variables_from_request(body, tracker), channel)
    latest = _object(tracker.get("latest_message"), "latest_message")
    intent = _object(latest.get("intent"), "latest_message.intent")
    marker = {"template": name, "intent": intent.get("name"), "confidence": intent.get("confidence"),
              "variant_id": reply.variant_id}
    return {"text": reply.text, "custom": {MARKER_KEY: marker}}


def render_response(catalog: ResponseCatalog, variants: VariantStore | None, name: str,
                    values: dict[str, Any], channel: str | None = None) -> BotReply:
    """One response for a customer: the variant for their stage (and persona) when there is
    a usable one, else the default text; variables filled from ``values``. Also used
    without Rasa, e.g. to greet a new WeChat follower."""
    variant = variants.choose(name, values.get("stage"), values, values.get("persona")) if variants else None
    template = variant.text if variant else catalog.pick(name, channel)
    if template is None:
        raise LookupError(f"no text for response {name!r}")
    return BotReply(fill_variables(template, values), name, variant.id if variant else None)
