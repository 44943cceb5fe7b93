from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow

if TYPE_CHECKING:
    from api.models.customer import Customer

ORDER_CHANNELS = ("web", "wechat", "app", "store")  # where an order was placed (Order.channel)
ORDER_STATUS_LABELS = {
    "pending_payment": "待付款",
    "paid": "已付款，等待发货",
    "shipped": "已发货，运输中",
    "delivered": "已签收",
    "completed": "已完成",
    "refunding": "退款处理中",
    "refunded": "已退款",
    "cancelled": "已取消",
}


class Product(Base):
    """A product of the shop's catalogue, with what customers ask about it.

    ``attributes`` maps an attribute's Chinese name to its value as the shop writes it
    ({"容量": "500ml", "是否可装开水": "可以"}); ``aliases`` are other names customers use
    (["保温杯", "不锈钢杯"]). Both are found in chat messages without retraining the bot.
    """
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    stock: Mapped[int] = mapped_column(default=0)
    on_sale: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")

    qas: Mapped[list[ProductQA]] = relationship(back_populates="product", cascade="all, delete-orphan",
                                                order_by="ProductQA.id")


class ProductQA(Base):
    """An admin-written question and answer about one product ("能装开水吗" → "可以…")."""
    __tablename__ = "product_qas"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")

    product: Mapped[Product] = relationship(back_populates="qas")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    channel: Mapped[str] = mapped_column(String(16), default="web")
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_no: Mapped[str | None] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()
