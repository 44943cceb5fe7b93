"""The WeChat callback, with wechatpy playing WeChat's servers (ops/fake_wechat.py):
deliveries in plain and safe mode, retries, the deadline, events, refusals, and what
goes out through the customer-service API (the offline fake of WeChat's API, on a
real port, called by wechatpy's client). Long because the channel is one protocol whose
cases share the same fixtures."""
from __future__ import annotations

import base64
import socket
import threading
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from api.db import session as db_session
from api.db.base import utcnow
from api.models import (Conversation, ConversationEvent, Customer, CustomerIdentity, InboundReceipt, Message,
                        OutboundDelivery, Survey)
from api.services.auth import create_staff
from api.domain.survey_questions import QUESTIONS
from api.services.turn import BOT_UNAVAILABLE_TEXT
from api.services.responses import ResponseCatalog
from api.channels.wechat_sender import WeChatSender, client_from_settings
from ops.fake_wechat import Account, Delivery, create_app, incoming_xml, read_passive_reply, sign_request
from tests.api.conftest import ADMIN, marked, signed
from tests.bot.test_wechat_protocol import OFFICIAL, billion_laughs

TOKEN, APP_ID, APP_SECRET = "wx-test-token", "wx0123456789abcdef", "0123456789abcdef0123456789abcdef"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
OPENID = "oHuixiangTestCustomer000001"
DEADLINE = 1.0  # the tests' stand-in for WeChat's 5 s
OVERALL = QUESTIONS[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def wechat_api():
    """The offline fake of WeChat's API on a real port: the sender's client is wechatpy's
    (requests), so it needs real HTTP."""
    port = _free_port()
    app = create_app(APP_ID, APP_SECRET, TOKEN, None, "http://unused.test/wechat/callback")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/_fake/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    with httpx.Client(base_url=base) as fake:
        yield fake
    server.should_exit = True
    thread.join(5)


@pytest.fixture(params=["plain", "safe"])
def mode(request):
    return request.param


@pytest.fixture
def wechat_env(monkeypatch, wechat_api, mode):
    monkeypatch.setenv("HX_WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("HX_WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("HX_WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("HX_WECHAT_API_BASE", str(wechat_api.base_url))
    monkeypatch.setenv("HX_WECHAT_REPLY_DEADLINE_SECONDS", str(DEADLINE))
    if mode == "safe":
        monkeypatch.setenv("HX_WECHAT_AES_KEY", AES_KEY)
    wechat_api.delete("/_fake/messages")
    return mode


class WeChatServer:
    """Posts to the callback exactly as WeChat does (signed; encrypted in safe mode)."""

    def __init__(self, client: TestClient, safe: bool):
        self.client = client
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if safe else None
        self.account = Account(app_id=APP_ID, app_secret=APP_SECRET)

    def post(self, openid: str = OPENID, text: str | None = None, event: str | None = None,
             msg_id: str = "6054768590064713728", create_time: int | None = None) -> httpx.Response:
        xml = incoming_xml(self.account, Delivery(openid=openid, text=text, event=event),
                           msg_id, create_time or int(time.time()))
        request = sign_request(TOKEN, self.crypto, self.account.gh_id, openid, xml)
        return self.client.post("/wechat/callback", params=request.params, content=request.body.encode())

    def say(self, text: str | None = None, **kwargs) -> str | None:
        """What the customer's phone shows right away (None: nothing, yet)."""
        resp = self.post(text=text, **kwargs)
        assert resp.status_code == 200, resp.text
        reply, error = read_passive_reply(resp.text, self.crypto, self.account.gh_id, kwargs.get("openid", OPENID))
        assert error is None, error
        return reply


@pytest.fixture
def wechat(wechat_env, client):
    return WeChatServer(client, safe=wechat_env == "safe")


def answer_with(rasa, text: str, template: str = "utter_greet", intent: str = "greet") -> None:
    rasa.reply = lambda body: httpx.Response(200, json=marked(text, template, intent))


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def sent_messages(wechat_api, openid: str = OPENID, at_least: int = 0, wait: float = 8.0) -> list[str]:
    """What reached the customer through the customer-service API (waiting for ``at_least``)."""
    deadline = time.monotonic() + wait
    while True:
        texts = [m["content"] for m in wechat_api.get("/_fake/messages", params={"touser": openid}).json()]
        if len(texts) >= at_least or time.monotonic() > deadline:
            return texts
        time.sleep(0.1)


# ------------------------------------------------------------------ verification


def test_url_check_echoes_only_for_our_signature(wechat, client):
    timestamp, nonce = str(int(time.time())), "123456"
    from bot.wechat import sign

    ok = client.get("/wechat/callback", params={"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp,
                                                "nonce": nonce, "echostr": "8731945123"})
    assert (ok.status_code, ok.text) == (200, "8731945123")
    forged = client.get("/wechat/callback", params={"signature": sign("other", timestamp, nonce),
                                                    "timestamp": timestamp, "nonce": nonce, "echostr": "1"})
    assert forged.status_code == 403 and "signature" in forged.json()["detail"]


def test_the_official_vector_passes_the_url_check(monkeypatch, wechat_api, rasa):
    token, timestamp, nonce, signature = OFFICIAL
    monkeypatch.setenv("HX_WECHAT_TOKEN", token)
    # The vector is from 2024: only a clock skew that large lets its timestamp in.
    monkeypatch.setenv("HX_WECHAT_MAX_CLOCK_SKEW_SECONDS", str(10 ** 9))
    from api.core.config import get_settings
    from api.main import create_app as create_service

    get_settings.cache_clear()
    try:
        with TestClient(create_service()) as c:
            resp = c.get("/wechat/callback", params={"signature": signature, "timestamp": timestamp,
                                                     "nonce": nonce, "echostr": "hello"})
        assert (resp.status_code, resp.text) == (200, "hello")
    finally:
        get_settings.cache_clear()


def test_without_a_token_the_callback_does_not_exist(client):
    assert client.get("/wechat/callback").status_code == 404


# ------------------------------------------------------------------ messages


def test_a_text_is_answered_passively_and_stored_under_the_openid(wechat, rasa, db, mode):
    answer_with(rasa, "您好！有什么可以帮您？")
    assert wechat.say("你好") == "您好！有什么可以帮您？"
    assert rasa.requests[0]["message"] == "你好" and rasa.requests[0]["metadata"]["channel"] == "wechat"
    conv = db.scalar(select(Conversation))
    identity = db.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "wechat_openid"))
    assert conv.channel == "wechat" and identity.value == OPENID and identity.customer_id == conv.customer_id
    assert [m.text for m in conv.messages] == ["你好", "您好！有什么可以帮您？"]
    assert db.scalar(select(OutboundDelivery.status)) == "passive"


@pytest.mark.parametrize("mode", ["safe"], indirect=True)
def test_safe_mode_refuses_plain_bodies_and_storing_nothing(wechat, client, db):
    plain = WeChatServer(client, safe=False).post(text="你好")
    assert plain.status_code == 400 and "encrypt" in plain.json()["detail"]
    assert count(db, Message) == count(db, Customer) == 0


def test_four_deliveries_of_one_msgid_are_one_message_and_one_answer(wechat, rasa, db, wechat_api):
    answer_with(rasa, "订单已发货，预计明天送达。", "utter_order_status", "ask_order_status")
    replies = [wechat.say("我的订单到哪了", msg_id="777") for _ in range(4)]
    # WeChat only retries when it got no answer, so each retry gets the same one again.
    assert replies == ["订单已发货，预计明天送达。"] * 4
    assert len(rasa.requests) == 1
    assert count(db, Message) == 2 and count(db, InboundReceipt) == 1
    assert sent_messages(wechat_api, wait=0.5) == []  # nothing also through the API


def test_a_slow_answer_is_taken_by_the_retry_that_is_waiting(wechat, rasa, db, wechat_api):
    answer_with(rasa, "让我查一下……找到了，您的包裹在派送中。")
    rasa.delay = DEADLINE * 1.5
    first = wechat.post(text="包裹呢", msg_id="888")
    assert (first.status_code, first.text) == (200, "success")  # past the deadline: no answer yet
    assert wechat.say("包裹呢", msg_id="888") == "让我查一下……找到了，您的包裹在派送中。"
    assert wechat.say("包裹呢", msg_id="888") == "让我查一下……找到了，您的包裹在派送中。"
    assert len(rasa.requests) == 1 and count(db, Message) == 2
    assert sent_messages(wechat_api, wait=0.5) == []


def test_an_answer_later_than_every_retry_goes_out_once_through_the_api(wechat, rasa, db, wechat_api):
    answer_with(rasa, "抱歉久等了，已经为您查到。")
    rasa.delay = DEADLINE * 3.5
    for _ in range(3):  # WeChat's first try and two retries all give up
        assert wechat.post(text="查一下", msg_id="999").text == "success"
    assert sent_messages(wechat_api, at_least=1) == ["抱歉久等了，已经为您查到。"]
    assert wechat.post(text="查一下", msg_id="999").text == "success"  # the last retry, after
    time.sleep(0.5)
    assert sent_messages(wechat_api) == ["抱歉久等了，已经为您查到。"]
    assert len(rasa.requests) == 1 and count(db, Message) == 2
    assert db.scalar(select(OutboundDelivery.status)) == "sent"


def test_when_rasa_is_down_the_customer_is_told_and_staff_see_it(wechat, rasa, db):
    rasa.reply = lambda body: httpx.Response(500, text="boom")
    reply = wechat.say("在吗")
    assert reply.startswith(BOT_UNAVAILABLE_TEXT) and "转接人工客服" in reply  # both notices in one reply
    conv = db.scalar(select(Conversation))
    assert conv.needs_attention and conv.handler == "waiting"
    assert [m.text for m in conv.messages if m.author == "customer"] == ["在吗"]


def test_a_message_the_database_could_not_take_is_taken_from_wechats_retry(wechat, client, rasa, db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from api.channels import wechat_inbox

    real = wechat_inbox.identify_wechat_customer
    calls = []

    def locked_once(session, openid):
        calls.append(openid)
        if len(calls) == 1:
            raise OperationalError("INSERT …", {}, Exception("database is locked"))
        return real(session, openid)

    monkeypatch.setattr(wechat_inbox, "identify_wechat_customer", locked_once)
    client.app.state.wechat.wechat_timeout = 0.3  # the tests' WeChat gives up sooner
    answer_with(rasa, "您好，请讲")
    started = time.perf_counter()
    first = wechat.post(text="你好", msg_id="71")
    # No quick error (WeChat would show "service unavailable"): the answer waits out
    # WeChat's timeout, so WeChat delivers again.
    assert first.status_code == 503 and time.perf_counter() - started >= 0.3
    assert count(db, Message) == 0
    assert wechat.say("你好", msg_id="71") == "您好，请讲"
    assert count(db, Message) == 2 and len(rasa.requests) == 1


def test_pictures_are_kept_for_staff_and_the_customer_is_asked_for_text(wechat, client, rasa, db):
    xml = (f"<xml><ToUserName>gh_x</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>{int(time.time())}"
           f"</CreateTime><MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m1</MediaId>"
           f"<MsgId>4242</MsgId></xml>")
    request = sign_request(TOKEN, wechat.crypto, "gh_x", OPENID, xml)
    resp = client.post("/wechat/callback", params=request.params, content=request.body.encode())
    reply, _ = read_passive_reply(resp.text, wechat.crypto, "gh_x", OPENID)
    assert "文字" in reply and rasa.requests == []
    assert db.scalar(select(Message.text).where(Message.author == "customer")) == "[图片]"


def test_a_phone_number_typed_in_wechat_joins_the_account(wechat, rasa, db):
    answer_with(rasa, "好的，已记录。")
    wechat.say("我的手机号是 138 1234 5678")
    kinds = set(db.scalars(select(CustomerIdentity.kind)))
    assert kinds == {"wechat_openid", "phone"} and count(db, Customer) == 1


def test_the_survey_runs_in_wechat_too(wechat, rasa, db):
    answer_with(rasa, "再见，欢迎下次光临！", "utter_goodbye", "goodbye")
    goodbye = wechat.say("谢谢，再见", msg_id="1")
    assert goodbye.startswith("再见，欢迎下次光临！") and OVERALL.text in goodbye  # all in one passive reply
    next_question = wechat.say("5", msg_id="2")
    assert next_question and next_question != goodbye
    assert len(rasa.requests) == 1  # the answer went to the survey, not to Rasa
    survey = db.scalar(select(Survey))
    assert (survey.channel, survey.overall) == ("wechat", 5)


def test_once_merged_with_the_web_member_the_openid_chats_as_that_member(wechat, client, rasa, db):
    answer_with(rasa, "您好")
    wechat.say(event="subscribe")
    wechat.say("你好", msg_id="61")
    follower = db.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.kind == "wechat_openid"))
    member = client.post("/api/web/session", json=signed("demo-1003")).json()["customer"]["id"]
    resp = client.post(f"/api/customers/{member}/merge", json={"source_id": follower, "note": "同一人"},
                       headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["moved"]["inbound_receipts"] == 2 and resp.json()["moved"]["conversations"] == 1
    wechat.say("我的订单呢", msg_id="62")
    db.expire_all()
    stored = db.scalar(select(Message).where(Message.text == "我的订单呢"))
    assert db.get(Conversation, stored.conversation_id).customer_id == member
    assert rasa.requests[-1]["metadata"]["customer_id"] == member


# ------------------------------------------------------------------ events


def test_a_new_follower_is_greeted_and_becomes_a_customer_once(wechat, db, settings_env):
    created = int(time.time())
    greeting = wechat.say(event="subscribe", create_time=created)
    catalog = ResponseCatalog.from_files(settings_env.domain_path, settings_env.responses_dir)
    assert greeting in {r.text for r in catalog.responses["utter_greet"]}
    assert wechat.say(event="subscribe", create_time=created) is None  # WeChat's retry: no second greeting
    assert count(db, Customer) == 1 and count(db, InboundReceipt) == 1
    assert db.scalar(select(Message.template)) == "utter_greet"


def test_without_an_app_secret_a_late_answer_is_marked_undelivered_for_staff(wechat, rasa, db, monkeypatch):
    monkeypatch.delenv("HX_WECHAT_APP_SECRET")
    from api.core.config import get_settings
    from api.main import create_app as create_service

    get_settings.cache_clear()
    with TestClient(create_service()) as bare:
        bare.app.dependency_overrides = wechat.client.app.dependency_overrides  # the scripted Rasa
        server = WeChatServer(bare, safe=wechat.crypto is not None)
        answer_with(rasa, "稍等，正在查询")
        rasa.delay = DEADLINE * 1.5
        assert server.post(text="查订单", msg_id="81").text == "success"
        deadline = time.monotonic() + 5
        while db.scalar(select(OutboundDelivery.status).where(OutboundDelivery.status == "failed")) is None:
            assert time.monotonic() < deadline, "the late answer was never marked"
            time.sleep(0.1)
            db.expire_all()
    delivery = db.scalar(select(OutboundDelivery))
    assert "AppSecret" in delivery.last_error
    assert db.scalar(select(Conversation.attention_reason)) == "delivery_failed"


def test_unfollowing_is_recorded_and_ends_the_open_conversation(wechat, client, rasa, db):
    answer_with(rasa, "您好")
    wechat.say("你好", msg_id="5")
    assert wechat.post(event="unsubscribe").text == "success"
    db.expire_all()
    conv = db.scalar(select(Conversation))
    assert conv.status == "closed"
    assert db.scalar(select(ConversationEvent.kind).where(ConversationEvent.kind == "unsubscribed"))
    assert set(db.scalars(select(InboundReceipt.kind))) == {"text", "unsubscribe"}
    profile = staff_view(client, conv.id)["customer"]
    assert "微信已取消关注" in profile["tags"]
    assert wechat.say(event="subscribe") is not None  # back again: greeted, and followed
    assert "微信" in staff_view(client, conv.id)["customer"]["tags"]


def staff_view(client, conversation_id: str) -> dict:
    resp = client.get(f"/api/staff/conversations/{conversation_id}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


# ------------------------------------------------------------------ refusals


def _raw(client, body: bytes, **params) -> httpx.Response:
    timestamp, nonce = str(int(time.time())), "42"
    from bot.wechat import sign

    query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **params}
    return client.post("/wechat/callback", params=query, content=body)


@pytest.mark.parametrize("mode, case", [
    *((mode, case) for mode in ("plain", "safe")
      for case in ("forged", "stale", "no signature", "malformed", "laughs", "huge")),
    ("safe", "wrong msg_signature")], indirect=["mode"])
def test_anything_not_from_wechat_gets_4xx_and_stores_nothing(wechat, client, db, mode, case):
    good = incoming_xml(wechat.account, Delivery(openid=OPENID, text="你好"), "1", int(time.time()))
    request = sign_request(TOKEN, wechat.crypto, wechat.account.gh_id, OPENID, good)
    params, body = dict(request.params), request.body.encode()
    if case == "forged":
        params["signature"] = "0" * 40
        expected = 403
    elif case == "stale":
        old = str(int(time.time()) - 3600)
        from bot.wechat import sign

        params.update(timestamp=old, signature=sign(TOKEN, old, params["nonce"]))
        expected = 403
    elif case == "no signature":
        params.pop("signature")
        expected = 403
    elif case == "malformed":
        body, expected = b"<xml><ToUserName>gh", 400
    elif case == "laughs":
        body, expected = billion_laughs(), 400
    elif case == "huge":
        body, expected = b"<xml>" + b" " * (2 * 1024 * 1024) + b"</xml>", 413
    else:  # safe mode: the body's own signature
        params["msg_signature"] = "0" * 40
        expected = 403
    started = time.perf_counter()
    resp = client.post("/wechat/callback", params=params, content=body)
    assert resp.status_code == expected and resp.json()["detail"]
    assert time.perf_counter() - started < 1.0
    assert count(db, Message) == count(db, Customer) == count(db, InboundReceipt) == 0


# ------------------------------------------------------------------ staff and the API


@pytest.fixture
def agent(db, client):
    create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    db.commit()
    other = TestClient(client.app)
    assert other.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"}).status_code == 200
    other.headers.update({"X-Requested-With": "fetch"})
    return other


def test_staff_replies_in_a_wechat_conversation_go_out_through_the_api(wechat, rasa, db, agent, wechat_api):
    answer_with(rasa, "好的，正在为您转接人工", "utter_handoff", "request_human")
    reply = wechat.say("转人工")
    assert "转接人工客服" in reply
    conv_id = db.scalar(select(Conversation.id))
    assert agent.post(f"/api/staff/conversations/{conv_id}/claim").status_code == 200
    assert agent.post(f"/api/staff/conversations/{conv_id}/messages", json={"text": "您好，我是小李，请讲。"}).status_code == 201
    assert sent_messages(wechat_api, at_least=2) == ["人工客服「小李」已接入，接下来由我为您服务。", "您好，我是小李，请讲。"]
    # The customer's next message goes to the agent, not to the bot.
    assert wechat.say("我的快递三天没动了", msg_id="31") is None and len(rasa.requests) == 1
    shown = agent.get(f"/api/staff/conversations/{conv_id}").json()["messages"]
    assert [m["delivery"] for m in shown if m["author"] == "staff"] == ["sent"]


def test_a_late_answer_and_its_queue_notice_go_out_in_order(wechat, rasa, wechat_api):
    answer_with(rasa, "好的", "utter_handoff", "request_human")
    rasa.delay = DEADLINE * 1.5
    assert wechat.post(text="转人工", msg_id="51").text == "success"
    texts = sent_messages(wechat_api, at_least=2)
    assert texts[0] == "好的" and "转接人工客服" in texts[1]


def _pending_delivery(db, text: str) -> OutboundDelivery:
    """A staff message waiting for the sender, in a WeChat customer's conversation."""
    customer = Customer()
    db.add(CustomerIdentity(kind="wechat_openid", value=OPENID, customer=customer))
    db.flush()
    db.add(Conversation(id="c" * 32, customer_id=customer.id, channel="wechat"))
    db.add(Message(conversation_id="c" * 32, direction="outbound", author="staff", text=text, created_at=utcnow()))
    db.commit()
    delivery = db.scalar(select(OutboundDelivery))
    assert delivery is not None and delivery.status == "pending"
    return delivery


@pytest.fixture
def sender(wechat_env, settings_env):
    return WeChatSender(client_from_settings(settings_env), db_session.get_sessionmaker(), max_attempts=3)


def test_the_sender_fetches_a_new_token_when_wechat_says_it_expired(sender, db, wechat_api):
    stats = lambda: wechat_api.get("/_fake/stats").json()  # noqa: E731
    _pending_delivery(db, "第一条")
    sender.send_due()
    issued = stats()["tokens_issued"]
    wechat_api.post("/_fake/expire-tokens")  # WeChat now answers 42001 to the token the sender holds
    db.add(Message(conversation_id="c" * 32, direction="outbound", author="staff", text="第二条", created_at=utcnow()))
    db.commit()
    sender.send_due()
    assert sent_messages(wechat_api, wait=0)[-2:] == ["第一条", "第二条"]
    assert stats()["tokens_issued"] == issued + 1  # refreshed once, by the one sender
    db.expire_all()
    assert set(db.scalars(select(OutboundDelivery.status))) == {"sent"}


def test_a_customer_who_unfollowed_cannot_be_sent_to_and_staff_are_told(sender, db, wechat_api):
    _pending_delivery(db, "还在吗？")
    wechat_api.post("/_fake/unsubscribed", json={"openid": OPENID})
    sender.send_due()
    db.expire_all()
    delivery = db.scalar(select(OutboundDelivery))
    conv = db.scalar(select(Conversation))
    assert delivery.status == "failed" and "取消关注" in delivery.last_error
    assert conv.needs_attention and conv.attention_reason == "delivery_failed"


def test_wechat_busy_is_retried_later_then_given_up(sender, db, wechat_api):
    _pending_delivery(db, "您的退款已到账")
    wechat_api.post("/_fake/fail", json={"errcode": -1, "times": 10})
    now = utcnow()
    for minutes in (0, 1, 3):
        sender.send_due(now + timedelta(minutes=minutes, seconds=1))
        db.expire_all()
        delivery = db.scalar(select(OutboundDelivery))
        assert delivery.status == ("pending" if minutes < 3 else "failed")
    assert delivery.attempts == 3 and "-1" in delivery.last_error
    assert sent_messages(wechat_api, wait=0) == []
