"""Self-service requests on orders through the action server's internal routes and the
staff routes: each kind allowed and refused, nothing half-done, staff's decision, and
the request on the customer's timeline."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from api.db.base import utcnow
from api.models import Conversation, ConversationEvent, Customer, Order, OrderItem, Product, ServiceRequest
from api.services.auth import create_staff
from tests.api.conftest import ADMIN, INTERNAL

INTERNAL_AUTH = {"Authorization": f"Bearer {INTERNAL}"}
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def shop(db):
    """张小明 (customer) and 李四 (another customer), two products."""
    tea = Product(sku="TEA-01", name="明前龙井 250g", category="茶叶", price=Decimal("128.00"))
    pot = Product(sku="POT-01", name="紫砂壶", category="茶具", price=Decimal("299.00"))
    me, other = Customer(display_name="张小明"), Customer(display_name="李四")
    db.add_all([tea, pot, me, other])
    db.commit()
    return {"db": db, "me": me, "other": other, "tea": tea, "pot": pot}


def add_order(shop, order_no: str, status: str, *, days_ago: float = 1, delivered_days_ago: float | None = None,
              customer=None, lines=None) -> Order:
    db, now = shop["db"], utcnow()
    order = Order(order_no=order_no, customer_id=(customer or shop["me"]).id, status=status, amount=Decimal("100"),
                  placed_at=now - timedelta(days=days_ago),
                  delivered_at=now - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None)
    order.items = [OrderItem(product_id=p.id, quantity=q, unit_price=p.price)
                   for p, q in (lines or [(shop["tea"], 1), (shop["pot"], 1)])]
    db.add(order)
    db.commit()
    return order


def check(client, customer_id: int, kind: str, order_no: str = ""):
    resp = client.get(f"/internal/customers/{customer_id}/service-requests/check",
                      params={"kind": kind, "order_no": order_no}, headers=INTERNAL_AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


def create(client, customer_id: int, **body):
    return client.post(f"/internal/customers/{customer_id}/service-requests", json=body, headers=INTERNAL_AUTH)


def requests_in_db(db) -> list[ServiceRequest]:
    db.expire_all()
    return list(db.query(ServiceRequest).order_by(ServiceRequest.id))


def order_status(db, order_no: str) -> str:
    db.expire_all()
    return db.query(Order).filter_by(order_no=order_no).one().status


# ------------------------------------------------------------------------------ returns


def test_a_return_is_checked_created_for_staff_and_approved(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202611300001", "delivered", days_ago=4, delivered_days_ago=2)
    add_order(shop, "DD202611300002", "shipped")  # not returnable yet: not offered

    answer = check(client, me.id, "return")  # no order named: the only eligible one is chosen
    assert answer["eligible"] is True and answer["response"] == "utter_request_confirm_return"
    assert answer["order_no"] == "DD202611300001" and answer["items"] == ["明前龙井 250g", "紫砂壶"]
    assert answer["slots"] == {"order_no": "DD202611300001", "items": "明前龙井 250g、紫砂壶", "reason": ""}

    conv = Conversation(id=uuid.uuid4().hex, customer_id=me.id, channel="web")
    db.add(conv)
    db.commit()
    resp = create(client, me.id, kind="return", order_no="dd202611300001", items=["龙井"], reason="茶叶受潮了",
                  conversation_id=conv.id)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["created"] is True and re.fullmatch(r"SR\d{8}\d{4}", out["request_no"])
    assert out["response"] == "utter_request_created"
    assert out["slots"] == {"request_no": out["request_no"], "kind_label": "退货退款", "order_no": "DD202611300001",
                            "status_label": "已提交，等待客服审核"}
    [stored] = requests_in_db(db)
    assert (stored.status, stored.items, stored.reason, stored.conversation_id) == \
        ("submitted", ["明前龙井 250g"], "茶叶受潮了", conv.id)
    assert order_status(db, "DD202611300001") == "delivered"  # staff decide; the order waits

    listed = client.get("/api/staff/service-requests", params={"status": "submitted"}, headers=ADMIN_AUTH).json()
    assert [r["request_no"] for r in listed] == [out["request_no"]]
    assert listed[0]["kind_label"] == "退货退款" and listed[0]["customer_name"] == "张小明"

    decided = client.post(f"/api/staff/service-requests/{stored.id}/decision", json={"decision": "approve"},
                          headers=ADMIN_AUTH)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved" and decided.json()["handled_by"] == "api-token"
    assert order_status(db, "DD202611300001") == "refunding"
    again = client.post(f"/api/staff/service-requests/{stored.id}/decision",
                        json={"decision": "reject", "note": "重复"}, headers=ADMIN_AUTH)
    assert again.status_code == 409 and "已同意" in again.json()["detail"]

    status = client.get(f"/internal/customers/{me.id}/service-requests", headers=INTERNAL_AUTH).json()
    assert status["response"] == "utter_request_status"
    assert status["slots"]["request_list"] == f"{out['request_no']}（退货退款，订单 DD202611300001）：已同意"


def test_a_return_after_the_window_is_refused_and_nothing_is_written(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202611010001", "delivered", days_ago=12, delivered_days_ago=8)
    answer = check(client, me.id, "return", "DD202611010001")
    assert answer["eligible"] is False and answer["response"] == "utter_request_refused"
    assert answer["slots"] == {"order_no": "DD202611010001", "kind_label": "退货退款",
                               "why": "已超过签收后 7 天的退货期限"}
    assert check(client, me.id, "return")["response"] == "utter_request_no_eligible_order"

    out = create(client, me.id, kind="return", order_no="DD202611010001", reason="不想要了").json()
    assert out["created"] is False and out["request_no"] is None and out["response"] == "utter_request_refused"
    assert requests_in_db(db) == [] and order_status(db, "DD202611010001") == "delivered"


def test_a_second_return_of_the_same_order_is_refused_while_the_first_is_open(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612010001", "delivered", delivered_days_ago=1)
    assert create(client, me.id, kind="return", order_no="DD202612010001", reason="尺寸不合适").json()["created"]
    second = create(client, me.id, kind="return", order_no="DD202612010001", reason="再申请一次").json()
    assert second["created"] is False and "正在处理" in second["slots"]["why"]
    assert len(requests_in_db(db)) == 1

    # Rejected (with a reason), the customer may ask again within the window.
    first = requests_in_db(db)[0]
    no_note = client.post(f"/api/staff/service-requests/{first.id}/decision", json={"decision": "reject"},
                          headers=ADMIN_AUTH)
    assert no_note.status_code == 422
    rejected = client.post(f"/api/staff/service-requests/{first.id}/decision",
                           json={"decision": "reject", "note": "商品已拆封影响二次销售"}, headers=ADMIN_AUTH)
    assert rejected.status_code == 200 and rejected.json()["status_label"] == "未通过"
    assert order_status(db, "DD202612010001") == "delivered"
    status = client.get(f"/internal/customers/{me.id}/service-requests", headers=INTERNAL_AUTH).json()
    assert status["slots"]["request_list"].endswith("未通过，说明：商品已拆封影响二次销售")
    assert check(client, me.id, "return", "DD202612010001")["eligible"] is True


def test_an_item_not_in_the_order_is_refused(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612010002", "delivered", delivered_days_ago=1)
    out = create(client, me.id, kind="return", order_no="DD202612010002", items=["降噪耳机"], reason="坏了").json()
    assert out["created"] is False and "降噪耳机" in out["slots"]["why"]
    assert requests_in_db(db) == []


# ------------------------------------------------------------------------- cancellations


def test_an_order_not_shipped_is_cancelled_at_once(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612020001", "paid")
    answer = check(client, me.id, "cancel", "DD202612020001")
    assert answer["response"] == "utter_request_confirm_cancel"
    assert answer["slots"] == {"order_no": "DD202612020001", "items": "明前龙井 250g、紫砂壶"}
    out = create(client, me.id, kind="cancel", order_no="DD202612020001").json()
    assert out["created"] is True and out["slots"]["status_label"] == "已完成"
    assert order_status(db, "DD202612020001") == "cancelled"
    [stored] = requests_in_db(db)
    assert stored.status == "done" and stored.handled_by == "system"
    # Done by the rules: there is nothing for staff to decide.
    assert client.post(f"/api/staff/service-requests/{stored.id}/decision", json={"decision": "approve"},
                       headers=ADMIN_AUTH).status_code == 409
    # And the cancelled order cannot be cancelled again.
    again = create(client, me.id, kind="cancel", order_no="DD202612020001").json()
    assert again["created"] is False and again["slots"]["why"] == "该订单已经取消"


def test_a_shipped_order_cannot_be_cancelled(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612020002", "shipped")
    answer = check(client, me.id, "cancel", "DD202612020002")
    assert answer["eligible"] is False
    assert answer["slots"]["why"] == "订单已发货，无法取消；签收后可申请退货"
    out = create(client, me.id, kind="cancel", order_no="DD202612020002").json()
    assert out["created"] is False and out["response"] == "utter_request_refused"
    assert order_status(db, "DD202612020002") == "shipped" and requests_in_db(db) == []


def test_several_orders_to_choose_from_are_listed(client, shop):
    me = shop["me"]
    add_order(shop, "DD202612020003", "paid", days_ago=2, lines=[(shop["tea"], 2)])
    add_order(shop, "DD202612020004", "pending_payment", days_ago=1, lines=[(shop["pot"], 1)])
    add_order(shop, "DD202612020005", "delivered", delivered_days_ago=1)
    answer = check(client, me.id, "cancel")
    assert answer["eligible"] is False and answer["response"] == "utter_request_ask_order"
    listed = answer["slots"]["order_list"]
    assert re.fullmatch(r"DD202612020004（紫砂壶，\d+月\d+日下单）；DD202612020003（明前龙井 250g 等 2 件，\d+月\d+日下单）",
                        listed), listed


# ------------------------------------------------------------------------ address changes


def test_the_address_changes_before_dispatch_and_not_after(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612030001", "pending_payment")
    add_order(shop, "DD202612030002", "shipped")
    answer = check(client, me.id, "address")  # only the unshipped one qualifies
    assert answer["response"] == "utter_request_confirm_address"
    assert answer["slots"] == {"order_no": "DD202612030001", "new_address": ""}

    missing = create(client, me.id, kind="address", order_no="DD202612030001", new_address="  ")
    assert missing.status_code == 422 and "收货地址" in missing.json()["detail"]
    assert requests_in_db(db) == []

    out = create(client, me.id, kind="address", order_no="DD202612030001",
                 new_address="杭州市西湖区文三路 100 号").json()
    assert out["created"] is True and out["slots"]["kind_label"] == "修改收货地址"
    [stored] = requests_in_db(db)
    assert (stored.status, stored.new_address) == ("done", "杭州市西湖区文三路 100 号")
    assert order_status(db, "DD202612030001") == "pending_payment"

    refused = create(client, me.id, kind="address", order_no="DD202612030002", new_address="上海市").json()
    assert refused["created"] is False and "无法修改收货地址" in refused["slots"]["why"]
    assert len(requests_in_db(db)) == 1


# --------------------------------------------------------------- another customer's order


def test_another_customers_order_is_not_found_and_not_revealed(client, shop):
    db, me, other = shop["db"], shop["me"], shop["other"]
    add_order(shop, "DD202612030009", "paid", customer=other)
    for kind in ("return", "cancel", "address"):
        answer = check(client, me.id, kind, "DD202612030009")
        assert answer["eligible"] is False and answer["order_no"] is None and answer["items"] == []
        assert "没有找到" in answer["slots"]["why"]
        assert "紫砂壶" not in str(answer) and "已付款" not in str(answer)
    out = create(client, me.id, kind="cancel", order_no="DD202612030009").json()
    assert out["created"] is False and "没有找到" in out["slots"]["why"]
    assert order_status(db, "DD202612030009") == "paid" and requests_in_db(db) == []
    # The same answer as for a number that does not exist at all.
    assert check(client, me.id, "cancel", "DD209912310000")["slots"]["why"] == answer["slots"]["why"]


def test_an_id_number_given_as_order_number_is_not_echoed(client, shop):
    answer = check(client, shop["me"].id, "return", "110105199001011234")
    assert "110105199001011234" not in str(answer)


def test_no_requests_and_unknown_customer(client, shop):
    me = shop["me"]
    assert client.get(f"/internal/customers/{me.id}/service-requests", headers=INTERNAL_AUTH).json() == {
        "response": "utter_no_requests", "slots": {}}
    assert client.get("/internal/customers/99999/service-requests", headers=INTERNAL_AUTH).status_code == 404
    assert client.get(f"/internal/customers/{me.id}/service-requests").status_code == 401


# ---------------------------------------------------------------------------- staff side


def test_staff_see_the_request_on_the_timeline_and_agents_decide(client, shop):
    db, me = shop["db"], shop["me"]
    add_order(shop, "DD202612030010", "completed", delivered_days_ago=3)
    create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    agent2 = create_staff(db, "agent2", "agent-password-2", "agent", "小王")
    # The request was made in a conversation agent2 has claimed: agent1 may not read it.
    conv = Conversation(id=uuid.uuid4().hex, customer_id=me.id, channel="web", handler="staff",
                        assigned_staff_id=agent2.id)
    db.add(conv)
    db.flush()
    db.add(ConversationEvent(conversation_id=conv.id, kind="claimed", staff_id=agent2.id))
    db.commit()
    out = create(client, me.id, kind="return", order_no="DD202612030010", reason="漏发了，电话13912345678",
                 conversation_id=conv.id).json()

    timeline = client.get(f"/api/customers/{me.id}/timeline", headers=ADMIN_AUTH)
    assert timeline.status_code == 200, timeline.text
    [event] = [e for e in timeline.json()["items"] if e["kind"] == "service_request"]
    assert event["service_request"]["request_no"] == out["request_no"]
    assert event["service_request"]["status_label"] == "已提交，等待客服审核"
    assert "13912345678" not in timeline.text and "139****5678" in event["service_request"]["reason"]

    agent = TestClient(client.app)
    assert agent.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"}).status_code == 200
    agent.headers.update(FETCH)
    [seen] = agent.get("/api/staff/service-requests", params={"customer_id": me.id}).json()
    assert seen["conversation_id"] is None and seen["order_status_label"] == "已完成"
    assert client.get(f"/api/staff/service-requests/{seen['id']}", headers=ADMIN_AUTH).json()["conversation_id"] \
        == conv.id
    decided = agent.post(f"/api/staff/service-requests/{seen['id']}/decision", json={"decision": "approve"})
    assert decided.status_code == 200 and decided.json()["handled_by"] == "agent1"

    timeline = client.get(f"/api/customers/{me.id}/timeline", headers=ADMIN_AUTH).json()
    [event] = [e for e in timeline["items"] if e["kind"] == "service_request"]
    assert event["service_request"]["status_label"] == "已同意"
    # Paging by the event's key works like any other kind's.
    assert client.get(f"/api/customers/{me.id}/timeline", headers=ADMIN_AUTH,
                      params={"before": event["at"], "before_event": event["key"]}).status_code == 200


def test_staff_errors_are_chinese_404_and_anonymous_is_refused(client, shop):
    missing = client.get("/api/staff/service-requests/12345", headers=ADMIN_AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "售后申请不存在"
    decided = client.post("/api/staff/service-requests/12345/decision", json={"decision": "approve"},
                          headers=ADMIN_AUTH)
    assert decided.status_code == 404
    assert client.get("/api/staff/service-requests").status_code == 401
