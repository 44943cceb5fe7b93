"""An OFFLINE FAKE of Tencent's WeChat Official Account servers. (One module of about
400 lines: both halves share the fake's state — tokens, followers, what was sent.)

This machine cannot reach api.weixin.qq.com, and a person trying the product has no
official account, so this process plays the two parts of WeChat the service meets:

* the API the service calls: ``GET /cgi-bin/token`` and ``POST /cgi-bin/message/custom/send``
  (customer-service messages), answering with WeChat's error codes;
* the server that calls the service: ``POST /_fake/deliver`` builds the XML WeChat would
  post to the callback for a customer's text or (un)subscribe event, signs it, encrypts
  it in safe mode (when an EncodingAESKey is set), waits 5 s for the answer and, like
  WeChat, retries the same message up to 3 more times when there is none.

Test hooks live under ``/_fake/``. Nothing is stored: a restart forgets everything.

    python -m ops.fake_wechat serve --port 8010   # settings from HX_WECHAT_* and HX_WECHAT_CALLBACK_URL
    python -m ops.fake_wechat say 你好              # chat as a customer, from another terminal
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal
from xml.parsers.expat import ExpatError

import httpx
import xmltodict
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field, model_validator
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatException
from wechatpy.utils import WeChatSigner

TOKEN_LIFETIME = 7200  # seconds, as WeChat's expires_in
REPLACED_TOKEN_GRACE = 300  # WeChat keeps the previous token valid 5 min after a new one
CALLBACK_RETRIES = 3  # WeChat's retries after the first attempt
DEMO_OPENID = "oHuixiangDemoCustomer0000001"  # openids are 28 characters starting with "o"
# What WeChat shows the customer when the callback does not answer properly.
WECHAT_OUTAGE_NOTICE = "该公众号暂时无法提供服务，请稍后再试"

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    44004: "empty content",
    45015: "response out of time limit",
    45047: "out of response count limit",
    47001: "data format error",
}


def wechat_error(errcode: int) -> dict:
    # WeChat answers errors with HTTP 200 and this body.
    return {"errcode": errcode, "errmsg": ERRMSGS.get(errcode, "injected by the fake")}


def wechat_signature(*values: str) -> str:
    """sha1 of the sorted values: the callback's ``signature`` (token, timestamp, nonce)."""
    signer = WeChatSigner()
    signer.add_data(*values)
    return signer.signature


def cdata(value: str) -> str:
    # "]]>" would end the section early; split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class IssuedToken:
    expires_at: float
    replaced_at: float | None = None  # when a newer token was issued


@dataclass
class Account:
    """What Tencent's servers remember about the one official account."""
    app_id: str
    app_secret: str
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)  # customer-service messages sent
    unsubscribed: set[str] = field(default_factory=set)
    injected_failures: deque[int] = field(default_factory=deque)
    tokens_issued: int = 0
    send_calls: int = 0

    @property
    def gh_id(self) -> str:
        """The account's original id (ToUserName of what customers send), stable per app id."""
        return "gh_" + hashlib.sha1(self.app_id.encode()).hexdigest()[:12]

    def issue_token(self) -> str:
        now = time.monotonic()
        for issued in self.tokens.values():
            issued.replaced_at = issued.replaced_at or now
        token = secrets.token_urlsafe(96)
        self.tokens[token] = IssuedToken(expires_at=now + TOKEN_LIFETIME)
        self.tokens_issued += 1
        return token

    def expire_tokens(self) -> int:
        for issued in self.tokens.values():
            issued.expires_at = 0
        return len(self.tokens)

    def token_errcode(self, token: str | None) -> int | None:
        if not token:
            return 41001
        issued = self.tokens.get(token)
        now = time.monotonic()
        if issued is None:
            return 40001
        if now >= issued.expires_at:
            return 42001
        if issued.replaced_at and now > issued.replaced_at + REPLACED_TOKEN_GRACE:
            return 40001  # "access_token is invalid or not latest"
        return None


