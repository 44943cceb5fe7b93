"""The offline fake of WeChat's servers (ops/fake_wechat.py), driven the way the service
drives the real ones: wechatpy's own client for the API, and a small callback app that
checks deliveries with wechatpy's own signature check, decryption and message parser.

The fake and the callback run in uvicorn threads on free ports, as both need real HTTP:
wechatpy calls the fake with ``requests``, and the fake calls the callback with httpx.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import BackgroundTasks, FastAPI, Request, Response
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from ops import fake_wechat
from ops.fake_wechat import create_app
from ops.stack import load_or_create_secrets, load_or_create_wechat_sim, new_wechat_sim_credentials
from tests.e2e.conftest import free_port

CREDENTIALS = new_wechat_sim_credentials()
APP_ID, APP_SECRET = CREDENTIALS["HX_WECHAT_APP_ID"], CREDENTIALS["HX_WECHAT_APP_SECRET"]
TOKEN, AES_KEY = CREDENTIALS["HX_WECHAT_TOKEN"], CREDENTIALS["HX_WECHAT_AES_KEY"]
OPENID = "oTestCustomer000000000000001"
WAIT = 1.0  # the fake's wait for the callback (WeChat's 5 s), short so retries are quick


@contextmanager
def serving(app: FastAPI, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wechat_client(base: str, secret: str = APP_SECRET, appid: str = APP_ID) -> WeChatClient:
    """wechatpy's real client, pointed at the fake instead of api.weixin.qq.com."""
    class FakeBackedClient(WeChatClient):
        API_BASE_URL = base + "/cgi-bin/"

        def fetch_access_token(self):
            return self._fetch_access_token(url=base + "/cgi-bin/token",
                                            params={"grant_type": "client_credential",
                                                    "appid": self.appid, "secret": self.secret})

    return FakeBackedClient(appid, secret)


@dataclass
class Callback:
    """A stand-in for the service's callback: checks each delivery as a service must."""
    crypto: WeChatCrypto | None
    received: list = field(default_factory=list)  # wechatpy messages, one per attempt
    delays: list[float] = field(default_factory=list)  # seconds to stall, per attempt
    reply: str | None = None  # passive reply text; None answers "success"
    follow_up: str | None = None  # then sent as a customer-service message
    encrypt_reply: bool = True  # in safe mode, as WeChat requires
    fake_url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/wechat/callback")
        def verify(signature: str, timestamp: str, nonce: str, echostr: str) -> Response:
            check_signature(TOKEN, signature, timestamp, nonce)
            return Response(echostr, media_type="text/plain")

        @app.post("/wechat/callback")
        async def receive(request: Request, background: BackgroundTasks) -> Response:
            query = request.query_params
            try:
                check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
                xml = await request.body()
                if self.crypto:
                    assert query["encrypt_type"] == "aes"
                    xml = self.crypto.decrypt_message(xml, query["msg_signature"], query["timestamp"],
                                                      query["nonce"])
            except InvalidSignatureException:
                return Response(status_code=403)
            message = parse_message(xml)
            assert message.source == query["openid"]
            self.received.append(message)
            if self.delays:
                await asyncio.sleep(self.delays.pop(0))
            if self.follow_up:
                background.add_task(wechat_client(self.fake_url).message.send_text, message.source,
                                    self.follow_up)
            if self.reply is None:
                return Response("success", media_type="text/plain")
            reply = TextReply(content=self.reply, message=message).render()
            if self.crypto and self.encrypt_reply:
                reply = self.crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
            return Response(reply, media_type="application/xml")

        return app


@dataclass
class World:
    fake: httpx.Client  # on the fake's URL
    url: str
    callback: Callback

    def deliver(self, **body) -> dict:
        resp = self.fake.post("/_fake/deliver", json={"openid": OPENID, **body})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def messages(self, touser: str = OPENID) -> list[dict]:
        return self.fake.get("/_fake/messages", params={"touser": touser}).json()


@contextmanager
def running_world(safe_mode: bool) -> Iterator[World]:
    fake_port, callback_port = free_port(), free_port()
    callback = Callback(crypto=WeChatCrypto(TOKEN, AES_KEY, APP_ID) if safe_mode else None,
                        fake_url=f"http://127.0.0.1:{fake_port}")
    fake_app = create_app(APP_ID, APP_SECRET, TOKEN, AES_KEY if safe_mode else None,
                          f"http://127.0.0.1:{callback_port}/wechat/callback", wechat_timeout=WAIT)
    with serving(callback.app(), callback_port), serving(fake_app, fake_port) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        yield World(client, url, callback)


@pytest.fixture
def world() -> Iterator[World]:
    with running_world(safe_mode=True) as w:
        yield w


@pytest.fixture(params=["safe mode", "plain mode"])
def any_mode_world(request) -> Iterator[World]:
    with running_world(safe_mode=request.param == "safe mode") as w:
        yield w


# --- the API the service calls --------------------------------------------------------

