"""Issue 13, part C: personal data masked in logs and screens, security headers, health
that answers in time and tells the truth, and one rule for what agents may read."""
from __future__ import annotations

import io
import json
import logging
import time
import uuid

import httpx
import pytest

from api.models import Conversation, ConversationEvent, Customer, FollowUpTask, Message, Survey
from api.services.turn_stats import turns as turn_stats
from bot.privacy import MaskPersonalData, installation_secrets, mask_text
from tests.api.conftest import ADMIN, marked
from tests.api.test_handoff import agents, staff_client  # noqa: F401 - a fixture, a logged-in staff browser

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
PII = "我的电话号码13812345678，身份证11010519491231002X，邮箱 zhang.san@example.com，旧证110105491231002"
SECRETS = ("13812345678", "11010519491231002X", "110105491231002", "zhang.san@example.com")


# --- masking ----------------------------------------------------------------------------

def test_one_mask_for_every_kind_of_personal_data():
    masked = mask_text(PII)
    for value in SECRETS:
        assert value not in masked
    assert "138****5678" in masked and "1101**********002X" in masked and "z***@example.com" in masked
    assert mask_text("来自 203.0.113.45") == "来自 203.0.*.*"
    assert mask_text("邮箱zhang.san@example.com，电话13812345678") == "邮箱z***@example.com，电话138****5678"
    # Not personal data: order numbers, tracking numbers, amounts, dates stay readable.
    for keep in ("订单DD202611150001", "运单 SF1402938475610", "金额 1999.00", "2026-11-15 10:00"):
        assert mask_text(keep) == keep


def test_escaped_json_is_masked_too():
    """Rasa logs the message text as JSON with \\uXXXX escapes: 码 is \\u7801, whose last
    hex digit stood right before the phone number and hid it from the old pattern."""
    line = json.dumps({"event": "rest.message.received.timeout", "text": PII})
    assert "\\u7801" + "13812345678" in line
    assert "13812345678" not in mask_text(line)  # even without decoding the escapes
    out = MaskPersonalData(secrets=[]).mask(line)
    for value in SECRETS:
        assert value not in out
    assert "我的电话号码138****5678" in out  # decoded: readable and masked
    # A bytes repr and URL encoding hide the boundary the same way.
    assert "13812345678" not in mask_text(repr("码13812345678".encode()))
    assert "13812345678" not in mask_text("q=%E7%A0%8113812345678")


def test_tokens_and_secrets_are_masked():
    text = ("Authorization: Bearer s3cr3t-t0ken-value token=abcdef123456 "
            '{"app_secret": "0123456789abcdef"} postgresql+psycopg://hx:db-password@db/hx')
    out = mask_text(text)
    for value in ("s3cr3t-t0ken-value", "abcdef123456", "0123456789abcdef", "db-password"):
        assert value not in out
    env = {"HX_ADMIN_TOKEN": "tok-" + "x" * 30, "HX_ADMIN_PASSWORD": "correct horse battery",
           "HX_WECHAT_APP_ID": "wx0123456789", "HX_INTERNAL_TOKEN": "short", "PATH": "/usr/bin"}
    secrets = installation_secrets(env)
    assert set(secrets) == {"tok-" + "x" * 30, "correct horse battery"}
    out = MaskPersonalData(secrets=secrets).mask(f"login with correct horse battery as tok-{'x' * 30}")
    assert "correct horse" not in out and "x" * 30 not in out


def test_the_log_filter_masks_every_line_and_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPersonalData(secrets=["the-internal-token-value"]))
    logger = logging.getLogger("test.hardening")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("%s", json.dumps({"text": PII}))
        logger.warning("calling with Bearer %s", "the-internal-token-value")
        try:
            raise ValueError(f"bad input {PII}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for value in (*SECRETS, "the-internal-token-value"):
        assert value not in out
    assert "138****5678" in out and "ValueError" in out


# --- screens: agents and admins -----------------------------------------------------------

def escalate(client, rasa, text: str = "转人工") -> str:
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("好的，正在为您转接人工", "utter_handoff", "request_human"))
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": text})
    return conv


def test_staff_screens_mask_id_cards_and_e_mails_for_agents_and_admins(client, rasa, agents):
    conv = escalate(client, rasa)
    agent = staff_client(client, "agent1")
    assert agent.post(f"/api/staff/conversations/{conv}/claim").status_code == 200
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": PII})
    screens = {"agent": agent.get(f"/api/staff/conversations/{conv}").json(),
               "admin": client.get(f"/api/staff/conversations/{conv}", headers=ADMIN_AUTH).json(),
               "admin conversations": client.get(f"/api/conversations/{conv}", headers=ADMIN_AUTH).json()}
    customer_id = screens["admin"]["customer"]["id"]
    screens["agent timeline"] = agent.get(f"/api/customers/{customer_id}/timeline").json()
    screens["admin timeline"] = client.get(f"/api/customers/{customer_id}/timeline", headers=ADMIN_AUTH).json()
    screens["queue"] = agent.get("/api/staff/queue").json()
    # The phone number joined the customer's account: admins see it whole, agents masked.
    assert "phone:13812345678" in screens["admin"]["customer"]["identities"]
    assert "phone:1381…" in screens["agent"]["customer"]["identities"]
    screens["admin"]["customer"]["identities"] = []  # everything else is masked for admins too
    for name, body in screens.items():
        dumped = json.dumps(body, ensure_ascii=False)
        assert "138****5678" in dumped, name
        for value in SECRETS:
            assert value not in dumped, (name, value)


