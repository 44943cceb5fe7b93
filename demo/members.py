"""Demo data for a small shop: products (with their facts, ``demo/catalogue.py``), three
members and their orders.

``python -m demo seed`` adds it once (it does nothing when products exist). The members
log in to the web chat through the signed user id of ``api.services.identity.user_hash``.
After them it adds a generated population (``demo/shop.py``) of ``HX_DEMO_CUSTOMERS``
customers (default 400; 0 adds none). ``seed()`` itself generates none unless asked
(``demo_customers``), so tests that count the three members keep their shop.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.catalogue import product_facts, product_qas
from demo.shop import generate_demo_shop
from api.models import Customer, CustomerIdentity, Order, OrderItem, Product, ProductQA
from api.domain.lifecycle import StageRules

PRODUCTS = [
    ("TEA-001", "明前龙井 250g", "茶叶", "168.00"),
    ("TEA-002", "云南普洱熟茶饼 357g", "茶叶", "128.00"),
    ("CUP-001", "不锈钢保温杯 500ml", "杯具", "89.00"),
    ("CUP-002", "玻璃泡茶杯 带滤网", "杯具", "59.00"),
    ("BAG-001", "帆布托特包", "箱包", "79.00"),
    ("BAG-002", "轻便双肩包 20L", "箱包", "199.00"),
    ("TEE-001", "纯棉圆领短袖 T 恤", "服饰", "69.00"),
    ("TEE-002", "加绒卫衣", "服饰", "159.00"),
    ("SNK-001", "每日坚果 30 袋装", "零食", "99.00"),
    ("SNK-002", "手工牛轧糖 500g", "零食", "49.00"),
    ("HOM-001", "香薰蜡烛 雪松味", "家居", "88.00"),
    ("HOM-002", "珊瑚绒毛毯", "家居", "129.00"),
]

# (user id, name, points, [(order no, status, days ago, carrier, tracking no, [(sku, qty)])])
MEMBERS = [
    ("demo-1001", "张小明", 320, [
        ("DD202611150001", "shipped", 3, "顺丰速运", "SF1402938475610", [("CUP-001", 1), ("TEA-001", 1)]),
        ("DD202611020007", "completed", 20, "中通快递", "ZT7730192837465", [("SNK-001", 2)]),
        ("DD202610180012", "refunded", 35, "圆通速递", "YT9128374650192", [("TEE-002", 1)]),
    ]),
    ("demo-1002", "李华", 1280, [
        ("DD202611200003", "paid", 1, None, None, [("HOM-002", 1)]),
        ("DD202611110021", "delivered", 10, "京东快递", "JD0081726354901", [("BAG-002", 1), ("CUP-002", 2)]),
    ]),
    ("demo-1003", "王芳", 0, []),
]


def seed(db: Session, now: datetime | None = None, *, demo_customers: int = 0,
         rules: StageRules | None = None) -> bool:
    """Add the demo shop, and ``demo_customers`` generated ones; False when there is already data."""
    if db.scalar(select(Product.id).limit(1)) is not None:
        return False
    now = now or datetime.utcnow()
    products = {sku: Product(sku=sku, name=name, category=cat, price=Decimal(price), **product_facts(sku),
                             qas=[ProductQA(question=q, answer=a) for q, a in product_qas(sku)])
                for sku, name, cat, price in PRODUCTS}
    db.add_all(products.values())
    for user_id, name, points, orders in MEMBERS:
        customer = Customer(display_name=name, points=points,
                            stage="new" if orders else "prospect",
                            first_seen_at=now - timedelta(days=60), last_seen_at=now - timedelta(days=1))
        customer.identities.append(CustomerIdentity(kind="user_id", value=user_id))
        db.add(customer)
        for order_no, status, days_ago, carrier, tracking_no, lines in orders:
            placed = now - timedelta(days=days_ago)
            items = [OrderItem(product=products[sku], quantity=qty, unit_price=products[sku].price)
                     for sku, qty in lines]
            shipped = placed + timedelta(days=1) if carrier else None
            delivered = placed + timedelta(days=3) if status in ("delivered", "completed", "refunded") else None
            db.add(Order(order_no=order_no, customer=customer, status=status, items=items,
                         amount=sum(i.unit_price * i.quantity for i in items), carrier=carrier,
                         tracking_no=tracking_no, placed_at=placed, shipped_at=shipped,
                         delivered_at=delivered))
    db.commit()
    if demo_customers:
        generate_demo_shop(db, customers=demo_customers, now=now, rules=rules)
    return True


def demo_customers_from_env() -> int:
    """``HX_DEMO_CUSTOMERS``: how many generated customers the demo gets (default 400, 0: none)."""
    value = (os.environ.get("HX_DEMO_CUSTOMERS") or "400").strip()
    if not value.isdigit():
        raise SystemExit(f"HX_DEMO_CUSTOMERS must be a whole number of customers, not {value!r}")
    return int(value)

