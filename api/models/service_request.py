"""Self-service requests on an order (return, cancel, address change), made by the
customer in chat and handled by the shop's rules, then by staff where a person decides."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow
from api.models.order import Order

REQUEST_KINDS = {"return": "退货退款", "cancel": "取消订单", "address": "修改收货地址"}
REQUEST_STATUS_LABELS = {
    "submitted": "已提交，等待客服审核",
    "approved": "已同意",
    "rejected": "未通过",
    "done": "已完成",
    "withdrawn": "已撤回",
}


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (Index("ix_service_requests_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)  # told to the customer
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # REQUEST_KINDS
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # REQUEST_STATUS_LABELS
    items: Mapped[list] = mapped_column(JSON, default=list)  # product names the request covers
    reason: Mapped[str] = mapped_column(String(200), default="")
    new_address: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(200), default="")  # staff's or the rules' word
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    handled_by: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order] = relationship()