# --- security headers ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/chat", "/staff", "/admin", "/static/chat/chat.js", "/api/health",
                                  "/api/staff/queue", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    resp = client.get(path)
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")


def test_the_pages_have_no_inline_script_or_style():
    import re
    from pathlib import Path

    pages = list((Path(__file__).parents[2] / "api" / "static").rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text()
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, (page, script)  # no inline script
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, re.IGNORECASE), page


# --- health -----------------------------------------------------------------------------

def test_health_answers_within_a_second_when_rasa_hangs(client, rasa):
    turn_stats.reset()
    rasa.delay = 4  # Rasa (and the action server, behind the same fake) take 4 s to answer
    started = time.perf_counter()
    resp = client.get("/api/health")
    elapsed = time.perf_counter() - started
    body = resp.json()
    assert elapsed < 1.0, elapsed
    assert resp.status_code == 200 and body["status"] == "degraded"
    assert body["rasa"]["ok"] is False and body["database"]["ok"] is True
    assert any(r.startswith("Rasa slow") for r in body["reasons"]), body["reasons"]


def test_health_says_degraded_while_turns_fail(client, rasa, monkeypatch):
    turn_stats.reset()

    async def up(self, url=None):  # the probes all answer: only the turns tell
        return True, "HTTP 200"
    monkeypatch.setattr("bot.rasa_client.RasaClient.is_up", up)
    assert client.get("/api/health").json()["status"] == "ok"
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(500, json={})
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": "你好"})
    body = client.get("/api/health").json()  # at once: a new failure is not hidden by the cache
    assert body["status"] == "degraded" and body["turns"]["failed"] == 1
    assert any("bot turns failing: 1 of 1" in r for r in body["reasons"]), body["reasons"]
    turn_stats.reset()


# --- one rule for what agents read -------------------------------------------------------------

def _conversation(db, customer: Customer, text: str, **fields) -> Conversation:
    conv = Conversation(id=uuid.uuid4().hex, customer_id=customer.id, channel="web", **fields)
    db.add(conv)
    db.flush()
    db.add(Message(conversation_id=conv.id, direction="inbound", author="customer", text=text))
    return conv


def test_agents_read_the_same_conversations_on_every_route(client, db, agents):
    customer = Customer(display_name="王芳")
    db.add(customer)
    db.flush()
    others = _conversation(db, customer, "别人接待中的消息", handler="staff", assigned_staff_id=agents["agent2"])
    db.add(ConversationEvent(conversation_id=others.id, kind="claimed", staff_id=agents["agent2"]))
    mine = _conversation(db, customer, "我接待的消息", handler="staff", assigned_staff_id=agents["agent1"])
    db.add(ConversationEvent(conversation_id=mine.id, kind="claimed", staff_id=agents["agent1"]))
    waiting = _conversation(db, customer, "排队中的消息", handler="waiting")
    followed = _conversation(db, customer, "待回访的消息", status="closed")
    db.add(Survey(conversation_id=others.id, customer_id=customer.id, channel="web", stage="prospect",
                  trigger="resolved", status="completed", overall=1, comment="别人会话的差评"))
    db.add(Survey(conversation_id=followed.id, customer_id=customer.id, channel="web", stage="prospect",
                  trigger="goodbye", status="completed", overall=1, comment="待回访的差评"))
    db.flush()
    db.add(FollowUpTask(customer_id=customer.id, conversation_id=followed.id, reason="low_score", detail="待回访的差评"))
    db.add(FollowUpTask(customer_id=customer.id, conversation_id=others.id, reason="low_score",
                        detail="别人会话的差评", status="done", done_by=agents["agent2"], outcome="已回访"))
    db.commit()

    agent = staff_client(client, "agent1")
    assert agent.get(f"/api/staff/conversations/{others.id}").status_code == 404
    for conv in (mine, waiting, followed):
        assert agent.get(f"/api/staff/conversations/{conv.id}").status_code == 200, conv.id
    timeline = json.dumps(agent.get(f"/api/customers/{customer.id}/timeline").json(), ensure_ascii=False)
    assert "别人接待中的消息" not in timeline
    assert all(t in timeline for t in ("我接待的消息", "排队中的消息", "待回访的消息"))
    profile = agent.get(f"/api/staff/conversations/{mine.id}").json()["customer"]
    assert others.id not in [c["id"] for c in profile["past_conversations"]]
    assert [s["comment"] for s in profile["surveys"]] == ["待回访的差评"]
    assert [t["detail"] for t in agent.get("/api/staff/follow-ups").json()] == ["待回访的差评"]
    assert agent.get("/api/staff/follow-ups", params={"status": "done"}).json() == []
    # The agent who did it, and admins, still read it all.
    assert len(staff_client(client, "agent2").get("/api/staff/follow-ups", params={"status": "done"}).json()) == 1
    admin_timeline = json.dumps(client.get(f"/api/customers/{customer.id}/timeline", headers=ADMIN_AUTH).json(),
                                ensure_ascii=False)
    assert "别人接待中的消息" in admin_timeline
    assert client.get(f"/api/staff/conversations/{others.id}", headers=ADMIN_AUTH).status_code == 200
