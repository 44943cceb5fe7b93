"""How the bot's turns went in the last minute, for ``GET /api/health``.

``api/services/turn.py`` records each turn the bot was asked to answer: answered, or
failed (Rasa timed out, was unreachable or errored, or gave no reply). In-process and
per worker, a few bytes per turn for one minute: enough to tell an operator that turns
are failing now, not a metric store.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0


@dataclass
class Recent:
    total: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failures_seen: int = 0  # every failure since the start: a change invalidates cached health


class TurnStats:
    def __init__(self, window: float = WINDOW_SECONDS):
        self.window = window
        self._turns: deque[tuple[float, str | None]] = deque()  # (monotonic time, failure reason)
        self._lock = threading.Lock()
        self.failures_seen = 0

    def record(self, failure: str | None = None) -> None:
        """One bot turn: ``failure`` is None when the bot answered, else why not."""
        now = time.monotonic()
        with self._lock:
            self._turns.append((now, failure))
            if failure:
                self.failures_seen += 1
            self._trim(now)

    def recent(self) -> Recent:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            reasons = Counter(f for _, f in self._turns if f)
            return Recent(len(self._turns), sum(reasons.values()), dict(reasons), self.failures_seen)

    def reset(self) -> None:
        with self._lock:
            self._turns.clear()
            self.failures_seen = 0

    def _trim(self, now: float) -> None:
        while self._turns and self._turns[0][0] < now - self.window:
            self._turns.popleft()


turns = TurnStats()
