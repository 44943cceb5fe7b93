"""Faults on the real stack: nothing a customer says is lost. Runs last (it stops parts)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from api.services.turn import BOT_UNAVAILABLE_TEXT
from tests.e2e.conftest import member_login, say, start

pytestmark = pytest.mark.e2e


def test_action_server_down_still_answers_politely(stack, customer, staff):
    stack.stop("actions")
    try:
        conv = start(customer, member_login(stack, "demo-1002"))["conversation"]["id"]
        turn = say(customer, conv, "我的订单DD202611200003到哪了")
        assert turn["replies"], "the customer must get an answer"
        detail = staff.get(f"/api/conversations/{conv}").json()
        assert detail["messages"][0]["text"] == "我的订单DD202611200003到哪了"
        assert detail["needs_attention"]
        assert customer.get("/api/health").json()["action_server"]["ok"] is False
    finally:
        stack.start_actions()
        stack.wait_ready(60)


def test_rasa_slower_than_deadline_gets_fallback_within_deadline(stack, customer, staff):
    conv = start(customer)["conversation"]["id"]
    pid = stack.procs["rasa"].pid
    os.kill(pid, signal.SIGSTOP)  # Rasa hangs: accepts nothing, answers nothing
    try:
        started = time.monotonic()
        turn = say(customer, conv, "我的快递怎么还没到")
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert turn["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT
    assert 4.5 < elapsed < 8, elapsed
    detail = staff.get(f"/api/conversations/{conv}").json()
    assert detail["attention_reason"] == "bot_unavailable"
    assert detail["messages"][0]["text"] == "我的快递怎么还没到"


def test_rasa_stopped_message_is_kept_and_customer_told(stack, customer, staff):
    conv = start(customer)["conversation"]["id"]
    stack.stop("rasa")
    turn = say(customer, conv, "你好，我要退款")
    assert turn["replies"][0]["author"] == "system"
    assert turn["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT
    detail = staff.get(f"/api/conversations/{conv}").json()
    texts = [m["text"] for m in detail["messages"]]
    assert texts[:2] == ["你好，我要退款", BOT_UNAVAILABLE_TEXT] and "转接人工客服" in texts[2]
    assert detail["needs_attention"] and detail["attention_reason"] == "bot_unavailable"
    assert detail["handler"] == "waiting"  # in the staff queue
    flagged = staff.get("/api/conversations", params={"needs_attention": True}).json()
    assert conv in [c["id"] for c in flagged["items"]]
    health = customer.get("/api/health").json()
    assert health["status"] == "degraded" and health["rasa"]["ok"] is False
