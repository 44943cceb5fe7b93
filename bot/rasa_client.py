"""Client for Rasa's REST channel, with the service's own deadline.

The service renders every bot response through Rasa's NLG endpoint and adds a
``custom`` marker to it (see api/services/responses.py). Rasa's REST channel returns
the text parts of a response first and then its ``custom`` payload, so each marker
closes the response whose text came just before it. That is how a stored bot message
knows its template and how the customer's message learns its intent, without a
second call to Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

MARKER_KEY = "hx"


class BotUnavailable(Exception):
    """Rasa did not answer in time, or answered with an error."""


@dataclass
class BotReply:
    text: str
    template: str | None = None
    variant_id: int | None = None


@dataclass
class BotTurn:
    replies: list[BotReply] = field(default_factory=list)
    intent: str | None = None
    intent_confidence: float | None = None


def parse_rest_output(output: list[dict[str, Any]]) -> BotTurn:
    """Group the REST channel's messages into replies, each with its template."""
    turn = BotTurn()
    pending: list[str] = []
    for item in output:
        custom = item.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(MARKER_KEY), dict):
            marker = custom[MARKER_KEY]
            if pending:
                # Rasa splits a text on blank lines; the parts belong together.
                variant = marker.get("variant_id")
                turn.replies.append(BotReply("\n\n".join(pending), marker.get("template"),
                                             variant if isinstance(variant, int) else None))
                pending = []
            if turn.intent is None and marker.get("intent"):
                turn.intent = marker["intent"]
                turn.intent_confidence = marker.get("confidence")
        elif item.get("text"):
            pending.append(item["text"])
    # Text with no marker came from an action that wrote plain text.
    turn.replies.extend(BotReply(text) for text in pending)
    return turn


class RasaClient:
    def __init__(self, base_url: str, timeout: float, client: httpx.AsyncClient | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        """One customer message in, the bot's turn out; BotUnavailable past the deadline."""
        try:
            resp = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise BotUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise BotUnavailable(f"Rasa answered HTTP {resp.status_code}")
        try:
            output = resp.json()
        except ValueError as exc:
            raise BotUnavailable("Rasa answered with something that is not JSON") from exc
        if not isinstance(output, list):
            raise BotUnavailable("Rasa answered with an unexpected shape")
        return parse_rest_output(output)

    async def is_up(self, url: str | None = None) -> tuple[bool, str]:
        target = url or f"{self.base_url}/"
        try:
            resp = await self._client.get(target, timeout=2.0)
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
        return resp.status_code == 200, f"HTTP {resp.status_code}"

    async def aclose(self) -> None:
        await self._client.aclose()
