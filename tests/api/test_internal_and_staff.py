"""The action server's internal API and the staff API: auth, scoping, masking."""
from __future__ import annotations

import httpx

from demo.members import seed
from tests.api.conftest import ADMIN, INTERNAL, marked, signed

AUTH_INTERNAL = {"Authorization": f"Bearer {INTERNAL}"}
AUTH_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


def member_id(client, user_id="demo-1001") -> int:
    return client.post("/api/web/session", json=signed(user_id)).json()["customer"]["id"]


def test_orders_are_scoped_to_the_customer(client, db):
    seed(db)
    mine = member_id(client)
    resp = client.get(f"/internal/customers/{mine}/orders", headers=AUTH_INTERNAL)
    orders = resp.json()["orders"]
    assert [o["order_no"] for o in orders] == ["DD202611150001", "DD202611020007", "DD202610180012"]
    assert orders[0]["status_label"] == "已发货，运输中" and orders[0]["items"][0]["name"]
    one = client.get(f"/internal/customers/{mine}/orders", params={"order_no": "dd202611150001"},
                     headers=AUTH_INTERNAL).json()["orders"]
    assert [o["order_no"] for o in one] == ["DD202611150001"]
    # Another member's order number finds nothing for this customer.
    theirs = client.get(f"/internal/customers/{mine}/orders", params={"order_no": "DD202611200003"},
                        headers=AUTH_INTERNAL).json()["orders"]
    assert theirs == []
    state = client.get(f"/internal/customers/{mine}", headers=AUTH_INTERNAL).json()
    assert state == {"id": mine, "display_name": "张小明", "stage": "new", "points": 320}


def test_internal_api_needs_token_and_404s_unknown_customer(client, db):
    assert client.get("/internal/customers/1").status_code == 401
    assert client.get("/internal/customers/999", headers=AUTH_INTERNAL).status_code == 404
    assert client.get("/internal/customers/1", headers=AUTH_ADMIN).status_code == 401


def test_staff_api_lists_flagged_conversations_with_masked_personal_data(client, rasa, db):
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("转接中", "utter_handoff", "request_human"))
    client.post(f"/api/web/conversations/{conv}/messages", json={"text": "人工，手机13812345678"})
    assert client.get("/api/conversations").status_code == 401
    flagged = client.get("/api/conversations", params={"needs_attention": True}, headers=AUTH_ADMIN).json()
    assert flagged["total"] == 1 and flagged["items"][0]["attention_reason"] == "handoff_requested"
    detail = client.get(f"/api/conversations/{conv}", headers=AUTH_ADMIN).json()
    assert [m["template"] for m in detail["messages"]] == [None, "utter_handoff", None]
    # The escalation put the conversation in the staff queue and told the customer so.
    assert detail["handler"] == "waiting" and detail["messages"][-1]["author"] == "system"
    assert "人工客服" in detail["messages"][-1]["text"]
    assert detail["messages"][0]["intent"] == "request_human"
    assert detail["messages"][0]["text"] == "人工，手机138****5678"  # masked on staff screens
    customer = client.get(f"/api/customers/{detail['customer_id']}", headers=AUTH_ADMIN).json()
    assert customer["last_ip_masked"] == "***"  # the test client's peer is not an IP
    assert all(i["value_masked"].endswith("…") for i in customer["identities"])
    assert client.get("/api/customers/999", headers=AUTH_ADMIN).status_code == 404


def test_customers_by_stage_and_unknown_stage_names(client, db):
    seed(db)
    prospects = client.get("/api/customers", params={"stage": "prospect"}, headers=AUTH_ADMIN).json()
    assert prospects["total"] == 1 and prospects["items"][0]["display_name"] == "王芳"
    resp = client.get("/api/customers", params={"stage": "vip"}, headers=AUTH_ADMIN)
    assert resp.status_code == 422 and "未知的阶段 'vip'" in resp.json()["detail"]


def test_health_reports_each_part(client):
    body = client.get("/api/health").json()
    assert body["database"]["ok"] is True
    assert body["rasa"]["ok"] is False and body["action_server"]["ok"] is False  # nothing runs here
    assert body["status"] == "degraded"
