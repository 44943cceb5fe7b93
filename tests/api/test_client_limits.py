"""Who a client is and how much it may do: the client's address (X-Forwarded-For only
from trusted proxies), server-issued signed client ids, and the per-client limits of
api/services/rate_limits.py (messages per customer, new sessions and queue entries per
address), each refused with 429, Chinese, Retry-After and nothing written."""
from __future__ import annotations

import types
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.core.config import get_settings
from api.db.base import utcnow
from api.models import Conversation, ConversationEvent, Customer, CustomerIdentity, Message
from api.services import handoff, rate_limits
from api.services.conversations import new_conversation_id
from api.services.identity import (
    client_cookie,
    client_digest,
    client_id_from_cookie,
    client_ip,
    customer_id_for_client,
    issued_client_id,
    new_client_id,
)
from tests.api.conftest import marked


def count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def limit(monkeypatch, **values) -> None:
    """Set HX_… limits for this test (the fixtures set generous ones)."""
    for name, value in values.items():
        monkeypatch.setenv(f"HX_{name.upper()}", str(value))
    get_settings.cache_clear()


class Clock:
    """The rate limits' clock, moved by hand."""

    def __init__(self, monkeypatch, start: float = 1_800_000_000.0):
        self.now = start
        monkeypatch.setattr(rate_limits, "time", types.SimpleNamespace(time=lambda: self.now))

    def move(self, seconds: float) -> None:
        self.now += seconds


def browser(client, address: str) -> TestClient:
    """Another browser (own cookie jar) of the same app, connecting from ``address``."""
    return TestClient(client.app, client=(address, 40000))


def send(c, conv_id: str, text: str):
    return c.post(f"/api/web/conversations/{conv_id}/messages", json={"text": text})


# --- the store ---------------------------------------------------------------------------------

def test_memory_store_counts_a_sliding_window():
    store = rate_limits.MemoryStore()
    assert [store.take("k", 3, 10, t) for t in (0, 1, 2)] == [0, 0, 0]
    assert store.take("k", 3, 10, 5) == pytest.approx(5)  # the first one leaves the window at 10
    assert store.wait("k", 3, 10, 9.5) == pytest.approx(0.5)
    assert store.take("k", 3, 10, 10) == 0  # refused takes were not counted
    assert store.take("other", 3, 10, 5) == 0  # keys are apart
    assert store.record("f", 60, 0) == 1 and store.record("f", 60, 30) == 2 and store.record("f", 60, 61) == 2
    store.clear("f")
    assert store.record("f", 60, 62) == 1


def test_a_zero_limit_is_no_limit():
    off = rate_limits.Limit("x", 0, 60, "…")
    for _ in range(100):
        rate_limits.take(off, "someone")


# --- the client's address ----------------------------------------------------------------------

def test_forwarded_for_is_believed_only_from_trusted_proxies():
    assert client_ip("127.0.0.1", "203.0.113.9", []) == "127.0.0.1"  # a local client is no proxy
    assert client_ip("10.1.2.3", "203.0.113.9", ["10.0.0.0/8"]) == "203.0.113.9"
    assert client_ip("10.1.2.3", "198.51.100.1, 203.0.113.9, 10.9.9.9", ["10.0.0.0/8"]) == "203.0.113.9"
    assert client_ip("11.1.2.3", "203.0.113.9", ["10.0.0.0/8", "not-a-network/x"]) == "11.1.2.3"


def test_a_local_client_cannot_choose_its_address(client, db):
    local = browser(client, "127.0.0.1")
    body = local.post("/api/web/session", json={}, headers={"X-Forwarded-For": "203.0.113.77"}).json()
    customer = db.get(Customer, body["customer"]["id"])
    assert customer.first_ip == customer.last_ip == "127.0.0.1"


