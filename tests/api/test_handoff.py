"""Human handoff: escalation, the queue, claiming (also racing), replies, hand-back."""
from __future__ import annotations

import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import session as db_session
from api.models import Conversation, ConversationEvent
from api.services import handoff
from api.services.auth import Principal, create_staff
from api.services.escalation import escalation_reason
from tests.api.conftest import ADMIN, marked

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def agents(db):
    a = create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    b = create_staff(db, "agent2", "agent-password-2", "agent", "小王")
    db.commit()
    return {"agent1": a.id, "agent2": b.id}


def staff_client(client, username: str) -> TestClient:
    """Another browser, logged in as this staff member."""
    other = TestClient(client.app)
    resp = other.post("/api/auth/login", json={"username": username, "password": f"{username.replace('agent', 'agent-password-')}"})
    assert resp.status_code == 200, resp.text
    other.headers.update(FETCH)
    return other


def customer_asks_for_a_person(client, rasa) -> str:
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("好的，正在为您转接人工", "utter_handoff", "request_human"))
    replies = client.post(f"/api/web/conversations/{conv}/messages", json={"text": "转人工"}).json()["replies"]
    assert replies[-1]["author"] == "system" and "转接人工客服" in replies[-1]["text"]
    return conv


@pytest.mark.parametrize("kwargs, reason", [
    (dict(templates=["utter_handoff"], intent="request_human"), "handoff_requested"),
    (dict(templates=["utter_default"], intent="nlu_fallback", previous_bot_template="utter_default"),
     "repeated_fallback"),
    (dict(templates=["utter_default"], intent="nlu_fallback", previous_bot_template="utter_greet"), None),
    (dict(templates=["utter_complain"], intent="complain", stage="at_risk"), "priority_complaint"),
    (dict(templates=["utter_complain"], intent="complain", persona="high_value"), "priority_complaint"),
    (dict(templates=["utter_complain"], intent="complain", stage="new", text="你们这什么破服务，气死我了，再也不买了"),
     "strongly_negative"),
    # A complaint the sentiment model does not read as angry stays with the bot.
    (dict(templates=["utter_complain"], intent="complain", stage="new", text="发错货了，帮我看看"), None),
    (dict(templates=["utter_delivery"], intent="ask_delivery", stage="at_risk"), None),
])
def test_escalation_rules(kwargs, reason):
    args = dict(previous_bot_template=None, stage="new", persona=None, text="你好")
    args.update(kwargs)
    assert escalation_reason(**args) == reason


def test_the_queue_tells_customers_their_place(client, rasa):
    customer_asks_for_a_person(client, rasa)
    client.cookies.clear()
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    replies = client.post(f"/api/web/conversations/{conv}/messages", json={"text": "人工"}).json()["replies"]
    assert "前面还有 1 位" in replies[-1]["text"]


