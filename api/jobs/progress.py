"""How a job reports how far it got, and how it is stopped between two steps."""
from __future__ import annotations

import sys
import threading
from typing import Protocol


class Progress(Protocol):
    """How a job reports how far it got: the total once it is known, then steps."""

    def set_total(self, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class JobInterrupted(Exception):
    """Raised at a progress step when the process running the job is stopping."""


class NoProgress:
    def set_total(self, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class TqdmProgress:
    """A progress bar on stderr, for runs by hand."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="", file=sys.stderr, dynamic_ncols=True)

    def set_total(self, total: int) -> None:
        self.bar.total = total
        self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StoppableProgress:
    """Passes progress on, and stops the job at its next step once ``stop`` is set."""

    def __init__(self, progress: Progress, stop: threading.Event | None) -> None:
        self.progress, self.stop = progress, stop

    def set_total(self, total: int) -> None:
        self.progress.set_total(total)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(n)
        if self.stop is not None and self.stop.is_set():
            raise JobInterrupted("stopped between two steps: the process is shutting down "
                                 "(the steps before were committed)")
