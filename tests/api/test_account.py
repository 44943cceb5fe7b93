"""GET /internal/customers/{id}/account-answer: points, member level and coupons held, from
the member's own account; anonymous visitors are told how to sign in."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from api.db.base import utcnow
from api.domain.membership import standing_for
from api.models import Customer, CustomerIdentity, Offer, OfferIssuance, Order
from tests.api.conftest import INTERNAL

AUTH = {"Authorization": f"Bearer {INTERNAL}"}
_orders = iter(range(1, 10_000))


def ask(client, customer_id: int, text: str) -> dict:
    resp = client.get(f"/internal/customers/{customer_id}/account-answer", params={"text": text}, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


def member(db, points: int = 0, name: str | None = "张小明") -> Customer:
    c = Customer(stage="new", display_name=name, points=points)
    db.add(c)
    db.add(CustomerIdentity(kind="user_id", value=f"u-{next(_orders)}", customer=c))
    db.commit()
    return c


def paid(db, customer: Customer, amount: str, status: str = "completed") -> None:
    db.add(Order(order_no=f"DD2027{next(_orders):08d}", customer=customer, status=status, amount=Decimal(amount)))
    db.commit()


def coupon(db, customer: Customer, title: str, code: str, expires_at: datetime | None, redeemed: bool = False) -> None:
    offer = Offer(code=f"O{next(_orders)}", title=title, detail="满 99 减 10", kind="coupon", updated_by="admin")
    db.add(OfferIssuance(offer=offer, customer_id=customer.id, stage="new", trigger="chat", coupon_code=code,
                         expires_at=expires_at, redeemed_at=utcnow() if redeemed else None))
    db.commit()


@pytest.mark.parametrize("spent,level,next_text", [
    (0, "普通会员", "再消费 ¥500.00 升级到银卡会员"),
    (499.5, "普通会员", "再消费 ¥0.50 升级到银卡会员"),
    (500, "银卡会员", "再消费 ¥1500.00 升级到金卡会员"),
    (2000, "金卡会员", "再消费 ¥3000.00 升级到钻石会员"),
    (8000, "钻石会员", "您已是最高等级钻石会员"),
])
def test_levels_follow_cumulative_spend(spent, level, next_text):
    standing = standing_for(Decimal(str(spent)))
    assert standing.level.name == level and standing.next_level_text == next_text


def test_points_and_level_from_paid_orders_only(client, db):
    me = member(db, points=1280)
    paid(db, me, "400.00")
    paid(db, me, "250.00", status="delivered")
    paid(db, me, "5000.00", status="cancelled")  # not purchases
    paid(db, me, "3000.00", status="refunded")
    paid(db, me, "900.00", status="pending_payment")
    assert ask(client, me.id, "我现在有多少积分") == {"response": "utter_account_points", "slots": {
        "customer_name": "张小明", "points": "1280", "level": "银卡会员",
        "next_level_text": "再消费 ¥1350.00 升级到金卡会员"}}
    level = ask(client, me.id, "我是什么会员等级，有什么权益")
    assert level["response"] == "utter_account_level" and level["slots"]["level"] == "银卡会员"
    assert "会员日" in level["slots"]["benefits"]
    assert ask(client, me.id, "查一下我的账户")["response"] == "utter_account_points"


def test_coupons_held_with_expiry_in_the_shops_time_zone(client, db):
    me = member(db)
    assert ask(client, me.id, "我有哪些优惠券") == {"response": "utter_account_no_coupons", "slots": {}}
    soon = utcnow().replace(hour=17, minute=30, second=0, microsecond=0) + timedelta(days=2)  # 01:30 next day in Shanghai
    coupon(db, me, "新客立减券", "NEW-AAAA2222", soon)
    coupon(db, me, "会员日券", "VIP-BBBB3333", None)
    coupon(db, me, "已用券", "OLD-CCCC4444", soon, redeemed=True)
    coupon(db, me, "过期券", "OLD-DDDD5555", utcnow() - timedelta(hours=1))
    answer = ask(client, me.id, "我的券什么时候过期")
    assert answer["response"] == "utter_account_coupons"
    listed = answer["slots"]["coupon_list"]
    local = soon + timedelta(hours=8)
    assert f"NEW-AAAA2222，{local.year}年{local.month}月{local.day}日前有效" in listed
    assert "VIP-BBBB3333，长期有效" in listed
    assert "已用券" not in listed and "过期券" not in listed


def test_anonymous_visitors_are_told_to_sign_in(client, db):
    visitor = Customer(stage="prospect", points=50)
    db.add(visitor)
    db.add(CustomerIdentity(kind="web_client", value="x" * 64, customer=visitor))
    db.commit()
    assert ask(client, visitor.id, "我有多少积分") == {"response": "utter_account_sign_in", "slots": {}}
    assert ask(client, visitor.id, "我有哪些券")["response"] == "utter_account_sign_in"


def test_a_linked_wechat_follower_gets_the_members_account(client, db):
    me = member(db, points=77)
    follower = Customer(stage="prospect", merged_into_id=me.id)
    db.add(follower)
    db.commit()
    assert ask(client, follower.id, "积分多少")["slots"]["points"] == "77"


def test_bad_input_is_refused(client, db):
    me = member(db)
    url = f"/internal/customers/{me.id}/account-answer"
    assert client.get(url, params={"text": "分" * 501}, headers=AUTH).status_code == 422
    assert client.get(url).status_code == 401
    assert client.get("/internal/customers/999999/account-answer", headers=AUTH).status_code == 404
