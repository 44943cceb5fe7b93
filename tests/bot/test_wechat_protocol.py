"""The WeChat callback protocol against published vectors, with wechatpy as WeChat."""
from __future__ import annotations

import base64
import time

import pytest
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

from bot.wechat import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedMessage,
    SafeMode,
    StaleRequest,
    check_timestamp,
    parse_xml,
    read_message,
    sign,
    split_text,
    text_reply,
    verify_signature,
)

# WeChat's documentation: token AAAAA, timestamp 1714037059, nonce 486452656.
OFFICIAL = ("AAAAA", "1714037059", "486452656", "899cf89e464efb63f54ddac96b0a0a235f53aa78")
# Tencent's WXBizMsgCrypt sample (its demo's decryption test).
SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APP = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP, SAMPLE_NONCE = "1409735669", "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y"
    "t+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6"
    "h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def text_xml(content: str = "你好", msg_id: str = "6054768590064713728", openid: str = "oUser1") -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode()


def test_the_official_signature_vector():
    token, timestamp, nonce, expected = OFFICIAL
    assert sign(token, timestamp, nonce) == expected
    verify_signature(token, expected, timestamp, nonce, now=int(timestamp))
    verify_signature(token, expected.upper(), timestamp, nonce, now=int(timestamp))


@pytest.mark.parametrize("change", [{"token": "AAAAB"}, {"nonce": "486452657"}, {"signature": "0" * 40},
                                    {"signature": ""}, {"nonce": ""}])
def test_a_signature_over_anything_else_is_refused(change):
    token, timestamp, nonce, signature = OFFICIAL
    args = {"token": token, "signature": signature, "timestamp": timestamp, "nonce": nonce, **change}
    with pytest.raises(BadSignature):
        verify_signature(**args, now=int(timestamp))


def test_old_or_future_timestamps_are_stale_and_junk_is_malformed():
    token, timestamp, nonce, signature = OFFICIAL
    with pytest.raises(StaleRequest):
        verify_signature(token, signature, timestamp, nonce, now=int(timestamp) + 301)
    with pytest.raises(StaleRequest):
        check_timestamp(timestamp, now=int(timestamp) - 301)
    check_timestamp(timestamp, now=int(timestamp) + 299)
    for junk in (None, "", "12a", "-5", "9" * 30):
        with pytest.raises(MalformedMessage):
            check_timestamp(junk, now=time.time())


def test_tencents_sample_decrypts_to_its_text_message():
    safe = SafeMode(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APP)
    plain = safe.decrypt({"Encrypt": SAMPLE_ENCRYPT}, SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    message = read_message(parse_xml(plain))
    assert (message.openid, message.account, message.text, message.msg_id) == (
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a", "abcdteT", "6054768590064713728")
    with pytest.raises(BadSignature):  # one character of the body changed
        safe.decrypt({"Encrypt": "g" + SAMPLE_ENCRYPT[1:]}, SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    with pytest.raises(MalformedMessage):  # signed, but for another account
        SafeMode(SAMPLE_TOKEN, SAMPLE_KEY, "wx0000000000000000").decrypt(
            {"Encrypt": SAMPLE_ENCRYPT}, SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE)


def test_encrypted_round_trip_with_wechatpy_as_the_wechat_server():
    key = base64.b64encode(bytes(range(32))).decode().rstrip("=")
    wechat = WeChatCrypto("tok", key, "wx1234567890abcdef")  # what WeChat's servers do
    ours = SafeMode("tok", key, "wx1234567890abcdef")
    envelope = parse_xml(wechat.encrypt_message(text_xml("我的订单到哪了").decode(), "n0nce", "1700000000").encode())
    message = read_message(parse_xml(ours.decrypt(envelope, envelope["MsgSignature"], "1700000000", "n0nce")))
    assert message.text == "我的订单到哪了"

    reply = ours.encrypt(text_reply(message, "您的订单已发货", now=1700000001), "n2", "1700000001")
    decrypted = wechat.decrypt_message(reply, sign("tok", "1700000001", "n2", parse_xml(reply.encode())["Encrypt"]),
                                       "1700000001", "n2")
    answer = parse_message(decrypted)
    assert (answer.type, answer.content, answer.source, answer.target) == (
        "text", "您的订单已发货", "gh_shop", "oUser1")


def test_messages_and_events_are_read_with_their_retry_keys():
    text = read_message(parse_xml(text_xml(msg_id="42")))
    assert (text.kind, text.text, text.dedup_key) == ("text", "你好", "msg:42")
    event = read_message(parse_xml(
        b"<xml><ToUserName>gh_shop</ToUserName><FromUserName>oUser1</FromUserName><CreateTime>1700000000"
        b"</CreateTime><MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_7</EventKey></xml>"))
    assert (event.kind, event.event, event.msg_id, event.dedup_key) == (
        "event", "subscribe", None, "evt:oUser1:1700000000:subscribe")
    voice = read_message(parse_xml(
        "<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition>查订单</Recognition>"
        "<MsgId>7</MsgId></xml>".encode()))
    assert (voice.kind, voice.text) == ("voice", "查订单")


@pytest.mark.parametrize("body, why", [
    (b"<xml><ToUserName>gh</ToUserName></xml>", "FromUserName"),
    (b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>soon</CreateTime>"
     b"<MsgType>text</MsgType></xml>", "CreateTime"),
    (b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
     b"<MsgType>text</MsgType><MsgId>1; drop</MsgId></xml>", "MsgId"),
    (b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
     b"<MsgType>event</MsgType></xml>", "Event"),
])
def test_deliveries_missing_what_wechat_always_sends_are_malformed(body, why):
    with pytest.raises(MalformedMessage, match=why):
        read_message(parse_xml(body))


def billion_laughs(levels: int = 9) -> bytes:
    """Each entity ten of the one before: a gigabyte of "ha" if it were expanded."""
    entities = ['<!ENTITY l0 "ha">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels)]
    return (f'<?xml version="1.0"?><!DOCTYPE xml [{"".join(entities)}]>'
            f"<xml><Content>&l{levels - 1};</Content></xml>").encode()


@pytest.mark.parametrize("body", [
    billion_laughs(),
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><C>&x;</C></xml>',
    b'<!DOCTYPE xml SYSTEM "http://example.com/x.dtd"><xml/>',
    b"<xml><unclosed></xml>",
    b"not xml at all",
    b"",
    b"<html><body/></html>",
])
def test_hostile_or_broken_xml_is_refused_quickly(body):
    started = time.perf_counter()
    with pytest.raises(MalformedMessage):
        parse_xml(body)
    assert time.perf_counter() - started < 0.5


def test_bodies_larger_than_any_wechat_message_are_refused_before_parsing():
    with pytest.raises(MalformedMessage, match="larger"):
        parse_xml(b"<xml>" + b"<a>1</a>" * (MAX_BODY_BYTES // 8) + b"</xml>")


def test_a_reply_cannot_break_out_of_its_cdata():
    message = read_message(parse_xml(text_xml()))
    rendered = parse_message(text_reply(message, "a]]><x>b"))
    assert rendered.content == "a]] ><x>b"


def test_long_texts_are_split_under_wechats_limit_at_line_ends():
    text = "\n".join(f"第{i}行：" + "很长的说明" * 20 for i in range(30))
    pieces = split_text(text, 2000)
    assert all(len(p.encode()) <= 2000 for p in pieces) and len(pieces) > 1
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert all(p.startswith("第") for p in pieces)  # cut between lines, not inside one
    assert split_text("中" * 1000, 2000) == ["中" * 666, "中" * 334]
