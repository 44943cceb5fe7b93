"""The customer timeline: messages, orders, stage changes, offers and merges in one view."""
from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from api.db.base import utcnow
from api.models import Conversation, Customer, Message, Offer, OfferIssuance
from demo.members import seed
from api.services import auth
from tests.api.conftest import ADMIN, marked, signed
from tests.api.test_merge import Browser, add_orders

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def timeline(client, customer_id: int, **params) -> httpx.Response:
    return client.get(f"/api/customers/{customer_id}/timeline", params=params, headers=AUTH)


def give_offer(db, customer_id: int, at: datetime) -> None:
    offer = Offer(code="NEW10", title="新客立减10元", detail="满100减10", kind="coupon", updated_by="test")
    db.add(OfferIssuance(offer=offer, customer_id=customer_id, stage="new", trigger="chat",
                         coupon_code="HX-7K2M9Q", issued_at=at, expires_at=at + timedelta(days=14)))
    db.commit()


def test_timeline_shows_every_kind_newest_first_including_the_merged_visitor(client, rasa, db):
    seed(db)
    rasa.reply = lambda body: httpx.Response(200, json=marked("好的，已记录", "utter_ack"))
    member = Browser(client).session(**signed("demo-1003"))["customer"]["id"]
    add_orders(client, member, "DD70000000", 1, days_ago=5)
    visitor = Browser(client)
    started = visitor.session()
    anon, conv = started["customer"]["id"], started["conversation"]["id"]
    add_orders(client, anon, "DD80000000", 1, days_ago=3)  # the visitor becomes "new"
    give_offer(db, anon, utcnow() - timedelta(days=2))
    assert visitor.say(conv, "我的手机13912345678，从 203.0.113.45 上网").status_code == 200
    merge = client.post(f"/api/customers/{member}/merge", json={"source_id": anon}, headers=AUTH).json()

    resp = timeline(client, member)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["merged_customer_ids"] == [anon] and page["next_before"] is None
    items = page["items"]
    assert [e["at"] for e in items] == sorted((e["at"] for e in items), reverse=True)
    assert all(e["at"].endswith("Z") for e in items)
    kinds = [e["kind"] for e in items]
    assert set(kinds) == {"message", "order", "stage_change", "offer", "merge"}

    newest = items[0]
    assert newest["kind"] == "merge" and newest["merge"]["action"] == "merged"
    assert newest["merge"]["other_customer_id"] == anon and newest["merge"]["merge_id"] == merge["id"]
    said = [e["message"] for e in items if e["kind"] == "message"]
    assert [(m["author"], m["template"]) for m in said] == [("bot", "utter_ack"), ("customer", None)]
    assert said[1]["text"] == "我的手机139****5678，从 203.0.*.* 上网" and said[1]["channel"] == "web"
    assert "13912345678" not in resp.text and "203.0.113.45" not in resp.text
    orders = [e["order"]["order_no"] for e in items if e["kind"] == "order"]
    assert orders == ["DD800000000000", "DD700000000000"]
    assert items[kinds.index("order")]["order"]["items"] == [{"name": "明前龙井 250g", "quantity": 1}]
    offer = next(e for e in items if e["kind"] == "offer")
    assert offer["offer"]["coupon_code"] == "HX-7K2M9Q" and offer["offer"]["title"] == "新客立减10元"
    # Both stage changes to "new": the member's own and the merged visitor's, kept as its history.
    changes = [(e["customer_id"], e["stage_change"]["to_stage"]) for e in items if e["kind"] == "stage_change"]
    assert sorted(changes) == sorted([(member, "new"), (anon, "new")])


def test_timeline_pages_with_before_and_loses_nothing_at_equal_times(client, db):
    customer = Customer()
    db.add(customer)
    db.flush()
    conv = Conversation(id="c" * 32, customer_id=customer.id, channel="web")
    db.add(conv)
    base = datetime(2026, 5, 1, 12, 0, 0)
    # A bot answers with several messages stored at one instant: 10 instants x 3 messages.
    for n in range(30):
        db.add(Message(conversation_id=conv.id, direction="outbound", author="bot", text=f"第{n}条",
                       created_at=base + timedelta(minutes=n // 3)))
    db.commit()

    everything = timeline(client, customer.id, limit=200).json()["items"]
    assert len(everything) == 30
    seen, params = [], {"limit": 7}
    while True:
        page = timeline(client, customer.id, **params).json()
        assert len(page["items"]) <= 7
        seen.extend(e["key"] for e in page["items"])
        if page["next_before"] is None:
            break
        params = {"limit": 7, "before": page["next_before"], "before_event": page["next_before_event"]}
    assert seen == [e["key"] for e in everything]

    # ``before`` alone: strictly earlier events only.
    cut = everything[9]["at"]
    earlier = timeline(client, customer.id, before=cut, limit=200).json()["items"]
    assert earlier and all(e["at"] < cut for e in earlier)
    assert len(earlier) == 30 - 12  # 4 instants of 3 messages are at or after the cut

    bad = timeline(client, customer.id, before=cut, before_event="nonsense")
    assert bad.status_code == 422


def test_timeline_access_and_unknown_or_merged_away_customers(client, db):
    seed(db)
    a = Browser(client).session()["customer"]["id"]
    b = Browser(client).session()["customer"]["id"]
    client.post(f"/api/customers/{b}/merge", json={"source_id": a}, headers=AUTH)
    assert timeline(client, 99999).status_code == 404
    gone = timeline(client, a)
    assert gone.status_code == 404 and f"已合并到客户 #{b}" in gone.json()["detail"]

    assert TestClient(client.app).get(f"/api/customers/{b}/timeline").status_code == 401
    auth.create_staff(db, "agent2", "password123", "agent")
    db.commit()
    agent = TestClient(client.app)
    agent.post("/api/auth/login", json={"username": "agent2", "password": "password123"})
    assert agent.get(f"/api/customers/{b}/timeline").status_code == 200


def test_timeline_of_a_busy_customer_reads_only_a_page(client, db):
    customer = Customer()
    db.add(customer)
    db.flush()
    conv = Conversation(id="d" * 32, customer_id=customer.id, channel="wechat")
    db.add(conv)
    base = datetime(2026, 1, 1)
    db.add_all(Message(conversation_id=conv.id, direction="inbound", author="customer", text=str(n),
                       created_at=base + timedelta(seconds=n)) for n in range(2000))
    db.commit()
    page = timeline(client, customer.id, limit=5).json()
    assert [e["message"]["text"] for e in page["items"]] == ["1999", "1998", "1997", "1996", "1995"]
    assert page["next_before_event"] == page["items"][-1]["key"]
