"""Every route of the app × anonymous / customer (web cookie) / agent / admin, each with a
foreign object: another customer's conversation, another agent's claimed conversation.
No call a role is not entitled to may answer 2xx, and nothing an agent or customer is
entitled to call may show them the foreign conversation's messages.

``ACCESS`` is the table of which role each route needs. A route the table does not cover
fails the test: a new route must be placed in it (and so get thought about).
"""
from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.models import Conversation, ConversationEvent, Customer, Message
from api.services.auth import create_staff
from tests.api.conftest import marked

FETCH = {"X-Requested-With": "fetch"}
ANY = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

# (methods, path, role). First match wins; a path ending in "*" is a prefix.
# Roles: public (anyone), customer (the web chat's cookie, own conversations only),
# staff (agents and admins; agents only the conversations api/services/access.py lets
# them read), admin, internal (Rasa and the action server's bearer token), signed
# (WeChat's signature). Nobody of the four roles is "internal" or "signed".
ACCESS: list[tuple[frozenset[str], str, str]] = [
    (ANY, "/api/web/session", "public"),
    (ANY, "/api/web/survey", "public"),
    (ANY, "/api/web/*", "customer"),
    (ANY, "/api/health", "public"),
    (ANY, "/api/auth/login", "public"),
    (ANY, "/api/auth/logout", "public"),
    (ANY, "/api/auth/me", "staff"),
    (ANY, "/api/staff-users*", "admin"),
    (ANY, "/api/admin/*", "admin"),
    (ANY, "/api/orders", "admin"),
    (ANY, "/api/customers/{customer_id}/orders", "admin"),
    (ANY, "/api/customers/{customer_id}/stage-history", "admin"),
    (ANY, "/api/conversations*", "admin"),
    (frozenset({"POST"}), "/api/merges/{merge_id}/undo", "admin"),
    (frozenset({"POST", "DELETE"}), "/api/staff/canned-replies*", "admin"),
    (ANY, "/api/staff/routes*", "admin"),
    (ANY, "/api/staff/conversations/{conversation_id}/take-over", "admin"),
    (ANY, "/api/staff/*", "staff"),
    (ANY, "/api/customers*", "staff"),
    (ANY, "/api/merges*", "staff"),
    (ANY, "/internal/*", "internal"),
    (ANY, "/nlg", "internal"),
    (ANY, "/wechat/*", "signed"),
    (ANY, "/static", "public"),
    (ANY, "/openapi.json", "public"),
    (ANY, "/docs*", "public"),
    (ANY, "/redoc", "public"),
    (ANY, "/", "public"),
    (ANY, "/chat", "public"),
    (ANY, "/staff", "public"),
    (ANY, "/admin", "public"),
]
ALLOWED = {"public": {"anonymous", "customer", "agent", "admin"}, "customer": {"customer"},
           "staff": {"agent", "admin"}, "admin": {"admin"}, "internal": set(), "signed": set()}
ROLES = ("anonymous", "customer", "agent", "admin")
# Endpoints that stream for as long as the caller listens: called only where refused.
STREAMS = {"/api/staff/events", "/api/web/conversations/{conversation_id}/events"}
# Plausible bodies, so that a missing check would let the write through.
BODIES = {
    "/api/web/conversations/{conversation_id}/messages": {"text": "你好"},
    "/api/web/conversations/{conversation_id}/survey": {"overall": 1},
    "/api/staff/conversations/{conversation_id}/messages": {"text": "您好"},
    "/api/staff/conversations/{conversation_id}/notes": {"text": "备注"},
    "/api/staff/canned-replies": {"title": "问候", "text": "您好"},
    "/api/staff/follow-ups/{task_id}/done": {"outcome": "已回访"},
    "/api/customers/{target_id}/merge": {"source_id": 1},
    "/api/staff-users": {"username": "intruder", "password": "intruder-password-1", "role": "admin",
                         "display_name": "入侵者"},
    "/api/admin/analytics/loop/variants/{variant_id}/mode": {"mode": "pinned"},
    "/api/admin/analytics/loop/offers/{offer_id}/mode": {"mode": "pinned"},
    "/internal/conversations/{conversation_id}/survey": {"overall": 1},
    "/nlg": {"response": "utter_greet", "arguments": {}, "tracker": {"sender_id": "x", "slots": {}}},
}