def test_a_whole_takeover(client, rasa, agents, db):
    conv = customer_asks_for_a_person(client, rasa)
    asked = len(rasa.requests)
    # While waiting, the bot is not asked.
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": "有人吗"})
    assert len(rasa.requests) == asked

    agent = staff_client(client, "agent1")
    queue = agent.get("/api/staff/queue").json()
    assert [i["conversation_id"] for i in queue["waiting"]] == [conv] and queue["waiting"][0]["position"] == 1
    assert queue["waiting"][0]["reason"] == "handoff_requested"
    assert agent.post(f"/api/staff/conversations/{conv}/claim").status_code == 200
    assert agent.get("/api/staff/queue").json()["mine"][0]["conversation_id"] == conv

    reply = agent.post(f"/api/staff/conversations/{conv}/messages", json={"text": "您好，我是小李"})
    assert reply.status_code == 201
    agent.post(f"/api/staff/conversations/{conv}/notes", json={"text": "客户着急，优先处理"})
    # The customer sees the staff reply (and that a person joined); never the note.
    seen = client.get(f"/api/web/conversations/{conv}/messages").json()
    assert seen["conversation"]["handler"] == "staff"
    texts = [m["text"] for m in seen["messages"]]
    assert "您好，我是小李" in texts and any("小李" in t and "已接入" in t for t in texts)
    assert not any("优先处理" in t for t in texts)
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": "我的快递丢了"})
    assert len(rasa.requests) == asked  # a person has it: the bot stays silent

    # Handing back: the bot answers the message the customer sent meanwhile.
    rasa.reply = lambda body: httpx.Response(200, json=marked("我来帮您查快递", "utter_delivery", "ask_delivery"))
    assert agent.post(f"/api/staff/conversations/{conv}/hand-back").status_code == 200
    assert len(rasa.requests) == asked + 1 and rasa.requests[-1]["message"] == "我的快递丢了"
    after = client.get(f"/api/web/conversations/{conv}/messages").json()
    assert after["conversation"]["handler"] == "bot" and after["messages"][-1]["text"] == "我来帮您查快递"

    kinds = [e.kind for e in db.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conv)
                                        .order_by(ConversationEvent.id))]
    assert kinds == ["escalated", "claimed", "staff_reply", "note", "handed_back"]


