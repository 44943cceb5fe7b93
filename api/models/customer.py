from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analytics.kinds import PERSONA_LABELS, PERSONAS  # noqa: F401 - seed 003's kinds (Customer.persona)
from api.db.base import Base, utcnow

STAGES = ("prospect", "new", "growing", "stable", "at_risk", "churned")
STAGE_LABELS = {"prospect": "潜在客户", "new": "新客户", "growing": "成长客户", "stable": "稳定客户",
                "at_risk": "流失预警客户", "churned": "流失客户"}


class Customer(Base):
    """A person, whichever channels and devices they reach us from (patent step 1)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="prospect")
    points: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_ip: Mapped[str | None] = mapped_column(String(45))
    last_ip: Mapped[str | None] = mapped_column(String(45))
    birthday: Mapped[date | None]
    # One of seed 003's five kinds, set by the analytics persona job.
    persona: Mapped[str | None] = mapped_column(String(24))
    # Seed 003's tag library in six families (channel, ratings, attributes, contact
    # volume, complaint risk, cluster), set by the persona job.
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    # Set when this record was merged into another customer (kept so a merge can be
    # undone); such a customer owns nothing any more and is never recognised again.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    stage_changes: Mapped[list[StageTransition]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="StageTransition.id"
    )


class CustomerIdentity(Base):
    """One way of recognising a customer: a web client id, a brand user id, an openid.

    Web client ids are stored as SHA-256 digests: the cookie is the credential, and a
    copy of the database must not let anyone pose as the customer.
    """

    __tablename__ = "customer_identities"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_customer_identities_kind_value"),
        Index("ix_customer_identities_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # web_client | user_id | wechat_openid | phone
    value: Mapped[str] = mapped_column(String(128))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class StageTransition(Base):
    """Every change of a customer's lifecycle stage, with when and why."""

    __tablename__ = "stage_transitions"
    __table_args__ = (Index("ix_stage_transitions_customer_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))  # order | nightly | import | merge
    at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="stage_changes")


class CustomerMerge(Base):
    """One customer record folded into another (patent step 2), or a proposal to.

    ``moved`` lists the ids of every row that changed owner and ``target_before`` the
    target's own fields as they were, so an undo puts exactly those back. Unverified
    links (a phone number typed in chat that another customer already has) are stored
    as ``proposed`` until staff confirm them: a typed number is a claim, not a proof.
    """

    __tablename__ = "customer_merges"
    __table_args__ = (Index("ix_customer_merges_target_id", "target_id"),
                      Index("ix_customer_merges_source_id", "source_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16))  # proposed | merged | undone | rejected
    reason: Mapped[str] = mapped_column(String(16))  # login | phone | staff | wechat
    detail: Mapped[str] = mapped_column(String(200), default="")
    moved: Mapped[dict] = mapped_column(JSON, default=dict)
    target_before: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_at: Mapped[datetime | None]
    merged_by: Mapped[str | None] = mapped_column(String(64))
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(64))