def rule_for(method: str, path: str) -> str | None:
    for methods, pattern, role in ACCESS:
        if method not in methods:
            continue
        if pattern.endswith("*") and path.startswith(pattern[:-1]) or path == pattern:
            return role
    return None


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD aside); mounts as ("*", path)."""
    found = []
    for context in iter_route_contexts(app.routes):
        methods = getattr(context.original_route, "methods", None) or getattr(context, "methods", None)
        path = context.path
        if not methods:
            found.append(("*", path))
            continue
        found.extend((m, path) for m in sorted(methods) if m != "HEAD")
    return sorted(set(found))


def test_every_route_is_in_the_access_table(client):
    uncovered = [(m, p) for m, p in routes(client.app)
                 if rule_for("GET" if m == "*" else m, p) is None]
    assert not uncovered, f"routes missing from ACCESS in {__file__}: {uncovered}"
    used = {pattern for m, p in routes(client.app) for methods, pattern, _ in ACCESS
            if (m in methods or m == "*") and (p == pattern or pattern.endswith("*") and p.startswith(pattern[:-1]))}
    assert not [p for _, p, _ in ACCESS if p not in used], "rules in ACCESS that match no route"


@pytest.fixture
def world(client, rasa, db):
    """Customer A (the caller), customer B's conversation, and customer C's conversation
    claimed by agent2; each foreign conversation holds a marker no caller may see."""
    marker_b, marker_c = f"甲乙{uuid.uuid4().hex[:8]}", f"丙丁{uuid.uuid4().hex[:8]}"
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好", "utter_greet"))

    customer = TestClient(client.app)
    own = customer.post("/api/web/session", json={}).json()["conversation"]["id"]
    other = TestClient(client.app)
    conv_b = other.post("/api/web/session", json={}).json()["conversation"]["id"]
    assert other.post(f"/api/web/conversations/{conv_b}/messages", json={"text": marker_b}).status_code == 200
    customer_b = db.get(Conversation, conv_b).customer_id

    create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    agent2 = create_staff(db, "agent2", "agent-password-2", "agent", "小王")
    create_staff(db, "boss", "boss-password-1", "admin", "店长")
    customer_c = Customer(display_name="丙")
    db.add(customer_c)
    db.flush()
    conv_c = Conversation(id=uuid.uuid4().hex, customer_id=customer_c.id, channel="web", handler="staff",
                          assigned_staff_id=agent2.id)
    db.add(conv_c)
    db.flush()
    db.add_all([ConversationEvent(conversation_id=conv_c.id, kind="claimed", staff_id=agent2.id),
                Message(conversation_id=conv_c.id, direction="inbound", author="customer", text=marker_c)])
    db.commit()

    def staff_client(username: str, password: str) -> TestClient:
        c = TestClient(client.app)
        assert c.post("/api/auth/login", json={"username": username, "password": password}).status_code == 200
        c.headers.update(FETCH)
        return c

    clients = {"anonymous": TestClient(client.app), "customer": customer,
               "agent": staff_client("agent1", "agent-password-1"), "admin": staff_client("boss", "boss-password-1")}
    # The foreign objects each role is given: the conversation and customer not theirs.
    foreign = {"anonymous": (conv_b, customer_b), "customer": (conv_b, customer_b),
               "agent": (conv_c.id, customer_c.id), "admin": (conv_c.id, customer_c.id)}
    return {"clients": clients, "foreign": foreign, "own": own,
            "markers": {"anonymous": [marker_b, marker_c], "customer": [marker_b, marker_c], "agent": [marker_c]}}


def _url(path: str, conversation_id: str, customer_id: int) -> str:
    values = {"conversation_id": conversation_id, "customer_id": str(customer_id), "target_id": str(customer_id)}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def test_no_role_gets_2xx_where_it_is_not_entitled(client, world):
    refused_but_2xx, leaks, calls = [], [], 0
    for method, path in routes(client.app):
        if method == "*":  # the static files' mount: public
            continue
        role_needed = rule_for(method, path)
        for role in ROLES:
            conversation_id, customer_id = world["foreign"][role]
            entitled = role in ALLOWED[role_needed]
            object_is_foreign = "{conversation_id}" in path and role != "admin"
            should_refuse = not entitled or object_is_foreign
            if not should_refuse and (method != "GET" or path in STREAMS or role == "admin"):
                continue  # entitled writes and admin reads are other tests' business
            resp = world["clients"][role].request(method, _url(path, conversation_id, customer_id),
                                                  json=BODIES.get(path) if method != "GET" else None)
            calls += 1
            if should_refuse and 200 <= resp.status_code < 300:
                refused_but_2xx.append((role, method, path, resp.status_code))
            elif 200 <= resp.status_code < 300:
                body = resp.text
                leaks += [(role, method, path, m) for m in world["markers"].get(role, []) if m in body]
    assert calls > 100
    assert not refused_but_2xx, json.dumps(refused_but_2xx, ensure_ascii=False, indent=1)
    assert not leaks, leaks


def test_the_customer_and_the_agent_still_reach_their_own(client, world):
    """The matrix refuses the foreign objects; the same calls on their own succeed."""
    own = world["own"]
    assert world["clients"]["customer"].get(f"/api/web/conversations/{own}/messages").status_code == 200
    agent = world["clients"]["agent"]
    assert agent.get("/api/staff/queue").status_code == 200
    _, customer_c = world["foreign"]["agent"]
    timeline = agent.get(f"/api/customers/{customer_c}/timeline")
    assert timeline.status_code == 200 and world["markers"]["agent"][0] not in timeline.text
    admin = world["clients"]["admin"]
    conv_c, _ = world["foreign"]["admin"]
    assert world["markers"]["agent"][0] in admin.get(f"/api/staff/conversations/{conv_c}").text
