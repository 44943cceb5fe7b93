"""Satisfaction surveys and the follow-ups they cause (patent step 5)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.base import Base, utcnow

# The patent's four indicators, plus overall satisfaction and likelihood to recommend.
SCORE_FIELDS = ("overall", "quality", "service", "value", "innovation")


class Survey(Base):
    """One satisfaction survey of one conversation, asked in chat or sent through the API.

    Every answer may be skipped (None). ``stage`` and ``persona`` are the customer's at
    the time, so results can be read per stage even after the customer moves on.
    """

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_customer_id", "customer_id"),
                      Index("ix_surveys_started_at", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # One survey per conversation.
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    persona: Mapped[str | None] = mapped_column(String(24))
    trigger: Mapped[str] = mapped_column(String(16))  # goodbye | resolved | api
    # asking (in chat, ``question`` is the one waiting) | completed | declined | abandoned
    status: Mapped[str] = mapped_column(String(16), default="asking")
    question: Mapped[str | None] = mapped_column(String(16))
    overall: Mapped[int | None]
    quality: Mapped[int | None]
    service: Mapped[int | None]
    value: Mapped[int | None]
    innovation: Mapped[int | None]
    nps: Mapped[int | None]  # 0-10
    comment: Mapped[str | None] = mapped_column(Text)
    comment_sentiment: Mapped[str | None] = mapped_column(String(8))
    comment_score: Mapped[float | None] = mapped_column(Float)
    reply: Mapped[str | None] = mapped_column(Text)  # what we answered to the comment
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class FollowUpTask(Base):
    """Something staff must do for a customer: call back after a negative comment."""

    __tablename__ = "follow_up_tasks"
    __table_args__ = (Index("ix_follow_up_tasks_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))  # negative_comment | detractor | low_score
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