def test_a_text_sent_with_wechatpy_is_recorded_for_its_recipient(world):
    wechat_client(world.url).message.send_text(OPENID, "您的订单已发货")
    wechat_client(world.url).message.send_text("oSomeoneElse0000000000000001", "别人的消息")

    [message] = world.messages()
    assert (message["touser"], message["msgtype"], message["content"]) == (OPENID, "text", "您的订单已发货")
    assert abs(message["at"] - time.time()) < 10
    assert world.fake.get("/_fake/stats").json() == {"tokens_issued": 2, "send_calls": 2}
    assert world.fake.delete("/_fake/messages").json() == {"deleted": 2}
    assert world.messages() == []


@pytest.mark.parametrize(("appid", "secret", "errcode"),
                         [(APP_ID, "0" * 32, 40125), ("wx0000000000000000", APP_SECRET, 40013)])
def test_wrong_credentials_are_refused_with_wechats_errcode(world, appid, secret, errcode):
    with pytest.raises(WeChatClientException) as refused:
        wechat_client(world.url, secret=secret, appid=appid).message.send_text(OPENID, "你好")
    assert refused.value.errcode == errcode
    assert world.messages() == []


def test_expired_tokens_make_wechatpy_fetch_a_new_one_and_still_deliver(world):
    client = wechat_client(world.url)
    client.message.send_text(OPENID, "第一条")
    assert world.fake.post("/_fake/expire-tokens").json() == {"expired": 1}

    client.message.send_text(OPENID, "第二条")  # 42001, a new token, the same request again

    assert [m["content"] for m in world.messages()] == ["第一条", "第二条"]
    assert world.fake.get("/_fake/stats").json() == {"tokens_issued": 2, "send_calls": 3}


def test_a_token_stays_valid_after_a_newer_one_is_issued(world):
    first, second = wechat_client(world.url), wechat_client(world.url)
    first.message.send_text(OPENID, "一")
    second.message.send_text(OPENID, "二")  # a second process fetching its own token
    first.message.send_text(OPENID, "三")
    assert world.fake.get("/_fake/stats").json() == {"tokens_issued": 2, "send_calls": 3}


