"""The web chat API as a customer's browser uses it."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from api.models import Conversation, Customer, Message
from api.services.turn import BOT_UNAVAILABLE_TEXT
from tests.api.conftest import marked, signed


def send(client, conv_id, text, **extra):
    return client.post(f"/api/web/conversations/{conv_id}/messages", json={"text": text, **extra})


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_new_visitor_gets_cookie_customer_and_conversation(client, db):
    resp = client.post("/api/web/session", json={}, headers={"x-forwarded-for": "1.2.3.4"})
    assert resp.status_code == 200
    cookie = resp.cookies.get("hx_cid")
    assert cookie and len(cookie) >= 32
    assert "httponly" in resp.headers["set-cookie"].lower()
    body = resp.json()
    assert body["customer"]["stage"] == "prospect"
    assert body["conversation"]["status"] == "open" and len(body["conversation"]["id"]) == 32
    customer = db.get(Customer, body["customer"]["id"])
    # X-Forwarded-For from an untrusted peer is ignored: the peer address is recorded.
    assert customer.first_ip == customer.last_ip == "testclient"
    assert customer.first_seen_at is not None
    assert [i.kind for i in customer.identities] == ["web_client"]
    assert customer.identities[0].value != cookie  # only a digest of the cookie is kept


def test_returning_visitor_continues_as_same_customer_and_conversation(client, session_for, rasa):
    first = session_for()
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好！", "utter_greet"))
    assert send(client, first["conversation"]["id"], "你好").status_code == 200
    again = session_for()
    assert again["customer"]["id"] == first["customer"]["id"]
    assert again["conversation"]["id"] == first["conversation"]["id"]
    assert [m["text"] for m in again["messages"]] == ["你好", "您好！"]


def test_message_is_stored_with_intent_and_reply_with_template(client, session_for, rasa, db):
    session = session_for()
    conv_id = session["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(
        200, json=marked("您的订单已发货", "utter_order_status", "query_order", 0.91))
    resp = send(client, conv_id, "我的订单到哪了")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert [r["text"] for r in data["replies"]] == ["您的订单已发货"]
    assert data["replies"][0]["author"] == "bot"
    inbound = db.get(Message, data["message"]["id"])
    assert (inbound.direction, inbound.intent, inbound.intent_confidence) == ("inbound", "query_order", 0.91)
    outbound = db.get(Message, data["replies"][0]["id"])
    assert (outbound.template, outbound.reply_to_id) == ("utter_order_status", inbound.id)
    # Rasa got our conversation id as sender and the customer in metadata.
    sent = rasa.requests[-1]
    assert sent["sender"] == conv_id
    assert sent["metadata"]["customer_id"] == session["customer"]["id"]
    assert sent["metadata"]["message_id"] == inbound.id
    assert sent["metadata"]["stage"] == "prospect"


def test_text_is_normalised_for_the_bot_but_stored_as_typed(client, session_for, rasa, db):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("好的", "utter_order_status"))
    resp = send(client, conv_id, "查一下  ＤＤ２０２６１１１５０００１ ")
    assert rasa.requests[-1]["message"] == "查一下 DD202611150001"
    assert db.get(Message, resp.json()["message"]["id"]).text == "查一下  ＤＤ２０２６１１１５０００１"


def test_split_reply_parts_are_one_message(client, session_for, rasa):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=[
        {"text": "第一段"}, {"text": "第二段"},
        {"custom": {"hx": {"template": "utter_delivery", "intent": "ask_delivery", "confidence": 0.8}}},
        {"text": "没有模板的文字"}])
    replies = send(client, conv_id, "多久能到").json()["replies"]
    assert [r["text"] for r in replies] == ["第一段\n\n第二段", "没有模板的文字"]


def test_handoff_reply_flags_conversation_for_staff(client, session_for, rasa, db):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("正在为您转接人工", "utter_handoff", "request_human"))
    send(client, conv_id, "转人工")
    db.expire_all()
    conv = db.get(Conversation, conv_id)
    assert conv.needs_attention and conv.attention_reason == "handoff_requested"


@pytest.mark.parametrize("failure", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")])
def test_bot_down_or_slow_keeps_message_tells_customer_and_flags(client, session_for, rasa, db, failure):
    conv_id = session_for()["conversation"]["id"]

    def fail(body):
        raise failure

    rasa.reply = fail
    resp = send(client, conv_id, "你好，在吗")
    assert resp.status_code == 200
    replies = resp.json()["replies"]
    assert [r["author"] for r in replies] == ["system", "system"] and replies[0]["text"] == BOT_UNAVAILABLE_TEXT
    assert "转接人工客服" in replies[1]["text"]  # and where they are in the queue
    db.expire_all()
    assert db.scalar(select(Message.text).where(Message.direction == "inbound")) == "你好，在吗"
    conv = db.get(Conversation, conv_id)
    assert conv.needs_attention and conv.attention_reason == "bot_unavailable"


def test_bot_error_status_and_empty_reply_are_flagged(client, session_for, rasa, db):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(500, text="boom")
    assert send(client, conv_id, "一").json()["replies"][0]["author"] == "system"
    # Now waiting for a person: the next message is stored for staff, the bot is not asked.
    asked = len(rasa.requests)
    second = send(client, conv_id, "二").json()
    assert second["replies"] == [] and second["conversation"]["handler"] == "waiting"
    assert len(rasa.requests) == asked and count(db, Message) == 4

    client.cookies.clear()
    other = session_for()  # a new browser: a new customer and conversation
    rasa.reply = lambda body: httpx.Response(200, json=[])
    replies = send(client, other["conversation"]["id"], "三").json()["replies"]
    assert replies[0]["text"] == BOT_UNAVAILABLE_TEXT
    db.expire_all()
    assert db.get(Conversation, other["conversation"]["id"]).attention_reason == "bot_no_reply"


def test_retry_with_same_client_message_id_is_stored_and_answered_once(client, session_for, rasa, db):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好", "utter_greet"))
    first = send(client, conv_id, "你好", client_message_id="retry-0001").json()
    second = send(client, conv_id, "你好", client_message_id="retry-0001").json()
    assert first["message"]["id"] == second["message"]["id"]
    assert [r["id"] for r in first["replies"]] == [r["id"] for r in second["replies"]]
    assert len(rasa.requests) == 1 and count(db, Message) == 2


def test_bad_messages_are_refused_in_chinese_and_nothing_is_stored(client, session_for, rasa, db):
    conv_id = session_for()["conversation"]["id"]
    url = f"/api/web/conversations/{conv_id}/messages"
    cases = [
        (client.post(url, json={"text": ""}), 422, "不能为空"),
        (client.post(url, json={"text": " \n\t "}), 422, "不能为空"),
        (client.post(url, json={"text": "好" * 2001}), 422, "2000"),
        (client.post(url, content=b"{not json", headers={"content-type": "application/json"}), 400, "JSON"),
        (client.post(url, json={"message": "你好"}), 422, "text"),
        (client.post(url, json={"text": 123}), 422, "text"),
        (client.post(url, json={"text": "hi", "client_message_id": "bad id!"}), 422, "client_message_id"),
    ]
    for resp, code, fragment in cases:
        assert resp.status_code == code, resp.text
        assert fragment in resp.json()["detail"]
    assert count(db, Message) == 0 and rasa.requests == []
    assert client.post(url, json={"text": "好" * 2000}).status_code == 200  # the limit itself is fine


def test_cannot_read_or_write_another_customers_conversation(client, session_for, settings_env, rasa):
    mine = session_for()["conversation"]["id"]
    from api.main import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as stranger:
        stranger.post("/api/web/session", json={})
        assert stranger.post(f"/api/web/conversations/{mine}/messages", json={"text": "hi"}).status_code == 404
        assert stranger.get(f"/api/web/conversations/{mine}/messages").status_code == 404
        assert "不存在" in stranger.get(f"/api/web/conversations/{mine}/messages").json()["detail"]
    client.cookies.clear()
    assert client.get(f"/api/web/conversations/{mine}/messages").status_code == 401
    client.cookies.set("hx_cid", "A" * 40)  # well-formed but unknown
    assert client.post(f"/api/web/conversations/{mine}/messages", json={"text": "hi"}).status_code == 401
    assert rasa.requests == []


def test_polling_returns_only_newer_messages(client, session_for, rasa):
    conv_id = session_for()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好", "utter_greet"))
    sent = send(client, conv_id, "你好").json()
    polled = client.get(f"/api/web/conversations/{conv_id}/messages",
                        params={"after_id": sent["message"]["id"]}).json()
    assert polled["conversation"]["handler"] == "bot"
    newer = polled["messages"]
    assert [m["text"] for m in newer] == ["您好"]
    assert newer[0]["created_at"].endswith("Z")  # UTC, so the browser shows local time right


def test_idle_conversation_is_closed_and_a_new_one_started(client, session_for, db, settings_env):
    from datetime import timedelta

    first = session_for()["conversation"]["id"]
    conv = db.get(Conversation, first)
    conv.last_activity_at -= timedelta(minutes=settings_env.conversation_idle_minutes + 1)
    db.commit()
    second = session_for()["conversation"]["id"]
    assert second != first
    db.expire_all()
    assert db.get(Conversation, first).status == "closed"
    resp = send(client, first, "还在吗")
    assert resp.status_code == 409 and "已结束" in resp.json()["detail"]


def test_signed_user_id_binds_browser_to_member(client, session_for, db):
    anonymous = session_for()["customer"]["id"]
    member = session_for(**signed("member-42"))["customer"]["id"]
    assert member == anonymous  # a new user id attaches to this browser's customer
    from api.main import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as other_device:
        resp = other_device.post("/api/web/session", json=signed("member-42"))
        assert resp.json()["customer"]["id"] == member


def test_forged_or_unconfigured_user_id_is_refused(client, monkeypatch):
    resp = client.post("/api/web/session", json={"user_id": "member-42", "user_hash": "0" * 64})
    assert resp.status_code == 403 and "校验失败" in resp.json()["detail"]
    assert client.post("/api/web/session", json={"user_id": "member-42"}).status_code == 403


def test_database_unavailable_answers_503_in_chinese(client, session_for, rasa, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from api.services import turn

    conv_id = session_for()["conversation"]["id"]

    def no_connection(*args, **kwargs):
        raise PoolTimeout("QueuePool limit reached")

    monkeypatch.setattr(turn, "receive", no_connection)
    resp = send(client, conv_id, "你好")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    assert "稍后重试" in resp.json()["detail"]
    assert rasa.requests == []