def test_behind_a_trusted_proxy_the_forwarded_address_is_stored(client, db, monkeypatch):
    limit(monkeypatch, trusted_proxies='["127.0.0.1"]')
    proxied = browser(client, "127.0.0.1")
    body = proxied.post("/api/web/session", json={}, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.77"}).json()
    assert db.get(Customer, body["customer"]["id"]).last_ip == "203.0.113.77"


def test_varied_forwarded_for_headers_do_not_escape_the_login_limit(client, settings_env):
    local = browser(client, "127.0.0.1")
    for n in range(settings_env.rate_failed_logins_per_address):
        resp = local.post("/api/auth/login", json={"username": f"user{n}", "password": "wrong"},
                          headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert resp.status_code == 401
    blocked = local.post("/api/auth/login", json={"username": "x", "password": "wrong"},
                         headers={"X-Forwarded-For": "192.0.2.200"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


# --- server-issued client ids ----------------------------------------------------------------------

def test_the_cookie_is_a_signed_server_made_id_and_only_its_digest_is_stored(client, db):
    resp = client.post("/api/web/session", json={})
    cookie = resp.cookies.get("hx_cid")
    client_id = issued_client_id(cookie)
    assert client_id and cookie == client_cookie(client_id)
    stored = db.scalars(select(CustomerIdentity.value).where(CustomerIdentity.kind == "web_client")).all()
    assert stored == [client_digest(client_id)]  # SHA-256 of the client id, as before signing


@pytest.mark.parametrize("chosen", [
    "A" * 40,  # well-formed, unsigned, never issued
    "B" * 32 + "." + "C" * 43,  # signed-looking, wrong MAC
    client_cookie("D" * 32, secret="another-server"),  # signed with another key
    "short",
])
def test_a_client_chosen_cookie_is_ignored_and_a_fresh_one_issued(client, db, chosen):
    client.cookies.set("hx_cid", chosen)
    first = client.post("/api/web/session", json={})
    issued = first.cookies.get("hx_cid")
    assert issued != chosen and issued_client_id(issued) is not None
    digests = db.scalars(select(CustomerIdentity.value).where(CustomerIdentity.kind == "web_client")).all()
    assert digests == [client_digest(issued_client_id(issued))]
    assert client_digest(chosen) not in digests and client_digest(chosen.split(".")[0]) not in digests
    # The made-up cookie names nobody on the other routes either.
    fresh = TestClient(client.app)
    fresh.cookies.set("hx_cid", chosen)
    assert fresh.get(f"/api/web/conversations/{first.json()['conversation']['id']}/messages").status_code == 401


def test_a_forged_signature_for_a_real_id_gets_nothing(client, db):
    real = client.post("/api/web/session", json={})
    client_id = issued_client_id(real.cookies.get("hx_cid"))
    forged = f"{client_id}.{'A' * 43}"
    assert customer_id_for_client(db, forged) is None and client_id_from_cookie(db, forged) is None
    thief = TestClient(client.app)
    thief.cookies.set("hx_cid", forged)
    assert thief.get(f"/api/web/conversations/{real.json()['conversation']['id']}/messages").status_code == 401
    assert thief.post("/api/web/session", json={}).json()["customer"]["id"] != real.json()["customer"]["id"]


def test_an_unsigned_cookie_the_server_issued_before_still_works_and_is_signed(client, db):
    legacy = new_client_id()  # what the server used to set as the cookie, stored as its digest
    customer = Customer(first_seen_at=utcnow(), last_seen_at=utcnow())
    db.add(CustomerIdentity(kind="web_client", value=client_digest(legacy), customer=customer))
    db.commit()
    client.cookies.set("hx_cid", legacy)
    conv = client.get("/api/web/conversations/none/messages")
    assert conv.status_code == 404  # recognised (a stranger gets 401), just no such conversation
    resp = client.post("/api/web/session", json={})
    assert resp.json()["customer"]["id"] == customer.id
    assert resp.cookies.get("hx_cid") == client_cookie(legacy)
    assert count(db, CustomerIdentity) == 1


# --- messages per customer ------------------------------------------------------------------------------

def test_messages_over_the_limit_are_refused_and_not_stored(client, db, rasa, monkeypatch):
    limit(monkeypatch, rate_messages_per_customer=3, rate_messages_window_seconds=10)
    clock = Clock(monkeypatch)
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好！", "utter_greet"))
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    assert [send(client, conv, f"第{n}条").status_code for n in range(3)] == [200] * 3
    stored = count(db, Message)
    refused = send(client, conv, "第4条")
    assert refused.status_code == 429
    assert "太频繁" in refused.json()["detail"] and 1 <= int(refused.headers["Retry-After"]) <= 10
    assert count(db, Message) == stored and len(rasa.requests) == 3  # nothing stored, bot not asked
    # Another customer is not slowed down by this one.
    other = TestClient(client.app)
    other_conv = other.post("/api/web/session", json={}).json()["conversation"]["id"]
    assert send(other, other_conv, "你好").status_code == 200
    clock.move(10)
    resent = send(client, conv, "第4条")  # the page kept it and sends it again
    assert resent.status_code == 200 and resent.json()["message"]["text"] == "第4条"


def test_a_hundred_messages_in_ten_seconds_are_not_all_taken(client, db, rasa, monkeypatch):
    limit(monkeypatch, rate_messages_per_customer=20, rate_messages_window_seconds=60)
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好！", "utter_greet"))
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    codes = [send(client, conv, f"刷屏{n}").status_code for n in range(100)]
    assert codes.count(200) == 20 and codes.count(429) == 80
    assert count(db, Message, Message.author == "customer") == 20


# --- new sessions per address -----------------------------------------------------------------------------

def test_new_sessions_per_address_are_limited_and_nothing_written(client, db, monkeypatch):
    limit(monkeypatch, rate_new_sessions_per_address=3, rate_new_sessions_window_seconds=600)
    clock = Clock(monkeypatch)
    known = browser(client, "192.0.2.10")
    assert known.post("/api/web/session", json={}).status_code == 200
    for _ in range(2):
        assert browser(client, "192.0.2.10").post("/api/web/session", json={}).status_code == 200
    before = (count(db, Customer), count(db, CustomerIdentity), count(db, Conversation))
    refused = browser(client, "192.0.2.10").post("/api/web/session", json={})
    assert refused.status_code == 429 and "会话过于频繁" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 600 and "hx_cid" not in refused.cookies
    assert (count(db, Customer), count(db, CustomerIdentity), count(db, Conversation)) == before
    # A made-up cookie is a new browser too.
    fake = browser(client, "192.0.2.10")
    fake.cookies.set("hx_cid", "Z" * 40)
    assert fake.post("/api/web/session", json={}).status_code == 429
    # A returning browser (a reload) is not a new session; another address is not limited.
    assert known.post("/api/web/session", json={}).status_code == 200
    assert browser(client, "192.0.2.11").post("/api/web/session", json={}).status_code == 200
    clock.move(600)
    assert browser(client, "192.0.2.10").post("/api/web/session", json={}).status_code == 200


# --- queue entries per address -------------------------------------------------------------------------------

def asks_for_a_person(c, rasa):
    conv = c.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("好的，正在为您转接人工", "utter_handoff", "request_human"))
    resp = send(c, conv, "转人工")
    assert resp.status_code == 200  # the message is taken either way
    return conv, resp.json()["replies"]


def test_queue_entries_per_address_are_limited_politely(client, db, rasa, monkeypatch):
    limit(monkeypatch, rate_escalations_per_address=2, rate_escalations_window_seconds=600)
    for _ in range(2):
        _, replies = asks_for_a_person(browser(client, "192.0.2.20"), rasa)
        assert "转接人工客服" in replies[-1]["text"]
    conv, replies = asks_for_a_person(browser(client, "192.0.2.20"), rasa)
    assert replies[-1]["author"] == "system" and replies[-1]["text"] == handoff.STAFF_BUSY_TEXT
    db.expire_all()
    refused = db.get(Conversation, conv)
    assert refused.handler == "bot" and refused.escalated_at is None
    assert count(db, Conversation, Conversation.handler == "waiting") == 2
    assert count(db, Message, Message.conversation_id == conv, Message.author == "customer") == 1
    assert db.scalars(select(ConversationEvent.kind).where(ConversationEvent.conversation_id == conv)).all() \
        == ["queue_limited"]
    # Customers from elsewhere still reach a person.
    _, replies = asks_for_a_person(browser(client, "192.0.2.21"), rasa)
    assert "转接人工客服" in replies[-1]["text"]


def conversation(db, customer: Customer, channel: str = "web") -> Conversation:
    if customer.id is None:
        db.add(customer)
        db.flush()
    conv = Conversation(id=new_conversation_id(), customer_id=customer.id, channel=channel)
    db.add(conv)
    db.flush()
    return conv


def test_queue_entry_limit_with_a_moved_clock(db, monkeypatch):
    limit(monkeypatch, rate_escalations_per_address=1, rate_escalations_window_seconds=600)
    now = utcnow()
    convs = [conversation(db, Customer(first_seen_at=now, last_seen_at=now, last_ip="192.0.2.30"))
             for _ in range(3)]
    assert "转接" in handoff.escalate(db, convs[0], "handoff_requested", now=now).text
    assert handoff.escalate(db, convs[1], "handoff_requested", now=now + timedelta(seconds=599)).text \
        == handoff.STAFF_BUSY_TEXT
    assert convs[1].handler == "bot"
    # A staff member taking over a conversation is not a customer entering the queue.
    assert handoff.escalate(db, convs[1], "staff_takeover", now=now + timedelta(seconds=599)) is not None
    assert convs[1].handler == "waiting"
    assert "转接" in handoff.escalate(db, convs[2], "handoff_requested", now=now + timedelta(seconds=600)).text
    db.rollback()


def test_wechat_customers_without_an_address_are_limited_each_on_their_own(db, monkeypatch):
    monkeypatch.setenv("HX_RATE_ESCALATIONS_PER_ADDRESS", "1")
    get_settings.cache_clear()
    now = utcnow()
    a, b = Customer(first_seen_at=now, last_seen_at=now), Customer(first_seen_at=now, last_seen_at=now)
    first, second, third = (conversation(db, a, "wechat"), conversation(db, b, "wechat"), conversation(db, a, "wechat"))
    assert handoff.escalate(db, first, "handoff_requested", now=now).text != handoff.STAFF_BUSY_TEXT
    assert handoff.escalate(db, second, "handoff_requested", now=now).text != handoff.STAFF_BUSY_TEXT
    assert handoff.escalate(db, third, "handoff_requested", now=now).text == handoff.STAFF_BUSY_TEXT
    db.rollback()
