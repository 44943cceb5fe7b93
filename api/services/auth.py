"""Staff accounts: password hashing, login with throttling, sessions that expire.

Passwords are hashed with scrypt from the standard library (memory-hard, no extra
dependency). A session is a random token in an HttpOnly cookie; the database keeps
only its SHA-256, so a copy of the database cannot be used to log in.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import StaffSession, StaffUser
from api.models.staff import ROLES

SESSION_COOKIE = "hx_staff"
MIN_PASSWORD_CHARS = 10
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 5
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


class AuthError(Exception):
    """Login refused; the message is safe to show (it never says which part was wrong)."""


class AccountLocked(AuthError):
    def __init__(self, until: datetime):
        super().__init__("登录失败次数过多，请稍后再试")
        self.until = until


@dataclass(frozen=True)
class Principal:
    """Who is calling the staff API."""

    id: int | None  # None for the bootstrap admin token
    username: str
    display_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def validate_new_account(username: str, password: str, role: str) -> None:
    if not _USERNAME.match(username):
        raise ValueError("username must be 3–64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def create_staff(db: Session, username: str, password: str, role: str, display_name: str | None = None) -> StaffUser:
    validate_new_account(username, password, role)
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise ValueError(f"username {username!r} is taken")
    user = StaffUser(username=username, display_name=display_name or username, role=role,
                     password_hash=hash_password(password))
    db.add(user)
    db.flush()
    return user


def set_password(user: StaffUser, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Compared against when the username is unknown, so both cases take as long.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def login(db: Session, username: str, password: str, session_hours: float,
          now: datetime | None = None) -> tuple[str, StaffUser]:
    """A new session token for correct credentials. Commits (failures are counted too)."""
    now = now or utcnow()
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        raise AuthError("用户名或密码错误")
    if user.locked_until and user.locked_until > now:
        raise AccountLocked(user.locked_until)
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        db.commit()
        raise AuthError("用户名或密码错误")
    user.failed_logins, user.locked_until = 0, None
    token = secrets.token_urlsafe(32)
    db.add(StaffSession(token_digest=_digest(token), staff_id=user.id, created_at=now,
                        last_seen_at=now, expires_at=now + timedelta(hours=session_hours)))
    # Expired sessions of this account are of no use to anyone.
    db.execute(delete(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.expires_at <= now))
    db.commit()
    return token, user


def principal_for_session(db: Session, token: str, now: datetime | None = None) -> Principal | None:
    now = now or utcnow()
    session = db.get(StaffSession, _digest(token))
    if session is None or session.expires_at <= now or not session.staff.active:
        return None
    user = session.staff
    return Principal(user.id, user.username, user.display_name, user.role)


def logout(db: Session, token: str) -> None:
    db.execute(delete(StaffSession).where(StaffSession.token_digest == _digest(token)))
    db.commit()
