from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, utcnow

ROLES = ("agent", "admin")
ROLE_LABELS = {"agent": "客服", "admin": "管理员"}


class StaffUser(Base):
    """A support agent or an admin. Passwords are stored as scrypt hashes only."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # agent | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # No longer used to lock logins (that is per account *and* address: StaffLockout);
    # kept for existing databases and reset when the password is set.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class StaffLockout(Base):
    """An account locked for logins from one address after repeated wrong passwords: the
    lock itself (while ``locked_until`` is ahead and nobody unlocked it) and its record.
    Other addresses can still log in to the account."""

    __tablename__ = "staff_lockouts"
    __table_args__ = (Index("ix_staff_lockouts_staff_id_address", "staff_id", "address", "locked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int]  # wrong passwords that led to it
    locked_at: Mapped[datetime]
    locked_until: Mapped[datetime]
    unlocked_at: Mapped[datetime | None]
    unlocked_by: Mapped[str | None] = mapped_column(String(64))


class StaffSession(Base):
    """A logged-in browser. Only the SHA-256 of the session token is stored."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff_id", "staff_id"),)

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[StaffUser] = relationship()


class CannedReply(Base):
    """A ready answer staff insert into a reply."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffRoute(Base):
    """Customers of a stage and/or persona have a dedicated staff member, who gets their
    escalations first (patent step 4)."""

    __tablename__ = "staff_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    stage: Mapped[str | None] = mapped_column(String(16))
    persona: Mapped[str | None] = mapped_column(String(24))
