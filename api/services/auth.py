"""Staff accounts: password hashing, login with throttling, sessions that expire.

Passwords are hashed with scrypt from the standard library (memory-hard, no extra
dependency). A session is a random token in an HttpOnly cookie; the database keeps
only its SHA-256, so a copy of the database cannot be used to log in.

Wrong passwords lock an account for the address they came from only (a StaffLockout
row: the lock and its record), for longer each time that pair is locked again within a
day; so someone guessing from one address cannot lock the real user out from another.
Admins unlock (``unlock``: the API and ``python -m api.cli unlock|set-password``).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from api.core.config import Settings, get_settings
from api.db.base import utcnow
from api.models import StaffLockout, StaffSession, StaffUser
from api.models.staff import ROLES
from api.services import rate_limits

SESSION_COOKIE = "hx_staff"
MIN_PASSWORD_CHARS = 10
# Earlier locks of the same account and address within this long make the next one longer.
LOCK_MEMORY = timedelta(days=1)
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


class AuthError(Exception):
    """Login refused; the message is safe to show (it never says which part was wrong)."""


class AccountLocked(AuthError):
    def __init__(self, until: datetime, now: datetime):
        super().__init__("登录失败次数过多，请稍后再试")
        self.until = until
        self.retry_after = max(1, int((until - now).total_seconds()) + 1)


@dataclass(frozen=True)
class LockPolicy:
    """How wrong passwords lock an account for one address (HX_LOGIN_LOCK_*)."""

    after_failures: int = 5
    failure_window_seconds: float = 900.0
    first_lock_seconds: float = 300.0
    max_lock_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LockPolicy:
        return cls(settings.login_lock_after_failures, settings.login_failure_window_seconds,
                   settings.login_lock_seconds, settings.login_lock_max_seconds)

    def lock_seconds(self, earlier_locks: int) -> float:
        """Doubled for each earlier lock of the same account and address."""
        return min(self.first_lock_seconds * 2 ** min(earlier_locks, 30), self.max_lock_seconds)


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
        raise ValueError("用户名须为 3–64 个字母、数字或 . _ - 字符")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符")
    if role not in ROLES:
        raise ValueError(f"未知的角色 {role!r}；可选：{'、'.join(ROLES)}")


def create_staff(db: Session, username: str, password: str, role: str, display_name: str | None = None) -> StaffUser:
    validate_new_account(username, password, role)
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise ValueError(f"用户名 {username!r} 已被使用")
    user = StaffUser(username=username, display_name=display_name or username, role=role,
                     password_hash=hash_password(password))
    db.add(user)
    db.flush()
    return user


def set_password(user: StaffUser, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Compared against when the username is unknown, so both cases take as long.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _failures_key(staff_id: int, address: str) -> str:
    return f"login-account:{staff_id}:{address}"


def active_lockout(db: Session, staff_id: int, address: str, now: datetime) -> StaffLockout | None:
    """The lock on logins to this account from this address, if one is in force."""
    return db.scalars(select(StaffLockout).where(
        StaffLockout.staff_id == staff_id, StaffLockout.address == address, StaffLockout.locked_until > now,
        StaffLockout.unlocked_at.is_(None)).order_by(StaffLockout.locked_until.desc()).limit(1)).first()


def login(db: Session, username: str, password: str, session_hours: float,
          now: datetime | None = None, address: str = "unknown",
          policy: LockPolicy | None = None) -> tuple[str, StaffUser]:
    """A new session token for correct credentials. Commits (a lock is recorded too).

    ``address`` is where the attempt came from: wrong passwords lock the account for
    that address only (AccountLocked until the lock ends or an admin unlocks it)."""
    now = now or utcnow()
    policy = policy or LockPolicy.from_settings(get_settings())
    address = address[:64]
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        raise AuthError("用户名或密码错误")
    lock = active_lockout(db, user.id, address, now)
    if lock is not None:
        raise AccountLocked(lock.locked_until, now)
    key = _failures_key(user.id, address)
    if not verify_password(password, user.password_hash):
        failures = rate_limits.store().record(key, policy.failure_window_seconds, rate_limits.seconds(now))
        if failures >= policy.after_failures:
            earlier = db.scalar(select(func.count()).select_from(StaffLockout).where(
                StaffLockout.staff_id == user.id, StaffLockout.address == address,
                StaffLockout.locked_at > now - LOCK_MEMORY)) or 0
            db.add(StaffLockout(staff_id=user.id, address=address, failures=failures, locked_at=now,
                                locked_until=now + timedelta(seconds=policy.lock_seconds(earlier))))
            db.commit()
            rate_limits.store().clear(key)
        raise AuthError("用户名或密码错误")
    rate_limits.store().clear(key)
    user.failed_logins, user.locked_until = 0, None
    token = secrets.token_urlsafe(32)
    db.add(StaffSession(token_digest=_digest(token), staff_id=user.id, created_at=now,
                        last_seen_at=now, expires_at=now + timedelta(hours=session_hours)))
    # Expired sessions of this account are of no use to anyone.
    db.execute(delete(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.expires_at <= now))
    db.commit()
    return token, user


def unlock(db: Session, user: StaffUser, by: str, now: datetime | None = None) -> int:
    """Lift every lock on the account (from any address); how many there were. Not
    committed. The records stay, with who unlocked them and when."""
    now = now or utcnow()
    addresses = list(db.scalars(select(StaffLockout.address).where(
        StaffLockout.staff_id == user.id, StaffLockout.locked_until > now, StaffLockout.unlocked_at.is_(None))))
    if addresses:
        db.execute(update(StaffLockout).where(
            StaffLockout.staff_id == user.id, StaffLockout.locked_until > now, StaffLockout.unlocked_at.is_(None))
            .values(unlocked_at=now, unlocked_by=by[:64]))
    for address in set(addresses):
        rate_limits.store().clear(_failures_key(user.id, address))
    user.failed_logins, user.locked_until = 0, None
    return len(addresses)


def lockouts(db: Session, staff_id: int, limit: int = 100) -> list[StaffLockout]:
    """The account's lockouts, newest first."""
    return list(db.scalars(select(StaffLockout).where(StaffLockout.staff_id == staff_id)
                           .order_by(StaffLockout.locked_at.desc(), StaffLockout.id.desc()).limit(limit)))


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
