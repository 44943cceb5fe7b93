"""Rasa's NLG endpoint: defaults from the domain, variables filled, the marker added."""
from __future__ import annotations

import random

import pytest

from api.services.responses import ResponseCatalog, ResponseText, fill_variables, render_nlg
from ops.paths import ROOT
from tests.api.conftest import INTERNAL


def nlg_body(response: str, arguments=None, slots=None, intent="query_order"):
    return {"response": response, "arguments": arguments or {}, "channel": {"name": "rest"},
            "tracker": {"sender_id": "c1", "slots": slots or {},
                        "latest_message": {"intent": {"name": intent, "confidence": 0.88}}}}


def test_fill_variables_leaves_unknown_names():
    assert fill_variables("订单 {order_no}：{order_status}", {"order_no": "DD1"}) == "订单 DD1：{order_status}"


def test_an_id_card_number_in_a_value_is_never_said_back():
    # An entity extractor may catch one as an "order number".
    said = fill_variables("没有查到订单 {order_no}", {"order_no": "11010519491231002X"})
    assert "19491231" not in said and said.startswith("没有查到订单 1101")


def test_render_uses_arguments_over_slots_and_adds_marker():
    catalog = ResponseCatalog({"utter_order_status": [ResponseText("订单 {order_no} {order_status}")]})
    out = render_nlg(catalog, nlg_body("utter_order_status", {"order_no": "DD2", "order_status": "已发货"},
                                       {"order_no": "DD1"}))
    assert out["text"] == "订单 DD2 已发货"
    assert out["custom"] == {"hx": {"template": "utter_order_status", "intent": "query_order",
                                    "confidence": 0.88, "variant_id": None}}


def test_points_alias_and_channel_specific_texts():
    catalog = ResponseCatalog({"utter_membership": [ResponseText("积分 {points}", None),
                                                    ResponseText("仅微信", "wechat")]})
    rng_texts = {render_nlg(catalog, nlg_body("utter_membership", slots={"member_points": 320.0}))["text"]
                 for _ in range(20)}
    assert rng_texts == {"积分 320"}


def test_unknown_response_is_an_error():
    with pytest.raises(LookupError):
        render_nlg(ResponseCatalog({}), nlg_body("utter_nothing"))
    with pytest.raises(ValueError):
        render_nlg(ResponseCatalog({}), {"tracker": {}})
    for bad in ({"channel": "rest"}, {"tracker": []}, {"arguments": "x"}, {"tracker": {"slots": 1}}):
        with pytest.raises(ValueError):
            render_nlg(ResponseCatalog({"utter_greet": [ResponseText("hi")]}), {**nlg_body("utter_greet"), **bad})


def test_catalog_reads_every_response_of_the_project():
    catalog = ResponseCatalog.from_files(ROOT / "domain.yml", ROOT / "data")
    for name in ("utter_greet", "utter_handoff", "utter_default", "utter_order_status"):
        assert catalog.pick(name, "rest", random.Random(0)), name
    assert any(name.startswith("utter_faq/") for name in catalog.responses)


def test_nlg_endpoint_requires_the_internal_token(client):
    body = nlg_body("utter_greet")
    assert client.post("/nlg", json=body).status_code == 401
    assert client.post("/nlg", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    resp = client.post("/nlg", json=body, headers={"Authorization": f"Bearer {INTERNAL}"})
    assert resp.status_code == 200 and resp.json()["text"]
    missing = client.post("/nlg", json=nlg_body("utter_no_such_thing"),
                          headers={"Authorization": f"Bearer {INTERNAL}"})
    assert missing.status_code == 404
    auth = {"Authorization": f"Bearer {INTERNAL}"}
    assert client.post("/nlg", content=b"{oops", headers=auth).status_code == 400
    assert client.post("/nlg", json=[1, 2], headers=auth).status_code == 422
    assert client.post("/nlg", json={**body, "channel": "rest"}, headers=auth).status_code == 422
