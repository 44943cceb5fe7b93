"""A stand-in of the service's internal API for action tests, and trackers built from a
recorded one. Answers are the contract's shapes (tests/actions/answer_payloads.json);
every request the action makes is kept, with its query and JSON body."""
from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.service_api import ServiceAPI
from tests.local_server import free_port, serve

HERE = Path(__file__).parent
ANSWERS = json.loads((HERE / "answer_payloads.json").read_text(encoding="utf-8"))


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None


@dataclass
class Stub:
    """``routes`` maps "GET /internal/customers/{cid}/product-answer" to the JSON answered."""

    routes: dict[str, Any] = field(default_factory=dict)
    up: bool = True
    seen: list[Seen] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        for key, payload in self.routes.items():
            method, path = key.split(" ", 1)

            async def handler(request: web.Request, payload=payload) -> web.Response:
                body = await request.json() if request.can_read_body else None
                self.seen.append(Seen(request.method, request.path, dict(request.query), body))
                assert request.headers["Authorization"] == "Bearer test-token"
                if payload is None:
                    return web.json_response({"detail": "no customer"}, status=404)
                return web.json_response(payload)

            app.router.add_route(method, path, handler)
        return app


def run_action(action_cls, tracker: Tracker, stub: Stub | None = None, domain: dict | None = None):
    """Run the action against the stub; returns (events, messages, stub)."""
    stub = stub or Stub()
    dispatcher = CollectingDispatcher()

    async def go():
        if not stub.up:
            return await action_cls(ServiceAPI(f"http://127.0.0.1:{free_port()}", "test-token")).run(
                dispatcher, tracker, domain or {})
        runner, base = await serve(stub.app())
        try:
            action = action_cls(ServiceAPI(base, "test-token")) if _takes_api(action_cls) else action_cls()
            return await action.run(dispatcher, tracker, domain or {})
        finally:
            await runner.cleanup()

    events = asyncio.run(go())
    return events, dispatcher.messages, stub


def _takes_api(action_cls) -> bool:
    import inspect
    return "api" in inspect.signature(action_cls.__init__).parameters


_RECORDED = json.loads((HERE / "trackers" / "recommend_member.json").read_text(encoding="utf-8"))


def tracker(text: str, intent: str, entities: list[dict] | None = None, slots: dict | None = None,
            active_loop: str | None = None, customer: bool = True,
            candidates: dict | None = None) -> Tracker:
    """The recorded member's tracker with a new latest message, slots and form;
    ``candidates`` are slots just extracted, as Rasa sends them to a form's validation."""
    state = copy.deepcopy(_RECORDED)
    state["latest_message"] = {**state["latest_message"], "text": text,
                               "intent": {"name": intent, "confidence": 0.99},
                               "entities": entities or []}
    state["slots"] = {**state["slots"], **(slots or {})}
    state["active_loop"] = {"name": active_loop} if active_loop else {}
    if candidates:
        state["slots"].update(candidates)
        state["events"] = state["events"] + [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    if not customer:
        state["latest_message"]["metadata"] = {}
        state["slots"]["customer_id"] = None
        state["slots"]["session_started_metadata"] = None
    return Tracker.from_dict(state)


def slot_events(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}
