"""What the analytics jobs found, kept for the admin console and for the next reply."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from analytics.kinds import STEP_LABELS, STEPS  # noqa: F401 - the steps StepScore.step names
from api.db.base import Base, utcnow


class AssociationRule(Base):
    """A rule X → Y found by the association job; each run replaces its kind's rules.

    kind ``basket``: products bought together (feeds "also bought" in chat);
    kind ``conversation``: conversation facts → NPS class or repurchase.
    """

    __tablename__ = "association_rules"
    __table_args__ = (Index("ix_association_rules_kind", "kind", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int]
    antecedents: Mapped[list] = mapped_column(JSON)
    consequents: Mapped[list] = mapped_column(JSON)
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StepScore(Base):
    """How one service step (greeting, identification, …) does, from the scoring job."""

    __tablename__ = "step_scores"
    __table_args__ = (Index("ix_step_scores_computed_at", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[str] = mapped_column(String(24))
    score: Mapped[float] = mapped_column(Float)  # 0-100, higher is better
    impact: Mapped[float] = mapped_column(Float)  # satisfaction points to gain by fixing it
    weakest: Mapped[bool] = mapped_column(default=False)
    conversations: Mapped[int]
    model: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoopChoice(Base):
    """What the loop decided for one reply variant or offer in one group, and why."""

    __tablename__ = "loop_choices"
    __table_args__ = (Index("ix_loop_choices_kind_computed", "kind", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # variant | offer
    group_key: Mapped[str] = mapped_column(String(120))  # template|stage|persona or offer|stage|priority
    stage: Mapped[str] = mapped_column(String(16))
    arm_id: Mapped[int]
    mode: Mapped[str] = mapped_column(String(8))  # auto | pinned | vetoed
    observations: Mapped[int]
    mean_reward: Mapped[float] = mapped_column(Float)
    p_best: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsReport(Base):
    """A job's summary for the console: model comparisons, cluster centres, mining stats."""

    __tablename__ = "analytics_reports"
    __table_args__ = (Index("ix_analytics_reports_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # sentiment | rules | steps | personas | loop
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