def parse_custom_message(raw: bytes) -> dict | int:
    """The text message the service asks to send, or the errcode WeChat answers."""
    if not raw.strip():
        return 44002
    try:
        body = json.loads(raw)
    except ValueError:
        return 47001
    if not isinstance(body, dict):
        return 47001
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return 40003
    if body.get("msgtype") != "text":  # the only kind the service sends, so the only one imitated
        return 40008
    text = body.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    if not isinstance(content, str) or not content:
        return 44004
    return {"touser": body["touser"], "msgtype": "text", "content": content}


class Delivery(BaseModel):
    """One thing a customer does in WeChat: send a text, or (un)follow the account."""
    openid: str = Field(min_length=1)
    text: str | None = None
    event: Literal["subscribe", "unsubscribe"] | None = None
    msg_id: str | None = None
    create_time: int | None = None

    @model_validator(mode="after")
    def one_thing(self) -> Delivery:
        if (self.text is None) == (self.event is None):
            raise ValueError("give either text or event")
        return self


class FailureRule(BaseModel):
    errcode: int
    times: int = Field(default=1, ge=1)


class Subscriber(BaseModel):
    openid: str = Field(min_length=1)


def incoming_xml(account: Account, delivery: Delivery, msg_id: str, create_time: int) -> str:
    """The XML WeChat posts to the callback for a customer's text or event."""
    head = (f"<ToUserName>{cdata(account.gh_id)}</ToUserName>"
            f"<FromUserName>{cdata(delivery.openid)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime>")
    if delivery.event:
        # Events carry no MsgId; services deduplicate them by FromUserName + CreateTime.
        return (f"<xml>{head}<MsgType>{cdata('event')}</MsgType><Event>{cdata(delivery.event)}</Event>"
                f"<EventKey>{cdata('')}</EventKey></xml>")
    return (f"<xml>{head}<MsgType>{cdata('text')}</MsgType><Content>{cdata(delivery.text)}</Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


@dataclass
class CallbackRequest:
    """One signed (and in safe mode encrypted) POST to the callback, sent as-is on each retry."""
    params: dict[str, str]
    body: str


def sign_request(token: str, crypto: WeChatCrypto | None, gh_id: str, openid: str, xml: str) -> CallbackRequest:
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10 ** 10))
    params = {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp,
              "nonce": nonce, "openid": openid}
    if crypto is None:
        return CallbackRequest(params, xml)
    envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
    params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    body = f"<xml><ToUserName>{cdata(gh_id)}</ToUserName><Encrypt>{cdata(envelope['Encrypt'])}</Encrypt></xml>"
    return CallbackRequest(params, body)


def read_passive_reply(answer: str, crypto: WeChatCrypto | None, gh_id: str,
                       openid: str) -> tuple[str | None, str | None]:
    """(the text the customer sees, or None; what is wrong with the answer, or None)."""
    if answer.strip() in ("", "success"):
        return None, None
    try:
        fields = xmltodict.parse(answer)["xml"]
        if crypto is not None:
            if "Encrypt" not in fields:
                return None, "safe mode, but the passive reply is not encrypted"
            plain = crypto.decrypt_message(answer, fields.get("MsgSignature"), fields.get("TimeStamp"),
                                           fields.get("Nonce"))
            fields = xmltodict.parse(plain)["xml"]
    except (ExpatError, ValueError, KeyError, TypeError, struct.error, WeChatException) as exc:
        return None, f"unreadable passive reply ({type(exc).__name__}): {answer[:120]!r}"
    if (fields.get("ToUserName"), fields.get("FromUserName")) != (openid, gh_id):
        return None, (f"passive reply from {fields.get('FromUserName')!r} to {fields.get('ToUserName')!r}; "
                      f"WeChat expects from {gh_id!r} to {openid!r}")
    if fields.get("MsgType") != "text":
        return None, f"passive reply of type {fields.get('MsgType')!r}; the fake imitates text only"
    return fields.get("Content") or "", None