def test_a_replaced_token_dies_five_minutes_later_and_any_token_after_two_hours(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(fake_wechat.time, "monotonic", lambda: now[0])
    account = fake_wechat.Account(APP_ID, APP_SECRET)
    old = account.issue_token()
    now[0] += 60
    new = account.issue_token()
    now[0] += 299
    assert account.token_errcode(old) is None
    now[0] += 2
    assert (account.token_errcode(old), account.token_errcode(new)) == (40001, None)
    now[0] += 7200
    assert account.token_errcode(new) == 42001
    assert (account.token_errcode("forged"), account.token_errcode(None)) == (40001, 41001)


def test_injected_failures_surface_then_stop(world):
    world.fake.post("/_fake/fail", json={"errcode": 45015, "times": 2})
    client = wechat_client(world.url)
    for _ in range(2):
        with pytest.raises(WeChatClientException) as failed:
            client.message.send_text(OPENID, "超过48小时")
        assert (failed.value.errcode, failed.value.errmsg) == (45015, "response out of time limit")
    client.message.send_text(OPENID, "好了")
    assert [m["content"] for m in world.messages()] == ["好了"]


def test_followers_who_left_cannot_be_messaged_until_they_follow_again(world):
    world.fake.post("/_fake/unsubscribed", json={"openid": OPENID})
    with pytest.raises(WeChatClientException) as refused:
        wechat_client(world.url).message.send_text(OPENID, "还在吗")
    assert refused.value.errcode == 43004

    world.deliver(event="subscribe")
    wechat_client(world.url).message.send_text(OPENID, "欢迎回来")
    world.deliver(event="unsubscribe")
    with pytest.raises(WeChatClientException):
        wechat_client(world.url).message.send_text(OPENID, "再见")
    assert [m["content"] for m in world.messages()] == ["欢迎回来"]


@pytest.mark.parametrize(("body", "errcode"), [
    (b"", 44002), (b"{not json", 47001), (b"[]", 47001),
    (b'{"msgtype": "text", "text": {"content": "hi"}}', 40003),
    (b'{"touser": "o1", "msgtype": "text"}', 44004),
    (b'{"touser": "o1", "msgtype": "text", "text": {"content": ""}}', 44004),
    (b'{"touser": "o1", "msgtype": "voice", "voice": {"media_id": "m"}}', 40008),
])
def test_malformed_sends_get_wechats_errors(world, body, errcode):
    token = world.fake.get("/cgi-bin/token", params={"grant_type": "client_credential", "appid": APP_ID,
                                                     "secret": APP_SECRET}).json()["access_token"]
    resp = world.fake.post("/cgi-bin/message/custom/send", params={"access_token": token}, content=body)
    assert resp.status_code == 200 and resp.json()["errcode"] == errcode
    assert world.messages("o1") == []


def test_sends_without_a_known_token_are_refused(world):
    send = {"touser": OPENID, "msgtype": "text", "text": {"content": "hi"}}
    assert world.fake.post("/cgi-bin/message/custom/send", json=send).json()["errcode"] == 41001
    assert world.fake.post("/cgi-bin/message/custom/send", params={"access_token": "forged"},
                           json=send).json()["errcode"] == 40001
    assert world.fake.get("/cgi-bin/token", params={"grant_type": "password"}).json()["errcode"] == 40002


# --- the server that calls the service ----------------------------------------------

def test_a_customers_text_reaches_the_callback_signed_and_gets_the_passive_reply(any_mode_world):
    world = any_mode_world
    world.callback.reply = "您好，请问有什么可以帮您？"

    result = world.deliver(text="你好 <b>&]]>", msg_id="24000000000000001", create_time=1700000000)

    assert result["reply"] == "您好，请问有什么可以帮您？"
    assert result["error"] is None and result["customer_notice"] is None
    assert [a["status"] for a in result["attempts"]] == [200]
    [message] = world.callback.received
    assert (message.type, message.content, message.source) == ("text", "你好 <b>&]]>", OPENID)
    assert (str(message.id), message.create_time.timestamp()) == ("24000000000000001", 1700000000)
    assert message.target.startswith("gh_")


def test_a_success_answer_means_no_passive_reply(any_mode_world):
    result = any_mode_world.deliver(text="在吗")
    assert (result["reply"], result["error"]) == (None, None)
    assert result["msg_id"].isdigit()


def test_follow_events_reach_the_callback_without_a_msg_id(world):
    world.callback.reply = "欢迎关注回响"
    result = world.deliver(event="subscribe")
    assert result["reply"] == "欢迎关注回响" and result["msg_id"] is None
    [event] = world.callback.received
    assert (event.type, event.event, event.source) == ("event", "subscribe", OPENID)


def test_a_slow_callback_gets_the_same_message_again_like_wechat_retries(world):
    world.callback.delays = [WAIT * 2.5]  # the first attempt stalls past the wait
    world.callback.reply = "稍等，正在查询"

    result = world.deliver(text="我的订单到哪了")

    assert [a["status"] for a in result["attempts"]] == [None, 200]
    assert result["attempts"][0]["elapsed_ms"] >= WAIT * 1000 * 0.9
    assert result["reply"] == "稍等，正在查询"
    assert [str(m.id) for m in world.callback.received] == [result["msg_id"]] * 2


def test_a_callback_that_never_answers_is_tried_four_times_and_the_customer_sees_an_outage(world):
    world.callback.delays = [WAIT * 2.5] * 4
    result = world.deliver(text="人呢")
    assert [a["status"] for a in result["attempts"]] == [None] * 4
    assert result["reply"] is None
    assert result["customer_notice"] == "该公众号暂时无法提供服务，请稍后再试"
    assert len({m.id for m in world.callback.received}) == 1 and len(world.callback.received) == 4


def test_an_unencrypted_passive_reply_in_safe_mode_never_reaches_the_customer(world):
    world.callback.reply, world.callback.encrypt_reply = "明文回复", False
    result = world.deliver(text="你好")
    assert result["reply"] is None and result["error"] == "safe mode, but the passive reply is not encrypted"
    assert result["customer_notice"]


def test_the_callback_url_check_of_the_admin_console(world):
    assert world.fake.post("/_fake/verify-callback").json() == {"ok": True, "status": 200, "error": None}


def test_the_say_command_prints_the_reply_and_the_customer_service_messages(world, capsys):
    world.callback.reply = "您好，这里是回响客服"
    world.callback.follow_up = "您的订单今天送达"

    assert fake_wechat.main(["say", "我的订单到哪了", "--openid", OPENID, "--sim", world.url,
                             "--wait", "2"]) == 0

    out = capsys.readouterr().out
    assert "公众号: 您好，这里是回响客服" in out
    assert "公众号 (客服消息): 您的订单今天送达" in out


def test_health(world):
    assert world.fake.get("/_fake/health").json()["safe_mode"] is True


# --- the demo credentials -------------------------------------------------------------

def test_demo_credentials_are_generated_once_in_wechats_formats_next_to_the_secrets(tmp_path, monkeypatch):
    for key in (*CREDENTIALS, "HX_ADMIN_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "secrets.env"
    path.write_text("HX_ADMIN_TOKEN=kept\n")

    first = load_or_create_wechat_sim(path)

    assert first["HX_WECHAT_APP_ID"].startswith("wx") and len(first["HX_WECHAT_APP_ID"]) == 18
    assert len(first["HX_WECHAT_AES_KEY"]) == 43 and len(first["HX_WECHAT_APP_SECRET"]) == 32
    WeChatCrypto(first["HX_WECHAT_TOKEN"], first["HX_WECHAT_AES_KEY"], first["HX_WECHAT_APP_ID"])
    assert load_or_create_wechat_sim(path) == first
    assert load_or_create_secrets(path)["HX_ADMIN_TOKEN"] == "kept"
    assert load_or_create_wechat_sim(path) == first  # the other secrets' generation kept them
    assert path.stat().st_mode & 0o077 == 0
