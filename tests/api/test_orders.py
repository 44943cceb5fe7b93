"""Recording orders through the staff API moves customers through the stages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from demo.members import seed
from tests.api.conftest import ADMIN

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def new_customer(client) -> int:
    return client.post("/api/web/session", json={}).json()["customer"]["id"]


def order(client, customer_id, order_no, days_ago=1, **extra):
    placed = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()
    body = {"order_no": order_no, "customer_id": customer_id, "placed_at": placed,
            "items": [{"sku": "TEA-001", "quantity": 2}], **extra}
    return client.post("/api/orders", json=body, headers=AUTH)


def test_first_order_makes_a_prospect_new_and_records_why(client, db):
    seed(db)
    cid = new_customer(client)
    resp = order(client, cid, "DD209900000001")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["order"]["amount"] == "336.00" and body["order"]["items"][0]["name"] == "明前龙井 250g"
    assert body["customer_stage"] == "new"
    assert body["stage_change"]["from_stage"] == "prospect" and body["stage_change"]["trigger"] == "order"
    history = client.get(f"/api/customers/{cid}/stage-history", headers=AUTH).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [("prospect", "new")]


def test_sixth_order_makes_growing_and_unpaid_orders_do_not_count(client, db):
    seed(db)
    cid = new_customer(client)
    for n in range(5):
        assert order(client, cid, f"DD20990000010{n}", days_ago=36 - 7 * n).status_code == 201
    unpaid = order(client, cid, "DD209900000199", status="pending_payment")
    assert unpaid.json()["customer_stage"] == "new" and unpaid.json()["stage_change"] is None
    sixth = order(client, cid, "DD209900000106", days_ago=1).json()
    assert sixth["customer_stage"] == "growing" and "6 purchases" in sixth["stage_change"]["reason"]
    orders = client.get(f"/api/customers/{cid}/orders", headers=AUTH).json()
    assert len(orders) == 7 and orders[0]["order_no"] == "DD209900000106"


def test_bad_orders_are_refused_with_a_reason_and_nothing_is_written(client, db):
    seed(db)
    cid = new_customer(client)
    assert order(client, cid, "DD209900000201").status_code == 201
    cases = [
        (order(client, cid, "DD209900000201"), 409, "已存在"),
        (order(client, cid, "DD209900000202", items=[{"sku": "NOPE-1", "quantity": 1}]), 422, "NOPE-1"),
        (order(client, cid, "DD209900000203", channel="fax"), 422, "channel"),
        (order(client, cid, "DD209900000204", status="teleported"), 422, "status"),
        (order(client, cid, "DD209900000205", items=[]), 422, "items"),
        (order(client, cid, "dd-lower"), 422, "order_no"),
        (order(client, 9999, "DD209900000206"), 404, "9999"),
    ]
    for resp, code, fragment in cases:
        assert resp.status_code == code, resp.text
        assert fragment in str(resp.json()["detail"])
    assert len(client.get(f"/api/customers/{cid}/orders", headers=AUTH).json()) == 1


def test_orders_api_needs_the_admin_token(client, db):
    assert client.post("/api/orders", json={}).status_code == 401
    assert client.get("/api/customers/1/stage-history").status_code == 401
