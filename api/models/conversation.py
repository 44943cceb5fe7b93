from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow


class Conversation(Base):
    """A run of messages on one channel. Its id is chosen by the service, never a client."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_customer_status", "customer_id", "status"),
        Index("ix_conversations_needs_attention", "needs_attention"),
        Index("ix_conversations_handler_escalated", "handler", "escalated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # web | wechat
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    # Who answers: bot -> waiting (escalated, in the queue) -> staff -> bot (handed back).
    handler: Mapped[str] = mapped_column(String(16), default="bot")
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The staff member who should get this escalation first (patent step 4), if any.
    preferred_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    escalated_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    # Set when staff should look: the customer asked for a person, or the bot failed.
    needs_attention: Mapped[bool] = mapped_column(default=False)
    attention_reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """One message in either direction.

    Customer messages carry the intent and confidence Rasa gave them; bot messages
    carry the response template (``utter_*``) that produced them.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # A client retrying a send with the same id gets the stored message back.
        UniqueConstraint(
            "conversation_id", "client_message_id", name="uq_messages_conversation_client_id"
        ),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_reply_to_id", "reply_to_id"),
        # The timeline reads a customer's newest messages by time.
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
        # The analytics read messages by time across conversations (sentiment per week).
        Index("ix_messages_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    author: Mapped[str] = mapped_column(String(8))  # customer | bot | staff | system
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(64))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    template: Mapped[str | None] = mapped_column(String(96))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))  # author "staff"
    # The admin-edited variant of the template that was said (None: the default text).
    variant_id: Mapped[int | None]
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    # Customer messages: positive | neutral | negative and P(positive), from the sentiment
    # job (analytics/sentiment.py); None until it has run.
    sentiment: Mapped[str | None] = mapped_column(String(8))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationEvent(Base):
    """What happened to a conversation besides messages: escalated, claimed, handed
    back, resolved, an internal note. Every takeover, reply and hand-back is recorded."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # escalated | claimed | staff_reply | note | handed_back | resolved
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
