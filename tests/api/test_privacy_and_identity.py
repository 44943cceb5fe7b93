from __future__ import annotations

import logging

from bot.privacy import MaskPersonalData, mask_identifier, mask_ip, mask_phone
from api.services.identity import client_ip, is_valid_client_id, new_client_id, user_hash, verify_user_hash
from bot.text import InvalidMessage, clean_customer_text, text_for_nlu


def test_masks():
    assert mask_ip("203.0.113.45") == "203.0.*.*"
    assert mask_ip("2001:db8::1") == "2001:0db8:*"
    assert mask_ip("nonsense") == "***"
    assert mask_phone("电话13812345678，备用 15900001111") == "电话138****5678，备用 159****1111"
    assert mask_phone("订单DD202611150001") == "订单DD202611150001"  # not a phone number
    assert mask_phone("打 138 1234 5678 或 139-0000-1111") == "打 138 **** 5678 或 139-****-1111"
    assert mask_identifier("abcdef123456") == "abcd…"


def test_log_filter_masks_phone_and_ip():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s phone %s", ("198.51.100.7", "13812345678"), None)
    MaskPersonalData().filter(record)
    assert record.getMessage() == "from 198.51.*.* phone 138****5678"


def test_log_filter_masks_and_cuts_exception_text():
    body = '{"text": "我的手机号13812345678", "slots": ' + '"x" ' * 400 + "}"
    try:
        raise RuntimeError(f"500, body={body}")
    except RuntimeError:
        import sys

        record = logging.LogRecord("rasa", logging.ERROR, __file__, 1, "action failed", (), sys.exc_info())
    MaskPersonalData().filter(record)
    assert record.exc_info is None
    assert "13812345678" not in record.exc_text and "138****" in record.exc_text
    assert "characters not logged" in record.exc_text
    assert max(len(line) for line in record.exc_text.splitlines()) < 600


def test_client_ip_believes_only_trusted_proxies():
    assert client_ip("10.0.0.2", "1.2.3.4", []) == "10.0.0.2"
    assert client_ip("10.0.0.2", "6.6.6.6, 1.2.3.4", ["10.0.0.2"]) == "1.2.3.4"
    assert client_ip("10.0.0.2", "1.2.3.4, 10.0.0.3", ["10.0.0.2", "10.0.0.3"]) == "1.2.3.4"
    assert client_ip("10.0.0.2", "garbage", ["10.0.0.2"]) == "10.0.0.2"


def test_client_ids_and_user_hash():
    assert is_valid_client_id(new_client_id())
    assert not is_valid_client_id("short") and not is_valid_client_id("x" * 31 + "!")
    assert verify_user_hash("s", "u1", user_hash("s", "u1"))
    assert not verify_user_hash("s", "u1", user_hash("s", "u2"))


def test_clean_customer_text():
    assert clean_customer_text("  你好\u0000 ") == "你好"
    for bad in ("", "   ", None, "长" * 2001):
        try:
            clean_customer_text(bad)
        except InvalidMessage as exc:
            assert str(exc)
        else:
            raise AssertionError(f"accepted {bad!r}")
    assert text_for_nlu("ｄｄ２０２６  查询\n一下") == "dd2026 查询 一下"


def test_a_phone_or_id_number_typed_alone_is_an_intent_and_never_reaches_rasa():
    # Read as language, a bare number was taken for goodbye and ended the conversation.
    for phone in ("13812345678", "138 1234 5678", "138-1234-5678。"):
        assert text_for_nlu(phone) == "/inform_phone", phone
    for id_number in ("11010519491231002X", " 110105194912310021 "):
        assert text_for_nlu(id_number) == "/inform_id_number", id_number
    # Inside a sentence the ID number is masked; a phone stays (the customer may be asking
    # about it), and order numbers are untouched.
    assert "19491231" not in text_for_nlu("我身份证是11010519491231002X，帮我查订单")
    assert text_for_nlu("订单DD202611030017到哪了") == "订单DD202611030017到哪了"
    # A customer cannot type Rasa's intent commands.
    assert text_for_nlu("/request_human") == "request_human"
    assert text_for_nlu("//greet{\"order_no\": \"x\"}").startswith("greet")
