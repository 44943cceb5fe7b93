"""Custom actions on trackers recorded from real conversations (see record_trackers.py).

The service's internal API is played by a local HTTP server answering with the
payloads the real service returned for the demo data (service_payloads.json).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.offers import ActionOffer
from actions.orders import ActionOrderStatus, order_detail
from actions.recommend import ActionRecommend, price_text, product_list
from actions.service_api import ServiceAPI
from actions.session import ActionSessionStart
from tests.local_server import free_port, serve

HERE = Path(__file__).parent
PAYLOADS = json.loads((HERE / "service_payloads.json").read_text(encoding="utf-8"))


def recorded(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((HERE / "trackers" / f"{name}.json").read_text(encoding="utf-8")))


async def with_service(coro_factory, up: bool = True, claim: dict | None = None,
                       recommendations: dict | None = None):
    """Run an action against a local stand-in of the service's internal API."""
    seen: list[str] = []

    async def customer(request: web.Request) -> web.Response:
        seen.append(str(request.rel_url))
        assert request.headers["Authorization"] == "Bearer test-token"
        return web.json_response(PAYLOADS["customer"])

    async def orders(request: web.Request) -> web.Response:
        seen.append(str(request.rel_url))
        wanted = request.query.get("order_no")
        found = [o for o in PAYLOADS["orders"] if not wanted or o["order_no"] == wanted]
        return web.json_response({"orders": found[: int(request.query.get("limit", 3))]})

    async def claim_offer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.rel_url} {(await request.json())['conversation_id']}")
        return web.json_response(claim or {"status": "none"})

    async def recommend(request: web.Request) -> web.Response:
        seen.append(str(request.rel_url))
        return web.json_response(recommendations or PAYLOADS["recommendations"])

    if not up:
        return await coro_factory(ServiceAPI(f"http://127.0.0.1:{free_port()}", "test-token")), seen
    app = web.Application()
    app.router.add_get("/internal/customers/{cid}", customer)
    app.router.add_get("/internal/customers/{cid}/orders", orders)
    app.router.add_post("/internal/customers/{cid}/offers/claim", claim_offer)
    app.router.add_get("/internal/customers/{cid}/recommendations", recommend)
    runner, base = await serve(app)
    api = ServiceAPI(base, "test-token")
    try:
        return await coro_factory(api), seen
    finally:
        await runner.cleanup()


def run(action_cls, tracker: Tracker, up: bool = True, claim: dict | None = None,
        recommendations: dict | None = None):
    dispatcher = CollectingDispatcher()

    async def go(api):
        return await action_cls(api).run(dispatcher, tracker, {})

    events, seen = asyncio.run(with_service(go, up, claim, recommendations))
    return events, dispatcher.messages, seen


def test_session_start_loads_customer_state_into_slots():
    events, _, seen = run(ActionSessionStart, recorded("session_start_member"))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert slots["customer_name"] == PAYLOADS["customer"]["display_name"]
    assert slots["customer_stage"] == PAYLOADS["customer"]["stage"]
    assert slots["member_points"] == float(PAYLOADS["customer"]["points"])
    assert seen == [f"/internal/customers/{slots['customer_id']}"]


def test_session_start_without_service_still_starts():
    events, _, _ = run(ActionSessionStart, recorded("session_start_member"), up=False)
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert "customer_name" not in {e.get("name") for e in events}


def test_order_status_with_number_reports_that_order():
    _, messages, seen = run(ActionOrderStatus, recorded("order_status_with_number"))
    (message,) = messages
    assert message["response"] == "utter_order_status"
    wanted = next(o for o in PAYLOADS["orders"] if o["order_no"] == message["order_no"])
    assert message["order_status"] == wanted["status_label"]
    assert message["order_detail"] == order_detail(wanted)
    assert any("order_no=" in s for s in seen)


def test_order_status_without_number_lists_recent_orders():
    _, messages, _ = run(ActionOrderStatus, recorded("order_status_without_number"))
    (message,) = messages
    assert message["response"] == "utter_recent_orders"
    for order in PAYLOADS["orders"]:
        assert order["order_no"] in message["order_list"]


def test_unknown_order_number_is_not_found():
    tracker = recorded("order_status_with_number")
    tracker.latest_message["entities"] = [{"entity": "order_no", "value": "DD209912319999"}]
    _, messages, _ = run(ActionOrderStatus, tracker)
    assert messages[0]["response"] == "utter_order_not_found" and messages[0]["order_no"] == "DD209912319999"


def test_service_down_hands_over_to_a_person():
    _, messages, _ = run(ActionOrderStatus, recorded("order_status_with_number"), up=False)
    assert [m["response"] for m in messages] == ["utter_handoff"]


def test_no_customer_asks_for_the_order_number():
    tracker = recorded("order_status_without_number")
    tracker.latest_message["metadata"] = {}
    tracker.slots["customer_id"] = None
    tracker.slots["session_started_metadata"] = None
    _, messages, _ = run(ActionOrderStatus, tracker)
    assert [m["response"] for m in messages] == ["utter_ask_order_no"]


