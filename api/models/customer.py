from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow

STAGES = ("prospect", "new", "growing", "stable", "at_risk", "churned")


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
    kind: Mapped[str] = mapped_column(String(16))  # web_client | user_id | wechat_openid
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
    trigger: Mapped[str] = mapped_column(String(16))  # order | nightly | import
    at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="stage_changes")
