"""What the bot says and offers per lifecycle stage, edited by admins."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow

OFFER_KINDS = ("coupon", "upgrade", "benefit", "winback", "campaign")
OFFER_TRIGGERS = ("chat", "birthday", "member_day", "festival")
# An admin's say over the analytics loop, per variant and offer (loop_mode); what each
# means is api/services/loop_policy.py.
LOOP_MODES = ("auto", "pinned", "vetoed")
OFFER_KIND_LABELS = {"coupon": "优惠券", "upgrade": "升级礼遇", "benefit": "会员权益", "winback": "召回礼",
                     "campaign": "营销活动"}
OFFER_TRIGGER_LABELS = {"chat": "顾客询问时", "birthday": "生日", "member_day": "会员日", "festival": "节日活动"}


class ReplyVariant(Base):
    """The text of one ``utter_*`` response for customers of one stage.

    Several enabled variants of one response and stage are alternatives; the bot picks
    among them (by ``weight``, which the analytics loop adjusts).
    """

    __tablename__ = "reply_variants"
    __table_args__ = (Index("ix_reply_variants_template_stage", "template", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    # Only for customers of this persona (None: every persona of the stage).
    persona: Mapped[str | None] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    weight: Mapped[float] = mapped_column(default=1.0)
    # auto: the analytics loop sets ``weight``; pinned: the only one said in its group;
    # vetoed: never said while an admin keeps the veto.
    loop_mode: Mapped[str] = mapped_column(String(8), default="auto")
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class Offer(Base):
    """A coupon, recommendation or benefit for customers of some stages.

    ``rules`` holds the eligibility conditions (see api/services/offers.py); a customer
    never gets the same offer twice within ``period_days``.
    """

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16), default="chat")
    stages: Mapped[list] = mapped_column(JSON, default=list)  # empty: every stage
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    period_days: Mapped[int] = mapped_column(default=30)
    valid_days: Mapped[int] = mapped_column(default=14)  # how long an issued coupon lasts
    coupon_prefix: Mapped[str | None] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(default=0)
    # Among chat offers of equal priority a customer may have, the share each stage
    # gives this one ({stage: weight}), set by the analytics loop; see loop_mode above.
    stage_weights: Mapped[dict] = mapped_column(JSON, default=dict)
    loop_mode: Mapped[str] = mapped_column(String(8), default="auto")
    enabled: Mapped[bool] = mapped_column(default=True)
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class OfferIssuance(Base):
    """One offer given to one customer: when, where, and the coupon code."""

    __tablename__ = "offer_issuances"
    __table_args__ = (Index("ix_offer_issuances_customer_offer", "customer_id", "offer_id"),
                      UniqueConstraint("coupon_code", name="uq_offer_issuances_coupon_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(32))
    coupon_code: Mapped[str | None] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]

    offer: Mapped[Offer] = relationship()


class ContentRevision(Base):
    """Version history of variants and offers: who changed what and when.

    ``data`` is the whole record after the change (None after a delete), so any
    revision can be restored as it was.
    """

    __tablename__ = "content_revisions"
    __table_args__ = (Index("ix_content_revisions_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))  # variant | offer
    entity_id: Mapped[int]
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | rollback
    data: Mapped[dict | None] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")