async def post_like_wechat(callback_url: str, request: CallbackRequest,
                           timeout: float) -> tuple[list[dict], httpx.Response | None]:
    """POST until an answer comes, at most 1 + CALLBACK_RETRIES times, each waiting ``timeout``."""
    attempts: list[dict] = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        for _ in range(1 + CALLBACK_RETRIES):
            started = time.perf_counter()
            try:
                resp = await client.post(callback_url, params=request.params, content=request.body.encode(),
                                         headers={"Content-Type": "text/xml"})
            except httpx.TransportError:  # no answer in time, or nobody listening
                attempts.append({"status": None, "elapsed_ms": (time.perf_counter() - started) * 1000})
                continue
            attempts.append({"status": resp.status_code, "elapsed_ms": (time.perf_counter() - started) * 1000})
            return attempts, resp
    return attempts, None


def create_app(app_id: str, app_secret: str, token: str, aes_key: str | None, callback_url: str,
               wechat_timeout: float = 5.0) -> FastAPI:
    """The fake for one official account; ``aes_key`` set means safe (encrypted) mode."""
    account = Account(app_id=app_id, app_secret=app_secret)
    crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
    app = FastAPI(title="Offline fake of WeChat's servers", docs_url="/_fake/docs",
                  openapi_url="/_fake/openapi.json")
    app.state.account = account

    @app.get("/cgi-bin/token")
    def access_token(grant_type: str = "", appid: str = "", secret: str = "") -> dict:
        if grant_type != "client_credential":
            return wechat_error(40002)
        if appid != account.app_id:
            return wechat_error(40013)
        if secret != account.app_secret:
            return wechat_error(40125)
        return {"access_token": account.issue_token(), "expires_in": TOKEN_LIFETIME}

    @app.post("/cgi-bin/message/custom/send")
    async def send_custom_message(request: Request, access_token: str | None = None) -> dict:
        account.send_calls += 1
        errcode = account.token_errcode(access_token)
        if errcode is None and account.injected_failures:
            errcode = account.injected_failures.popleft()
        if errcode is not None:
            return wechat_error(errcode)
        message = parse_custom_message(await request.body())
        if isinstance(message, int):
            return wechat_error(message)
        if message["touser"] in account.unsubscribed:
            return wechat_error(43004)
        account.messages.append({**message, "at": time.time()})
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/_fake/deliver")
    async def deliver(delivery: Delivery) -> dict:
        msg_id = delivery.msg_id or str(10 ** 16 + secrets.randbelow(9 * 10 ** 16))
        create_time = delivery.create_time or int(time.time())
        if delivery.event == "subscribe":
            account.unsubscribed.discard(delivery.openid)
        elif delivery.event == "unsubscribe":
            account.unsubscribed.add(delivery.openid)
        xml = incoming_xml(account, delivery, msg_id, create_time)
        request = sign_request(token, crypto, account.gh_id, delivery.openid, xml)
        attempts, resp = await post_like_wechat(callback_url, request, wechat_timeout)
        if resp is None:
            reply, error = None, f"no answer within {wechat_timeout:g} s in {len(attempts)} attempts"
        elif resp.status_code != 200:
            reply, error = None, f"the callback answered HTTP {resp.status_code}"
        else:
            reply, error = read_passive_reply(resp.text, crypto, account.gh_id, delivery.openid)
        return {"msg_id": None if delivery.event else msg_id, "create_time": create_time,
                "attempts": attempts, "reply": reply, "error": error,
                # What the customer's phone would show instead of a reply.
                "customer_notice": WECHAT_OUTAGE_NOTICE if error else None}

    @app.post("/_fake/verify-callback")
    async def verify_callback() -> dict:
        """What the admin console does when the callback URL is saved: GET with an echostr."""
        timestamp, nonce, echostr = str(int(time.time())), str(secrets.randbelow(10 ** 10)), secrets.token_hex(8)
        params = {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp,
                  "nonce": nonce, "echostr": echostr}
        try:
            async with httpx.AsyncClient(timeout=wechat_timeout) as client:
                resp = await client.get(callback_url, params=params)
        except httpx.TransportError as exc:
            return {"ok": False, "status": None, "error": type(exc).__name__}
        return {"ok": resp.status_code == 200 and resp.text == echostr, "status": resp.status_code,
                "error": None}

    @app.get("/_fake/messages")
    def recorded_messages(touser: str | None = None) -> list[dict]:
        return [m for m in account.messages if touser is None or m["touser"] == touser]

    @app.delete("/_fake/messages")
    def forget_messages() -> dict:
        deleted = len(account.messages)
        account.messages.clear()
        return {"deleted": deleted}

    @app.get("/_fake/stats")
    def stats() -> dict:
        return {"tokens_issued": account.tokens_issued, "send_calls": account.send_calls}

    @app.post("/_fake/expire-tokens")
    def expire_tokens() -> dict:
        return {"expired": account.expire_tokens()}

    @app.post("/_fake/fail")
    def inject_failures(rule: FailureRule) -> dict:
        account.injected_failures.extend([rule.errcode] * rule.times)
        return {"pending_failures": len(account.injected_failures)}

    @app.post("/_fake/unsubscribed")
    def mark_unsubscribed(subscriber: Subscriber) -> dict:
        account.unsubscribed.add(subscriber.openid)
        return {"unsubscribed": sorted(account.unsubscribed)}

    @app.get("/_fake/health")
    def health() -> dict:
        return {"status": "ok", "safe_mode": crypto is not None, "callback_url": callback_url}

    return app


