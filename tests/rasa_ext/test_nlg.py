"""ServiceNLG inside Rasa (bot environment): the slim request and the reused session."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from rasa_ext.nlg import ServiceNLG
from tests import local_server
from tests.local_server import free_port


def tracker() -> DialogueStateTracker:
    domain = Domain.from_yaml("""
version: "3.1"
intents: [query_order]
slots:
  customer_name: {type: text, mappings: [{type: custom}]}
responses:
  utter_x: [{text: "x"}]
""")
    t = DialogueStateTracker.from_events("conv-1", [
        UserUttered("查订单", intent={"name": "query_order", "confidence": 0.93},
                    metadata={"customer_id": 7, "customer": {"stage": "growing", "name": "张小明"}}),
        SlotSet("customer_name", "张小明"),
    ], domain.slots)
    return t


async def serve(handler):
    app = web.Application()
    app.router.add_post("/nlg", handler)
    runner, base = await local_server.serve(app)
    return runner, f"{base}/nlg"


def test_sends_only_what_rendering_needs_and_returns_the_answer():
    seen = []

    async def handler(request):
        seen.append((await request.json(), request.headers.get("Authorization"), request.remote))
        return web.json_response({"text": "您好", "custom": {"hx": {"template": "utter_x"}}})

    async def go():
        runner, url = await serve(handler)
        try:
            nlg = ServiceNLG(EndpointConfig(url, headers={"Authorization": "Bearer t"}))
            first = await nlg.generate("utter_x", tracker(), "rest", order_no="DD1", domain_responses={})
            await nlg.generate("utter_x", tracker(), "rest")
            session = nlg._session
            await nlg.generate("utter_x", tracker(), "rest")
            assert nlg._session is session  # one kept-alive session, not one per call
            await session.close()
            return first
        finally:
            await runner.cleanup()

    answer = asyncio.run(go())
    assert answer == {"text": "您好", "custom": {"hx": {"template": "utter_x"}}}
    body, auth, _ = seen[0]
    assert auth == "Bearer t"
    assert body["response"] == "utter_x" and body["arguments"] == {"order_no": "DD1"}
    assert body["channel"] == {"name": "rest"}
    assert body["tracker"]["sender_id"] == "conv-1"
    assert body["tracker"]["slots"]["customer_name"] == "张小明"
    assert body["tracker"]["latest_message"] == {
        "intent": {"name": "query_order", "confidence": 0.93},
        # The service's per-turn customer state reaches the NLG endpoint for stage variants.
        "metadata": {"customer_id": 7, "customer": {"stage": "growing", "name": "张小明"}}}
    assert "events" not in body["tracker"]


@pytest.mark.parametrize("status, answer", [(404, {"detail": "no"}), (200, {"text": 42})])
def test_error_or_malformed_answers_raise(status, answer):
    async def handler(request):
        return web.json_response(answer, status=status)

    async def go():
        runner, url = await serve(handler)
        try:
            nlg = ServiceNLG(EndpointConfig(url))
            with pytest.raises(RasaException):
                await nlg.generate("utter_x", tracker(), "rest")
            await nlg._session.close()
        finally:
            await runner.cleanup()

    asyncio.run(go())


def test_unreachable_endpoint_raises():
    async def go():
        nlg = ServiceNLG(EndpointConfig(f"http://127.0.0.1:{free_port()}/nlg"))
        with pytest.raises(RasaException):
            await nlg.generate("utter_x", tracker(), "rest")
        await nlg._session.close()

    asyncio.run(go())