def test_order_detail_sentences():
    shipped = {"status": "shipped", "carrier": "顺丰速运", "tracking_no": "SF1", "shipped_at": "2026-11-19T10:00:00Z"}
    assert order_detail(shipped) == "顺丰速运运单号 SF1，11月19日已发出，一般 2–3 天送达。"
    # 17:00 UTC is already the next day in the shop's time zone (Asia/Shanghai).
    late = {**shipped, "shipped_at": "2026-11-19T17:00:00Z"}
    assert "11月20日已发出" in order_detail(late)
    assert "签收" in order_detail({"status": "delivered", "delivered_at": "2026-11-12T09:00:00"})
    assert order_detail({"status": "unknown"}) == ""


def test_an_order_number_from_an_earlier_message_is_not_reused():
    tracker = recorded("order_status_without_number")
    tracker.slots["order_no"] = "DD202611200003"  # asked about earlier in the conversation
    _, messages, _ = run(ActionOrderStatus, tracker)
    assert messages[0]["response"] == "utter_recent_orders"


def test_session_start_carries_on_when_the_service_is_too_slow():
    """aiohttp raises asyncio.TimeoutError, which Python 3.10 does not count as TimeoutError."""
    import aiohttp

    async def go():
        async def slow(request):
            await asyncio.sleep(1)
            return web.json_response(PAYLOADS["customer"])

        app = web.Application()
        app.router.add_get("/internal/customers/{cid}", slow)
        runner, base = await serve(app)
        try:
            api = ServiceAPI(base, "t", timeout=aiohttp.ClientTimeout(total=0.2))
            return await ActionSessionStart(api).run(CollectingDispatcher(), recorded("session_start_member"), {})
        finally:
            await runner.cleanup()

    events = asyncio.run(go())
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"


COUPON = {"status": "new", "offer_title": "新人专享满 99 减 15 券", "offer_detail": "满 99 元减 15 元",
          "coupon_code": "NEW-8K2Q3ZPA", "expires_on": "12月6日"}


def test_offer_the_service_chose_is_told_with_its_coupon():
    tracker = recorded("order_status_without_number")
    _, messages, seen = run(ActionOffer, tracker, claim=COUPON)
    (message,) = messages
    assert message["response"] == "utter_offer"
    assert message["coupon_code"] == "NEW-8K2Q3ZPA" and message["expires_on"] == "12月6日"
    # The claim names the conversation, so the issuance is recorded with it.
    assert seen[-1].startswith("POST /internal/customers/") and seen[-1].endswith(tracker.sender_id)


@pytest.mark.parametrize("claim, response", [
    ({**COUPON, "status": "again"}, "utter_offer_again"),
    ({"status": "new", "offer_title": "升级推荐", "offer_detail": "再买 2 单升级", "coupon_code": None,
      "expires_on": None}, "utter_offer_benefit"),
    ({"status": "none"}, "utter_no_offer"),
])
def test_offer_answers(claim, response):
    _, messages, _ = run(ActionOffer, recorded("order_status_without_number"), claim=claim)
    assert [m["response"] for m in messages] == [response]


def test_offer_with_the_service_down_hands_over():
    _, messages, _ = run(ActionOffer, recorded("order_status_without_number"), up=False)
    assert [m["response"] for m in messages] == ["utter_handoff"]


def test_recommendation_names_what_was_bought_and_the_products_with_prices():
    tracker = recorded("recommend_member")
    events, messages, seen = run(ActionRecommend, tracker)
    (message,) = messages
    found = PAYLOADS["recommendations"]
    assert found["reason"] == "also_bought" and events == []
    assert message["response"] == "utter_recommend"
    assert message["products"] == "、".join(f"{p['name']} {price_text(p['price'])}" for p in found["products"])
    for name in {n for p in found["products"] for n in p["because"]}:
        assert name in message["because"]
    # The customer's words go along, so a product or category they name can anchor the choice.
    assert seen == [f"/internal/customers/{tracker.get_slot('customer_id')}/recommendations?"
                    f"k=3&text={quote(tracker.latest_message['text'])}"]


def test_recommendation_falls_back_to_best_sellers_or_to_nothing():
    popular = PAYLOADS["recommendations_popular"]
    _, messages, _ = run(ActionRecommend, recorded("recommend_member"), recommendations=popular)
    assert [m["response"] for m in messages] == ["utter_recommend_popular"]
    assert messages[0]["products"] == product_list(popular["products"]) and "because" not in messages[0]
    _, messages, _ = run(ActionRecommend, recorded("recommend_member"),
                         recommendations={"reason": "none", "stage": "prospect", "products": []})
    assert [m["response"] for m in messages] == ["utter_no_recommendation"]


def test_recommendation_without_customer_or_service_says_there_is_none():
    _, messages, _ = run(ActionRecommend, recorded("recommend_member"), up=False)
    assert [m["response"] for m in messages] == ["utter_no_recommendation"]
    tracker = recorded("recommend_member")
    tracker.latest_message["metadata"] = {}
    tracker.slots["customer_id"] = None
    tracker.slots["session_started_metadata"] = None
    _, messages, seen = run(ActionRecommend, tracker)
    assert [m["response"] for m in messages] == ["utter_no_recommendation"] and seen == []


def test_prices_are_told_without_trailing_zeros():
    assert [price_text(v) for v in ("168.00", "59.90", "100.00", "0.5", None)] == ["¥168", "¥59.9", "¥100", "¥0.5", ""]
