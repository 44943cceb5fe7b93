"""One account across channels: merges by staff, at login and by phone; confirm, undo."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

from api.models import Customer, CustomerMerge
from demo.members import seed
from api.services import auth
from api.services.merge import MergeConflict, merge_customers, undo_merge
from tests.api.conftest import ADMIN, INTERNAL, marked, signed

AUTH = {"Authorization": f"Bearer {ADMIN}"}
AUTH_INTERNAL = {"Authorization": f"Bearer {INTERNAL}"}


class Browser:
    """One customer's browser: its own cookie jar on the shared app."""

    def __init__(self, client: TestClient):
        self.http = TestClient(client.app)

    def session(self, **body) -> dict:
        resp = self.http.post("/api/web/session", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def say(self, conversation_id: str, text: str) -> httpx.Response:
        return self.http.post(f"/api/web/conversations/{conversation_id}/messages", json={"text": text})


@pytest.fixture
def shop(client, rasa, db):
    seed(db)
    rasa.reply = lambda body: httpx.Response(200, json=marked("您好，请问有什么可以帮您？", "utter_greet"))
    return client


def add_orders(client, customer_id: int, prefix: str, count: int, days_ago: int = 1) -> list[str]:
    numbers = []
    for n in range(count):
        placed = (datetime.now(timezone.utc) - timedelta(days=days_ago + 7 * n)).isoformat()
        number = f"{prefix}{n:04d}"
        resp = client.post("/api/orders", headers=AUTH, json={
            "order_no": number, "customer_id": customer_id, "placed_at": placed,
            "items": [{"sku": "TEA-001", "quantity": 1}]})
        assert resp.status_code == 201, resp.text
        numbers.append(number)
    return numbers


def order_numbers(client, customer_id: int) -> set[str]:
    return {o["order_no"] for o in client.get(f"/api/customers/{customer_id}/orders", headers=AUTH).json()}


def customer(client, customer_id: int) -> dict:
    return client.get(f"/api/customers/{customer_id}", headers=AUTH).json()


def listed_ids(client) -> set[int]:
    return {c["id"] for c in client.get("/api/customers", params={"limit": 200}, headers=AUTH).json()["items"]}


def set_points(db, customer_id: int, points: int) -> None:
    db.get(Customer, customer_id).points = points
    db.commit()


def merge(client, target_id: int, source_id: int, headers=AUTH, note: str = "") -> httpx.Response:
    return client.post(f"/api/customers/{target_id}/merge", json={"source_id": source_id, "note": note},
                       headers=headers)


def two_customers(shop, db):
    """Member 王芳 with 4 orders, and an anonymous web visitor with 3 orders chatting now."""
    member = Browser(shop).session(**signed("demo-1003"))["customer"]["id"]
    member_orders = add_orders(shop, member, "DD40000000", 4)
    visitor = Browser(shop)
    started = visitor.session()
    anon, conv = started["customer"]["id"], started["conversation"]["id"]
    assert visitor.say(conv, "你好").status_code == 200
    anon_orders = add_orders(shop, anon, "DD30000000", 3)
    set_points(db, anon, 50)
    set_points(db, member, 100)
    assert customer(shop, anon)["stage"] == "new" and customer(shop, member)["stage"] == "new"
    return visitor, conv, anon, anon_orders, member, member_orders


def test_staff_merge_moves_history_and_the_visitors_chat_continues_as_the_member(shop, db):
    visitor, conv, anon, anon_orders, member, member_orders = two_customers(shop, db)

    resp = merge(shop, member, anon, note="同一人：电话核实")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "merged" and body["reason"] == "staff" and body["merged_by"] == "api-token"
    assert body["moved"] == {"identities": 1, "conversations": 1, "orders": 3, "offer_issuances": 0,
                             "inbound_receipts": 0, "points": 50}

    # 3 + 4 purchases: the member is now in the growing stage, and the history says why.
    merged = customer(shop, member)
    assert merged["stage"] == "growing" and merged["points"] == 150
    assert merged["display_name"] == "王芳"
    history = shop.get(f"/api/customers/{member}/stage-history", headers=AUTH).json()
    assert (history[-1]["from_stage"], history[-1]["to_stage"], history[-1]["trigger"]) == ("new", "growing", "merge")
    assert order_numbers(shop, member) == set(anon_orders + member_orders)
    assert order_numbers(shop, anon) == set()

    # The visitor's browser is now the member, in the same conversation, with its messages.
    again = visitor.session()
    assert again["customer"]["id"] == member
    assert again["conversation"]["id"] == conv
    assert [m["text"] for m in again["messages"]][:1] == ["你好"]
    assert visitor.say(conv, "我的订单呢").status_code == 200

    # The merged-away record is gone from lists; the action server's old id finds the member.
    assert anon not in listed_ids(shop) and member in listed_ids(shop)
    state = shop.get(f"/internal/customers/{anon}", headers=AUTH_INTERNAL).json()
    assert state["id"] == member and state["points"] == 150
    orders = shop.get(f"/internal/customers/{anon}/orders", params={"limit": 20}, headers=AUTH_INTERNAL).json()
    assert len(orders["orders"]) == 7


def test_merges_that_make_no_sense_are_refused_with_the_reason(shop, db):
    _, _, anon, _, member, _ = two_customers(shop, db)
    self_merge = merge(shop, member, member)
    assert self_merge.status_code == 422 and "合并到自己" in self_merge.json()["detail"]
    assert merge(shop, member, 99999).status_code == 404
    assert merge(shop, 99999, member).status_code == 404
    assert merge(shop, member, anon).status_code == 201
    twice = merge(shop, member, anon)
    assert twice.status_code == 409 and f"客户 #{member}" in twice.json()["detail"]
    into_merged = merge(shop, anon, Browser(shop).session()["customer"]["id"])
    assert into_merged.status_code == 409 and f"请改用客户 #{member}" in into_merged.json()["detail"]


def test_undo_restores_exactly_and_keeps_what_the_member_got_later(shop, db):
    visitor, conv, anon, anon_orders, member, member_orders = two_customers(shop, db)
    merge_id = merge(shop, member, anon).json()["id"]
    later = add_orders(shop, member, "DD50000000", 1)  # after the merge: the member's own

    resp = shop.post(f"/api/merges/{merge_id}/undo", headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "undone" and resp.json()["undone_by"] == "api-token"

    assert order_numbers(shop, anon) == set(anon_orders)
    assert order_numbers(shop, member) == set(member_orders + later)
    restored_anon, restored_member = customer(shop, anon), customer(shop, member)
    assert (restored_anon["points"], restored_anon["stage"]) == (50, "new")
    assert (restored_member["points"], restored_member["stage"]) == (100, "new")  # 5 purchases
    assert [i["kind"] for i in restored_anon["identities"]] == ["web_client"]
    assert anon in listed_ids(shop)
    # The visitor's browser is the visitor again, in their own conversation.
    again = visitor.session()
    assert again["customer"]["id"] == anon and again["conversation"]["id"] == conv
    history = shop.get(f"/api/customers/{member}/stage-history", headers=AUTH).json()
    assert [(h["to_stage"], h["trigger"]) for h in history][-2:] == [("growing", "merge"), ("new", "merge")]

    undo_again = shop.post(f"/api/merges/{merge_id}/undo", headers=AUTH)
    assert undo_again.status_code == 409 and "已撤销" in undo_again.json()["detail"]


def test_undo_puts_back_the_fields_the_merge_filled_in(db, settings_env):
    old = datetime(2025, 1, 1)
    source = Customer(display_name="小李", first_ip="198.51.100.7", first_seen_at=old, points=7)
    target = Customer(first_seen_at=datetime(2026, 1, 1), points=3)
    db.add_all([source, target])
    db.commit()
    merge = merge_customers(db, source, target, reason="staff", by="t")
    db.commit()
    assert (target.display_name, target.first_ip, target.first_seen_at, target.points) == (
        "小李", "198.51.100.7", old, 10)
    assert source.merged_into_id == target.id and source.points == 0
    target.first_ip = "203.0.113.9"  # staff corrected it meanwhile: that stays
    db.commit()
    undo_merge(db, merge, by="t")
    db.commit()
    assert (target.display_name, target.first_ip, target.first_seen_at, target.points) == (
        None, "203.0.113.9", datetime(2026, 1, 1), 3)
    assert (source.merged_into_id, source.points) == (None, 7)


def test_undo_is_refused_while_the_target_is_merged_into_someone_else(shop, db):
    _, _, anon, anon_orders, member, _ = two_customers(shop, db)
    third = Browser(shop).session()["customer"]["id"]
    first = merge(shop, member, anon).json()["id"]
    second = merge(shop, third, member).json()["id"]
    assert order_numbers(shop, third) >= set(anon_orders)
    refused = shop.post(f"/api/merges/{first}/undo", headers=AUTH)
    assert refused.status_code == 409
    assert f"合并到了客户 #{third}" in refused.json()["detail"] and "请先撤销那次合并" in refused.json()["detail"]
    with pytest.raises(MergeConflict):  # the service refuses it too, not just the route
        undo_merge(db, db.get(CustomerMerge, first), by="t")
    db.rollback()
    assert shop.post(f"/api/merges/{second}/undo", headers=AUTH).status_code == 200
    assert shop.post(f"/api/merges/{first}/undo", headers=AUTH).status_code == 200
    assert order_numbers(shop, anon) == set(anon_orders)


def test_only_admins_undo_and_anonymous_callers_get_nothing(shop, db):
    _, _, anon, _, member, _ = two_customers(shop, db)
    auth.create_staff(db, "agent1", "password123", "agent")
    db.commit()
    agent = TestClient(shop.app)
    assert agent.post("/api/auth/login", json={"username": "agent1", "password": "password123"}).status_code == 200
    fetch = {"X-Requested-With": "fetch"}

    # Any staff member may merge (with the header a browser cannot forge cross-site) …
    assert agent.post(f"/api/customers/{member}/merge", json={"source_id": anon}).status_code == 403
    resp = agent.post(f"/api/customers/{member}/merge", json={"source_id": anon}, headers=fetch)
    assert resp.status_code == 201 and resp.json()["merged_by"] == "agent1"
    assert agent.get("/api/merges").json()["total"] == 1
    # … but only an admin may undo.
    denied = agent.post(f"/api/merges/{resp.json()['id']}/undo", headers=fetch)
    assert denied.status_code == 403
    assert customer(shop, anon)["points"] == 0  # nothing was undone

    nobody = TestClient(shop.app)
    assert nobody.get("/api/merges").status_code == 401
    assert nobody.post(f"/api/customers/{member}/merge", json={"source_id": anon}).status_code == 401
    assert nobody.post(f"/api/merges/{resp.json()['id']}/undo").status_code == 401
    assert shop.post(f"/api/merges/{resp.json()['id']}/undo", headers=AUTH).status_code == 200


def test_an_anonymous_browser_logging_in_joins_the_member(shop, db):
    member = Browser(shop).session(**signed("demo-1001"))["customer"]["id"]  # earlier, another device
    visitor = Browser(shop)
    started = visitor.session()
    anon, conv = started["customer"]["id"], started["conversation"]["id"]
    assert visitor.say(conv, "看看保温杯").status_code == 200
    bought = add_orders(shop, anon, "DD60000000", 1)

    logged_in = visitor.session(**signed("demo-1001"))
    assert logged_in["customer"]["id"] == member
    assert logged_in["conversation"]["id"] == conv  # the chat going on now is the one that continues
    assert [m["text"] for m in logged_in["messages"]][0] == "看看保温杯"
    merges = shop.get("/api/merges", params={"status": "merged"}, headers=AUTH).json()
    assert [(m["source_id"], m["target_id"], m["reason"]) for m in merges["items"]] == [(anon, member, "login")]
    assert set(bought) <= order_numbers(shop, member)
    assert anon not in listed_ids(shop)

    # A member on a new device simply continues as themselves: no new customer, no merge.
    before = shop.get("/api/customers", headers=AUTH).json()["total"]
    assert Browser(shop).session(**signed("demo-1001"))["customer"]["id"] == member
    assert shop.get("/api/customers", headers=AUTH).json()["total"] == before
    assert shop.get("/api/merges", headers=AUTH).json()["total"] == 1


def test_a_shared_device_never_merges_two_members(shop, db):
    device = Browser(shop)
    first = device.session(**signed("demo-1001"))["customer"]["id"]
    second = device.session(**signed("demo-1002"))["customer"]["id"]
    newcomer = device.session(**signed("demo-7777"))["customer"]["id"]  # a member never seen before
    assert len({first, second, newcomer}) == 3
    assert shop.get("/api/merges", headers=AUTH).json()["total"] == 0
    assert customer(shop, first)["display_name"] == "张小明" and customer(shop, first)["points"] == 320
    assert customer(shop, second)["points"] == 1280
    assert "DD202611150001" in order_numbers(shop, first) and "DD202611150001" not in order_numbers(shop, second)
    assert device.session(**signed("demo-1001"))["customer"]["id"] == first
    # The device's identity went along; each member keeps only their own member id.
    assert [i["kind"] for i in customer(shop, newcomer)["identities"]] == ["user_id"]


def phone_identities(client, customer_id: int) -> list[str]:
    return [i["value_masked"] for i in customer(client, customer_id)["identities"] if i["kind"] == "phone"]


def flagged(client, conversation_id: str) -> tuple[bool, str | None]:
    conv = client.get(f"/api/conversations/{conversation_id}", headers=AUTH).json()
    return conv["needs_attention"], conv["attention_reason"]


def test_a_new_phone_number_typed_in_chat_joins_the_account(shop, db):
    visitor = Browser(shop)
    started = visitor.session()
    anon, conv = started["customer"]["id"], started["conversation"]["id"]
    assert visitor.say(conv, "我的手机号是 138-1234-5678，请联系我").status_code == 200
    assert phone_identities(shop, anon) == ["1381…"]
    assert visitor.say(conv, "+8613812345678").status_code == 200  # the same number again
    assert phone_identities(shop, anon) == ["1381…"]
    assert flagged(shop, conv) == (False, None)
    assert shop.get("/api/merges", headers=AUTH).json()["total"] == 0


def test_another_customers_phone_only_proposes_a_merge_for_staff(shop, db):
    member_browser = Browser(shop)
    started = member_browser.session(**signed("demo-1001"))
    member = started["customer"]["id"]
    member_browser.say(started["conversation"]["id"], "电话 13812345678")
    assert phone_identities(shop, member) == ["1381…"]

    stranger = Browser(shop)
    chat = stranger.session()
    anon, conv = chat["customer"]["id"], chat["conversation"]["id"]
    assert stranger.say(conv, "我是张小明，手机 13812345678，查下我的订单").status_code == 200
    assert stranger.say(conv, "13812345678").status_code == 200

    assert flagged(shop, conv) == (True, "merge_proposed")
    proposals = shop.get("/api/merges", params={"status": "proposed"}, headers=AUTH).json()
    assert proposals["total"] == 1  # the same claim twice is one proposal
    proposal = proposals["items"][0]
    assert (proposal["source_id"], proposal["target_id"], proposal["reason"]) == (anon, member, "phone")
    assert "13812345678" not in proposal["detail"] and "138****5678" in proposal["detail"]
    # Nothing moved: typing a number shows nobody else's orders.
    assert stranger.session()["customer"]["id"] == anon
    assert shop.get(f"/internal/customers/{anon}/orders", headers=AUTH_INTERNAL).json()["orders"] == []
    assert phone_identities(shop, anon) == []

    confirmed = shop.post(f"/api/merges/{proposal['id']}/confirm", headers=AUTH)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "merged"
    assert stranger.session()["customer"]["id"] == member
    assert len(shop.get(f"/internal/customers/{anon}/orders", headers=AUTH_INTERNAL).json()["orders"]) == 3
    again = shop.post(f"/api/merges/{proposal['id']}/confirm", headers=AUTH)
    assert again.status_code == 409 and "已合并」，不再待确认" in again.json()["detail"]


def test_a_rejected_proposal_merges_nothing(shop, db):
    member_browser = Browser(shop)
    started = member_browser.session(**signed("demo-1002"))
    member_browser.say(started["conversation"]["id"], "13900001111")
    stranger = Browser(shop)
    chat = stranger.session()
    stranger.say(chat["conversation"]["id"], "我的号码13900001111")
    proposal = shop.get("/api/merges", params={"status": "proposed"}, headers=AUTH).json()["items"][0]
    rejected = shop.post(f"/api/merges/{proposal['id']}/reject", headers=AUTH)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["undone_by"] == "api-token"
    assert shop.post(f"/api/merges/{proposal['id']}/confirm", headers=AUTH).status_code == 409
    assert shop.post(f"/api/merges/{proposal['id']}/undo", headers=AUTH).status_code == 409
    assert stranger.session()["customer"]["id"] == chat["customer"]["id"]
    assert shop.post("/api/merges/9999/confirm", headers=AUTH).status_code == 404