# --- command line -------------------------------------------------------------------

SETTINGS = ("HX_WECHAT_TOKEN", "HX_WECHAT_APP_ID", "HX_WECHAT_APP_SECRET", "HX_WECHAT_CALLBACK_URL")


def serve(port: int) -> int:
    import uvicorn

    missing = [name for name in SETTINGS if not os.environ.get(name)]
    if missing:
        print(f"set {', '.join(missing)} first", file=sys.stderr)
        return 2
    env = os.environ
    app = create_app(app_id=env["HX_WECHAT_APP_ID"], app_secret=env["HX_WECHAT_APP_SECRET"],
                     token=env["HX_WECHAT_TOKEN"], aes_key=env.get("HX_WECHAT_AES_KEY") or None,
                     callback_url=env["HX_WECHAT_CALLBACK_URL"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


def say(sim_url: str, openid: str, text: str | None, event: str | None, wait: float) -> int:
    """Send as a customer, print the passive reply and the customer-service messages that follow."""
    with httpx.Client(base_url=sim_url, timeout=5 + 4 * 6) as sim:  # WeChat may try 4 times, 5 s each
        try:
            seen = len(sim.get("/_fake/messages", params={"touser": openid}).json())
        except httpx.TransportError:
            print(f"no fake WeChat at {sim_url}; is the product running (scripts/run)?", file=sys.stderr)
            return 1
        print(f"{openid} → {text if text is not None else f'[{event}]'}")
        result = sim.post("/_fake/deliver", json={"openid": openid, "text": text, "event": event}).json()
        if len(result["attempts"]) > 1:
            print(f"  (WeChat retried: {len(result['attempts'])} attempts)")
        if result["error"]:
            print(f"  WeChat shows: {result['customer_notice']}  ({result['error']})")
        elif result["reply"] is not None:
            print(f"公众号: {result['reply']}")
        print(f"  (waiting {wait:g} s for customer-service messages…)")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            messages = sim.get("/_fake/messages", params={"touser": openid}).json()
            for message in messages[seen:]:
                print(f"公众号 (客服消息): {message['content']}")
            seen = len(messages)
            time.sleep(0.5)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.fake_wechat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the fake on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=int(os.environ.get("HX_WECHAT_SIM_PORT", 8010)))
    say_cmd = commands.add_parser("say", help="send a message as a WeChat customer")
    say_cmd.add_argument("text", nargs="?", help="what the customer types (omit with --event)")
    say_cmd.add_argument("--event", choices=("subscribe", "unsubscribe"), help="follow or unfollow instead")
    say_cmd.add_argument("--openid", default=DEMO_OPENID)
    say_cmd.add_argument("--sim", default=f"http://127.0.0.1:{os.environ.get('HX_WECHAT_SIM_PORT', 8010)}",
                         help="the fake's URL")
    say_cmd.add_argument("--wait", type=float, default=8, help="seconds to wait for customer-service messages")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port)
    if (args.text is None) == (args.event is None):
        parser.error("say needs a text or --event, not both")
    return say(args.sim, args.openid, args.text, args.event, args.wait)


if __name__ == "__main__":
    sys.exit(main())
