"""What an outside test sent and got a 500 for, or an English answer, or a 422 before
authentication: every such input gets a 4xx with a Chinese message where a person reads
it, nothing is written, and the service answers (a 500 would raise here: TestClient
re-raises server errors, which is what reset the keep-alive connection)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from api.models import (
    CannedReply,
    ContentRevision,
    Conversation,
    ConversationEvent,
    Customer,
    CustomerMerge,
    Message,
    Offer,
    Order,
    ReplyVariant,
    StaffRoute,
    StaffUser,
)
from api.services.auth import create_staff
from tests.api.conftest import ADMIN

TOKEN = {"Authorization": f"Bearer {ADMIN}"}
FETCH = {"X-Requested-With": "fetch"}
HUGE = "99999999999999999999"
CJK = re.compile(r"[\u4e00-\u9fff]")
TOUCHED = (Customer, Conversation, Message, ConversationEvent, CustomerMerge, Offer, ContentRevision,
           ReplyVariant, CannedReply, StaffRoute, StaffUser, Order)


def counts(db) -> dict[str, int]:
    db.expire_all()
    return {m.__name__: db.scalar(select(func.count()).select_from(m)) for m in TOUCHED}


def refused(resp, status: int | None = None) -> str:
    """The answer is a 4xx (``status`` if given) with a Chinese ``detail``."""
    assert 400 <= resp.status_code < 500, resp.text
    if status is not None:
        assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and CJK.search(detail), detail
    return detail


@pytest.fixture
def chat(client, session_for):
    return session_for()["conversation"]["id"]


@pytest.fixture
def offer_and_variant(client):
    offer = client.post("/api/admin/offers", headers=TOKEN, json={
        "code": "spring", "title": "春季券", "detail": "满 99 减 10", "kind": "coupon"})
    variant = client.post("/api/admin/variants", headers=TOKEN, json={
        "template": "utter_greet", "stage": "new", "text": "您好，欢迎回来"})
    assert offer.status_code == variant.status_code == 201, (offer.text, variant.text)
    return offer.json(), variant.json()


# --- integers larger than the database holds ------------------------------------------

def test_oversized_integers_are_refused_not_500(client, chat, db):
    before = counts(db)
    cases = [
        client.get(f"/api/web/conversations/{chat}/messages", params={"after_id": HUGE}),
        client.get(f"/api/customers/{HUGE}", headers=TOKEN),
        client.get(f"/api/customers/{HUGE}/timeline", headers=TOKEN),
        client.get(f"/api/customers/{HUGE}/orders", headers=TOKEN),
        client.get("/api/customers", params={"offset": HUGE}, headers=TOKEN),
        client.get("/api/conversations", params={"offset": HUGE}, headers=TOKEN),
        client.get("/api/conversations", params={"customer_id": HUGE}, headers=TOKEN),
        client.get("/api/merges", params={"offset": HUGE}, headers=TOKEN),
        client.post(f"/api/merges/-{HUGE}/undo", headers=TOKEN),
        client.post(f"/api/merges/{HUGE}/confirm", headers=TOKEN),
        client.post("/api/customers/1/merge", json={"source_id": int(HUGE)}, headers=TOKEN),
        client.post("/api/staff/routes", json={"staff_id": int(HUGE), "stage": "new"}, headers=TOKEN),
        client.delete(f"/api/staff/routes/{HUGE}", headers=TOKEN),
        client.get(f"/api/staff-users/{HUGE}/lockouts", headers=TOKEN),
        client.get(f"/api/staff/conversations/{chat}", params={"after_id": HUGE}, headers=TOKEN),
        client.post(f"/api/staff/follow-ups/{HUGE}/done", json={"outcome": "已回电"}, headers=TOKEN),
        client.get(f"/api/admin/offers/{HUGE}/issuances", headers=TOKEN),
        client.get("/api/admin/offers/1/issuances", params={"offset": HUGE}, headers=TOKEN),
        client.patch(f"/api/admin/variants/{HUGE}", json={"enabled": False}, headers=TOKEN),
        client.put(f"/api/admin/analytics/loop/offers/{HUGE}/mode", json={"mode": "auto"}, headers=TOKEN),
        client.post("/api/admin/offers", headers=TOKEN, json={
            "code": "big", "title": "大", "detail": "大", "kind": "coupon", "priority": int(HUGE)}),
        client.post("/api/orders", headers=TOKEN, json={
            "order_no": "DD20261203001", "customer_id": int(HUGE), "items": [{"sku": "X1", "quantity": 1}]}),
    ]
    for resp in cases:
        detail = refused(resp, 422)
        assert "不符合要求" in detail
    assert counts(db) == before


def test_machine_routes_refuse_oversized_integers_too(client):
    internal = {"Authorization": "Bearer internal-test-token"}
    resp = client.get(f"/internal/customers/{HUGE}", headers=internal)
    assert resp.status_code == 422 and isinstance(resp.json()["detail"], str)


# --- null for a NOT NULL column ---------------------------------------------------------

@pytest.mark.parametrize("body", [{"priority": None}, {"title": None}, {"enabled": None}, {"kind": None},
                                  {"rules": None}, {"stages": None}, {"period_days": None}])
def test_patching_an_offer_with_null_is_refused(client, db, offer_and_variant, body):
    offer, _ = offer_and_variant
    before = counts(db)
    detail = refused(client.patch(f"/api/admin/offers/{offer['id']}", json=body, headers=TOKEN), 422)
    assert next(iter(body)) in detail
    assert counts(db) == before
    after = client.get("/api/admin/offers", headers=TOKEN).json()[0]
    assert after["version"] == offer["version"] and after["title"] == "春季券"


@pytest.mark.parametrize("body", [{"text": None}, {"stage": None}, {"weight": None}, {"enabled": None}])
def test_patching_a_variant_with_null_is_refused(client, db, offer_and_variant, body):
    _, variant = offer_and_variant
    before = counts(db)
    refused(client.patch(f"/api/admin/variants/{variant['id']}", json=body, headers=TOKEN), 422)
    assert counts(db) == before


def test_nullable_fields_may_still_be_cleared(client, offer_and_variant):
    offer, variant = offer_and_variant
    resp = client.patch(f"/api/admin/offers/{offer['id']}", json={"ends_on": None, "coupon_prefix": None},
                        headers=TOKEN)
    assert resp.status_code == 200, resp.text
    resp = client.patch(f"/api/admin/variants/{variant['id']}", json={"persona": None}, headers=TOKEN)
    assert resp.status_code == 200, resp.text


# --- text that cannot be stored or read ---------------------------------------------------

LONE_SURROGATE = b'{"text": "\\ud800\\u4f60\\u597d"}'  # "\ud800你好" as JSON sends it


def test_a_lone_surrogate_in_chat_text_is_refused(client, chat, db, rasa):
    before = counts(db)
    resp = client.post(f"/api/web/conversations/{chat}/messages", content=LONE_SURROGATE,
                       headers={"content-type": "application/json"})
    assert "无法识别的字符" in refused(resp, 422)
    assert counts(db) == before and rasa.requests == []
    # The same conversation goes on.
    assert client.post(f"/api/web/conversations/{chat}/messages", json={"text": "你好"}).status_code == 200


def test_lone_surrogates_elsewhere_are_refused(client, chat, db):
    before = counts(db)
    survey = client.post(f"/api/web/conversations/{chat}/survey", headers={"content-type": "application/json"},
                         content=b'{"overall": 5, "comment": "\\udfff"}')
    refused(survey, 422)
    login = client.post("/api/auth/login", headers={"content-type": "application/json"},
                        content=b'{"username": "\\ud800", "password": "x"}')
    refused(login, 422)
    session = client.post("/api/web/session", headers={"content-type": "application/json"},
                          content=b'{"user_id": "\\ud800"}')
    refused(session, 422)
    assert counts(db) == before


UNREADABLE = [("\x00", "控制字符"), ("a\x1bb", "控制字符"), ("\ue000", "私用区"), ("\U000f0000", "私用区"),
              ("\u0378", "未分配"), ("\x7f", "控制字符")]


@pytest.mark.parametrize("char, kind", UNREADABLE)
def test_admin_written_text_with_unreadable_characters_is_refused(client, db, offer_and_variant, char, kind):
    offer, variant = offer_and_variant
    before = counts(db)
    attempts = {
        "text": client.post("/api/admin/variants", headers=TOKEN, json={
            "template": "utter_greet", "stage": "growing", "text": f"您好{char}"}),
        "note": client.patch(f"/api/admin/variants/{variant['id']}", headers=TOKEN,
                             json={"text": "您好", "note": f"改{char}"}),
        "title": client.patch(f"/api/admin/offers/{offer['id']}", headers=TOKEN, json={"title": f"券{char}"}),
        "detail": client.post("/api/admin/offers", headers=TOKEN, json={
            "code": "x1", "title": "券", "detail": f"满减{char}", "kind": "coupon"}),
    }
    for field, resp in attempts.items():
        detail = refused(resp, 422)
        assert field in detail and kind in detail, detail
    for field, resp in {
        "title": client.post("/api/staff/canned-replies", headers=TOKEN, json={"title": f"问候{char}", "text": "您好"}),
        "text": client.post("/api/staff/canned-replies", headers=TOKEN, json={"title": "问候", "text": f"您{char}好"}),
    }.items():
        assert field in refused(resp, 422)
    assert counts(db) == before
    assert client.get("/api/admin/templates", headers=TOKEN).status_code == 200


def test_newlines_and_tabs_stay_allowed(client, offer_and_variant):
    resp = client.post("/api/admin/variants", headers=TOKEN, json={
        "template": "utter_greet", "stage": "growing", "text": "您好\n\t欢迎光临 😀"})
    assert resp.status_code == 201, resp.text


def test_staff_notes_and_replies_refuse_unreadable_text(client, db, chat):
    before = counts(db)
    for path in ("messages", "notes"):
        resp = client.post(f"/api/staff/conversations/{chat}/{path}", json={"text": "好\ue000"}, headers=TOKEN)
        assert "私用区" in refused(resp, 422)
    assert counts(db) == before


# --- authentication before the body ---------------------------------------------------

@pytest.fixture
def agent(client, db):
    create_staff(db, "agent1", "agent-password-1", "agent", "客服小李")
    db.commit()
    assert client.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"}
                       ).status_code == 200
    return client


BAD_BODIES = [b"{not json", b'{"text": 5}', b"[]", b'{"stage": "vip"}']


@pytest.mark.parametrize("body", BAD_BODIES)
def test_anonymous_requests_are_refused_before_their_body_is_read(client, db, body):
    before = counts(db)
    json_headers = {"content-type": "application/json"}
    for method, path in [("POST", "/api/admin/variants"), ("PATCH", "/api/admin/offers/1"),
                         ("POST", "/api/staff/canned-replies"), ("POST", "/api/staff/conversations/x/notes"),
                         ("POST", "/api/customers/1/merge"), ("POST", "/api/orders"),
                         ("POST", "/api/web/conversations/x/messages"), ("POST", "/api/web/conversations/x/survey"),
                         ("POST", "/api/staff-users")]:
        resp = client.request(method, path, content=body, headers=json_headers)
        assert resp.status_code == 401, (path, resp.text)
        assert CJK.search(resp.json()["detail"])
    machine = client.post("/internal/customers/1/offers/claim", content=body, headers=json_headers)
    assert machine.status_code == 401
    assert counts(db) == before


def test_an_agent_gets_403_not_422_on_admin_routes(agent, db):
    before = counts(db)
    resp = agent.post("/api/admin/variants", content=b"{not json",
                      headers={"content-type": "application/json", **FETCH})
    assert refused(resp, 403) == "此操作需要管理员（admin）权限"
    resp = agent.post("/api/staff/conversations/x/notes", json={"text": 5})  # no X-Requested-With
    refused(resp, 403)
    assert counts(db) == before


def test_logged_in_staff_get_chinese_body_errors(agent):
    resp = agent.post("/api/staff/conversations/x/notes", content=b"{not json",
                      headers={"content-type": "application/json", **FETCH})
    assert refused(resp, 400) == "请求格式有误：内容不是有效的 JSON"
    resp = agent.post("/api/staff/conversations/x/notes", json={"text": ""}, headers=FETCH)
    assert "text" in refused(resp, 422)


# --- Chinese everywhere a person reads ----------------------------------------------------

def test_unknown_things_are_answered_in_chinese(client):
    refused(client.get("/api/conversations/nope", headers=TOKEN), 404)
    refused(client.get("/api/customers/12345", headers=TOKEN), 404)
    refused(client.get("/api/no-such-route"), 404)
    resp = client.put("/api/staff-users", headers=TOKEN)
    refused(resp, 405)
    assert set(resp.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert refused(client.post("/api/orders", json={"order_no": "DD20261203001", "customer_id": 777,
                                                   "items": [{"sku": "X1", "quantity": 1}]}, headers=TOKEN), 404)


def test_codes_outside_their_lists_name_the_list(client):
    resp = client.post("/api/admin/preview", json={"stage": "vip"}, headers=TOKEN)
    assert "未知的阶段 'vip'" in refused(resp, 422) and "prospect" in resp.json()["detail"]
    resp = client.get("/api/customers", params={"stage": "vip"}, headers=TOKEN)
    assert "未知的阶段 'vip'" in refused(resp, 422)


def test_numbers_are_not_read_as_dates_or_booleans(client, db, offer_and_variant):
    offer, _ = offer_and_variant
    before = counts(db)
    for body in ({"starts_on": 0}, {"enabled": 1}, {"priority": "5"}, {"period_days": 30.5}):
        refused(client.patch(f"/api/admin/offers/{offer['id']}", json=body, headers=TOKEN), 422)
    refused(client.get("/api/customers/1/timeline", params={"before": "0.5"}, headers=TOKEN), 422)
    assert counts(db) == before


def test_the_last_resort_answers_500_in_chinese_and_logs(settings_env):
    import logging

    from fastapi.testclient import TestClient

    from api.main import create_app

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    app = create_app()
    keep = Keep()
    logging.getLogger("api.main").addHandler(keep)

    @app.get("/api/staff/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.get("/api/staff/boom")
    assert resp.status_code == 500 and resp.json() == {"detail": "系统出现意外错误，请稍后重试"}
    logging.getLogger("api.main").removeHandler(keep)
    # (the masking filter of api/core/logging.py may have turned exc_info into exc_text by now)
    assert any("unexpected error" in r.getMessage() and (r.exc_info or r.exc_text) for r in records)


# --- the OpenAPI document -----------------------------------------------------------------

def test_the_openapi_document_says_security_enums_and_errors(client):
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["staffSession"] == {**schemes["staffSession"], "type": "apiKey", "in": "cookie", "name": "hx_staff"}
    assert schemes["customerCookie"]["name"] == "hx_cid" and schemes["adminToken"]["scheme"] == "bearer"
    assert "internalToken" in schemes
    error = doc["components"]["schemas"]["ErrorOut"]
    assert error["properties"]["detail"]["type"] == "string"
    ops = doc["paths"]
    offers = ops["/api/admin/offers"]["post"]
    assert offers["security"] == [{"adminToken": []}, {"staffSession": []}]
    assert {"401", "403", "409", "422", "503"} <= set(offers["responses"])
    assert offers["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert ops["/api/web/conversations/{conversation_id}/messages"]["post"]["security"] == [{"customerCookie": []}]
    assert ops["/nlg"]["post"]["security"] == [{"internalToken": []}]
    assert "security" not in ops["/api/web/session"]["post"]
    variant_in = doc["components"]["schemas"]["VariantIn"]["properties"]
    assert variant_in["stage"]["enum"] == ["prospect", "new", "growing", "stable", "at_risk", "churned"]
    assert doc["components"]["schemas"]["StaffUserIn"]["properties"]["role"]["enum"] == ["agent", "admin"]
    assert doc["components"]["schemas"]["LoopModeIn"]["properties"]["mode"]["enum"] == ["auto", "pinned", "vetoed"]
    assert "HTTPValidationError" not in json.dumps(doc)
