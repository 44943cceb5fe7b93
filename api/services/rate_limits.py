"""How much one client may do: sliding-window counts behind one small interface.

A limit is a number of events per window of seconds, counted under a key that names
the client ("messages:customer:42", "sessions:ip:203.0.113.7"). The store that counts
is the only state: ``MemoryStore`` keeps it in this process (the service runs as one
process, see ops/stack.py); several processes need a shared one (Redis: a sorted set
per key does the same four operations) installed with ``use_store``.

Callers pass ``now`` (seconds, or a naive UTC datetime) so tests can move the clock.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from api.core.config import Settings


class RateStore(Protocol):
    """What a store must do; every method is atomic per key."""

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        """Count one event if fewer than ``limit`` happened in the last ``window``
        seconds and return 0; else count nothing and return the seconds until one fits."""

    def record(self, key: str, window: float, now: float) -> int:
        """Count one event unconditionally; how many are now in the window."""

    def wait(self, key: str, limit: int, window: float, now: float) -> float:
        """Seconds until fewer than ``limit`` events are in the window; 0 when already
        (counts nothing)."""

    def clear(self, key: str) -> None:
        """Forget the key's events."""


class MemoryStore:
    """Timestamps per key in this process, trimmed as they age; thread-safe (sync routes
    run in the thread pool)."""

    SWEEP_EVERY = 1000  # operations between sweeps of keys whose events all expired

    def __init__(self) -> None:
        self._events: dict[str, tuple[float, deque[float]]] = {}
        self._lock = threading.Lock()
        self._ops = 0

    def _trimmed(self, key: str, window: float, now: float) -> deque[float]:
        self._ops += 1
        if self._ops % self.SWEEP_EVERY == 0:
            self._sweep(now)
        _, events = self._events.setdefault(key, (window, deque()))
        self._events[key] = (window, events)
        while events and now - events[0] >= window:
            events.popleft()
        return events

    def _sweep(self, now: float) -> None:
        for key, (window, events) in list(self._events.items()):
            if not events or now - events[-1] >= window:
                del self._events[key]

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        with self._lock:
            events = self._trimmed(key, window, now)
            wait = self._wait(events, limit, window, now)
            if not wait:
                events.append(now)
            return wait

    @staticmethod
    def _wait(events: deque[float], limit: int, window: float, now: float) -> float:
        if len(events) < limit:
            return 0.0
        return max(events[len(events) - limit] + window - now, 0.001)

    def record(self, key: str, window: float, now: float) -> int:
        with self._lock:
            events = self._trimmed(key, window, now)
            events.append(now)
            return len(events)

    def wait(self, key: str, limit: int, window: float, now: float) -> float:
        with self._lock:
            return self._wait(self._trimmed(key, window, now), limit, window, now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


_store: RateStore = MemoryStore()


def store() -> RateStore:
    return _store


def use_store(new: RateStore) -> None:
    """Install another store (a shared one, or a fresh one in tests)."""
    global _store
    _store = new


def reset() -> None:
    """Forget every count (tests)."""
    use_store(MemoryStore())


def seconds(now: float | datetime | None) -> float:
    """The store's clock: epoch seconds; naive datetimes are UTC (api.db.base.utcnow)."""
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    return float(now)


@dataclass(frozen=True)
class Limit:
    name: str
    events: int  # 0: no limit
    window: float  # seconds
    message: str  # shown to a person, in Chinese

    def key(self, who: str) -> str:
        return f"{self.name}:{who}"


class RateLimited(Exception):
    """Refused by a limit; nothing was counted or written."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


def take(limit: Limit, who: str, now: float | datetime | None = None) -> None:
    """Count one event of ``who`` under ``limit``; RateLimited (nothing counted) when over."""
    if limit.events <= 0:
        return
    wait = _store.take(limit.key(who), limit.events, limit.window, seconds(now))
    if wait > 0:
        raise RateLimited(limit.message, wait)


def check(limit: Limit, who: str, now: float | datetime | None = None) -> None:
    """RateLimited when ``who`` has used up ``limit``; counts nothing (``record`` does)."""
    if limit.events <= 0:
        return
    wait = _store.wait(limit.key(who), limit.events, limit.window, seconds(now))
    if wait > 0:
        raise RateLimited(limit.message, wait)


def record(limit: Limit, who: str, now: float | datetime | None = None) -> int:
    """Count one event of ``who`` whatever the limit; how many are in the window now."""
    return _store.record(limit.key(who), limit.window, seconds(now))


# --- the limits of the service, from the settings -------------------------------------------

MESSAGES_TEXT = "您发送消息太频繁了，请稍等片刻再发送～"
SESSIONS_TEXT = "当前网络新建会话过于频繁，请稍后再试"
LOGINS_TEXT = "登录尝试过于频繁，请稍后再试"


def messages_per_customer(settings: Settings) -> Limit:
    return Limit("messages", settings.rate_messages_per_customer, settings.rate_messages_window_seconds,
                 MESSAGES_TEXT)


def new_sessions_per_address(settings: Settings) -> Limit:
    return Limit("sessions", settings.rate_new_sessions_per_address, settings.rate_new_sessions_window_seconds,
                 SESSIONS_TEXT)


def escalations_per_address(settings: Settings) -> Limit:
    return Limit("escalations", settings.rate_escalations_per_address,
                 settings.rate_escalations_window_seconds, "")


def failed_logins_per_address(settings: Settings) -> Limit:
    return Limit("login-failures", settings.rate_failed_logins_per_address,
                 settings.rate_failed_logins_window_seconds, LOGINS_TEXT)


def address_key(address: str | None, customer_id: int | None = None) -> str:
    """Who an address-based limit counts: the address, else (WeChat, no address) the customer."""
    if address:
        return f"ip:{address}"
    return f"customer:{customer_id}" if customer_id is not None else "ip:unknown"