def test_two_agents_claiming_at_once_one_wins(client, rasa, agents):
    conv = customer_asks_for_a_person(client, rasa)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def try_claim(staff_id: int, name: str) -> None:
        with db_session.get_sessionmaker()() as db:
            target = db.get(Conversation, conv)
            barrier.wait()
            try:
                handoff.claim(db, target, Principal(staff_id, name, name, "agent"))
                results.append(name)
            except handoff.HandoffConflict as exc:
                results.append(str(exc))

    threads = [threading.Thread(target=try_claim, args=(agents[n], n)) for n in ("agent1", "agent2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r in agents]
    assert len(winners) == 1
    loser = next(r for r in results if r not in agents)
    assert "已由" in loser and "接入" in loser
    # And the loser, over HTTP, is told who has it and cannot reply.
    other = "agent2" if winners[0] == "agent1" else "agent1"
    agent = staff_client(client, other)
    late = agent.post(f"/api/staff/conversations/{conv}/claim")
    assert late.status_code == 409 and "已由" in late.json()["detail"]
    assert agent.post(f"/api/staff/conversations/{conv}/messages", json={"text": "x"}).status_code == 404


def test_resolve_closes_and_an_admin_may_release_but_not_reply(client, rasa, agents):
    conv = customer_asks_for_a_person(client, rasa)
    agent = staff_client(client, "agent1")
    agent.post(f"/api/staff/conversations/{conv}/claim")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get(f"/api/staff/conversations/{conv}", headers=admin).status_code == 200
    assert client.post(f"/api/staff/conversations/{conv}/messages", json={"text": "x"}, headers=admin).status_code == 409
    assert agent.post(f"/api/staff/conversations/{conv}/resolve").status_code == 200
    seen = client.get(f"/api/web/conversations/{conv}/messages").json()
    assert seen["conversation"]["status"] == "closed"
    assert [m["author"] for m in seen["messages"][-3:]] == ["system", "bot", "bot"]  # then the survey
    assert "服务已结束" in seen["messages"][-3]["text"]
    assert agent.post(f"/api/staff/conversations/{conv}/hand-back").status_code == 409


def test_dedicated_staff_get_their_customers_first(client, rasa, agents, db):
    admin = {"Authorization": f"Bearer {ADMIN}"}
    bad = client.post("/api/staff/routes", json={"staff_id": agents["agent2"], "stage": "vip"}, headers=admin)
    assert bad.status_code == 422 and "未知的阶段" in bad.json()["detail"]
    route = client.post("/api/staff/routes", json={"staff_id": agents["agent2"], "stage": "prospect"}, headers=admin)
    assert route.status_code == 201 and route.json()["staff_name"] == "小王"
    conv = customer_asks_for_a_person(client, rasa)
    first = staff_client(client, "agent1")
    refused = first.post(f"/api/staff/conversations/{conv}/claim")
    assert refused.status_code == 409 and "专属客服" in refused.json()["detail"]
    dedicated = staff_client(client, "agent2")
    assert dedicated.get("/api/staff/queue").json()["waiting"][0]["preferred_staff_id"] == agents["agent2"]
    assert dedicated.post(f"/api/staff/conversations/{conv}/claim").status_code == 200


def test_agents_see_only_what_they_may(client, rasa, agents):
    conv = customer_asks_for_a_person(client, rasa)
    first, second = staff_client(client, "agent1"), staff_client(client, "agent2")
    assert second.get(f"/api/staff/conversations/{conv}").status_code == 200  # waiting: anyone may look
    first.post(f"/api/staff/conversations/{conv}/claim")
    assert second.get(f"/api/staff/conversations/{conv}").status_code == 404
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": "我电话13912345678"})
    detail = first.get(f"/api/staff/conversations/{conv}").json()
    assert detail["customer"]["stage"] == "prospect" and detail["conversation"]["handler"] == "staff"
    # Agents see personal data masked; admins, who may call the customer back, see it whole.
    assert "phone:1391…" in detail["customer"]["identities"] and "139****5678" in detail["messages"][-1]["text"]
    admin = client.get(f"/api/staff/conversations/{conv}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert "phone:13912345678" in admin["customer"]["identities"]
    assert second.get("/api/staff/queue").json()["others"] == []  # only admins see others' chats


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/staff/queue"), ("GET", "/api/staff/conversations/x"),
    ("POST", "/api/staff/conversations/x/claim"), ("POST", "/api/staff/conversations/x/messages"),
    ("POST", "/api/staff/conversations/x/notes"), ("POST", "/api/staff/conversations/x/hand-back"),
    ("POST", "/api/staff/conversations/x/resolve"), ("POST", "/api/staff/conversations/x/take-over"),
    ("GET", "/api/staff/canned-replies"), ("POST", "/api/staff/canned-replies"),
    ("DELETE", "/api/staff/canned-replies/1"), ("GET", "/api/staff/routes"), ("POST", "/api/staff/routes"),
    ("DELETE", "/api/staff/routes/1"),
])
def test_every_staff_route_needs_a_login(client, method, path):
    assert client.request(method, path, json={"text": "x", "title": "x"}).status_code == 401


def test_admin_only_routes(client, rasa, agents):
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    agent = staff_client(client, "agent1")
    assert agent.post(f"/api/staff/conversations/{conv}/take-over").status_code == 403
    assert agent.post("/api/staff/canned-replies", json={"title": "问候", "text": "您好"}).status_code == 403
    assert agent.get("/api/staff/routes").status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.post("/api/staff/canned-replies", json={"title": "问候", "text": "您好"}, headers=admin).status_code == 201
    assert [c["title"] for c in agent.get("/api/staff/canned-replies").json()] == ["问候"]


def test_an_admin_steps_into_a_bot_conversation(client, rasa, db):
    create_staff(db, "lead", "lead-password-1", "admin", "店长")
    db.commit()
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    token = {"Authorization": f"Bearer {ADMIN}"}
    # The API token is not a person: it cannot hold a conversation, and nothing changes.
    assert client.post(f"/api/staff/conversations/{conv}/take-over", headers=token).status_code == 409
    assert client.get(f"/api/web/conversations/{conv}/messages").json()["conversation"]["handler"] == "bot"
    lead = TestClient(client.app)
    assert lead.post("/api/auth/login", json={"username": "lead", "password": "lead-password-1"}).status_code == 200
    assert lead.post(f"/api/staff/conversations/{conv}/take-over", headers=FETCH).status_code == 200
    seen = client.get(f"/api/web/conversations/{conv}/messages").json()
    assert seen["conversation"]["handler"] == "staff" and "店长" in seen["messages"][-1]["text"]
