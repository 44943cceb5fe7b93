"""What passes through a push channel (WeChat): deliveries received, messages sent.

The web chat needs neither: its page sends each message once with its own id and
fetches replies itself. WeChat retries a delivery it got no answer to, and can only be
answered in the same HTTP response or later through its customer-service API.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow
from api.models.conversation import Message


class InboundReceipt(Base):
    """One delivery from a channel, kept so its retries are recognised: a message is
    stored, answered and sent once however often it arrives. Events (subscribe,
    unsubscribe) are recorded here too: they are the channel's account history."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (
        UniqueConstraint("channel", "dedup_key", name="uq_inbound_receipts_channel_key"),
        Index("ix_inbound_receipts_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # wechat
    # MsgId, or for events the sender, creation time and event (bot/wechat.Inbound).
    dedup_key: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(24))  # text | voice | image | … | subscribe | unsubscribe
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message | None] = relationship()


class OutboundDelivery(Base):
    """A message to a customer on a push channel and how it went out.

    ``held``: being answered in the request WeChat is waiting on; ``passive``: went out
    as that request's reply; ``pending``: for the customer-service API (the sender,
    api/channels/wechat_sender.py); ``sent``; ``failed`` (``last_error`` says why, and
    the conversation is flagged for staff)."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (Index("ix_outbound_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    # The message's conversation, kept here so the sender and the workspace find a
    # conversation's deliveries (and keep their order) without a join.
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    message: Mapped[Message] = relationship()
