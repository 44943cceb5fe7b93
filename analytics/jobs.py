"""The jobs: one registry, run by the scheduler process and by hand, every run recorded.

A job is a function ``(db, progress) -> counts`` registered with one decorator::

    @job("recompute-stages", schedule=lambda s: s.recompute_stages_cron,
         description="recompute every customer's lifecycle stage")
    def recompute_stages(db: Session, progress: Progress) -> dict[str, int]:
        progress.set_total(n)
        ...                      # commit in chunks; progress.advance(k) after each
        return {"customers": n, "changed": k}

``schedule`` is a crontab expression (minute hour day month day-of-week) in the shop's
time zone (``HX_SHOP_TIMEZONE``), or a function of the settings that returns one, so it
can be a setting. Write days of the week as names (``mon-fri``): APScheduler 3 numbers
Monday 0, cron numbers Sunday 0, so numbers are refused.

``run_job`` runs one by name and records it in ``job_runs`` (status, duration, counts,
error with a traceback summary), each record in its own short transaction, so a failure
is recorded even when the job's own work is rolled back. The job's session is committed
after it returns; a long job commits in chunks itself.

    python -m api.cli run-job --list
    python -m api.cli run-job recompute-stages        # with a progress bar
"""
from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import get_settings
from api.db.base import utcnow
from api.models import Customer, JobRun
from api.services.offers import issue_campaign_offers
from api.services.orders import recompute_stage

if TYPE_CHECKING:
    from api.core.config import Settings

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 8000


class Progress(Protocol):
    """How a job reports how far it got: the total once it is known, then steps."""

    def set_total(self, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


JobFunc = Callable[[Session, Progress], "dict[str, int] | None"]


@dataclass(frozen=True)
class Job:
    name: str
    func: JobFunc
    schedule: str | Callable[[Settings], str]  # crontab, in the shop's time zone
    description: str

    def crontab(self, settings: Settings) -> str:
        return self.schedule(settings) if callable(self.schedule) else self.schedule


JOBS: dict[str, Job] = {}


def job(name: str, *, schedule: str | Callable[[Settings], str], description: str) -> Callable[[JobFunc], JobFunc]:
    """Register a job function under ``name`` (also its scheduler job id)."""
    def register(fn: JobFunc) -> JobFunc:
        if name in JOBS:
            raise ValueError(f"job {name!r} is registered already")
        JOBS[name] = Job(name, fn, schedule, description)
        return fn
    return register


class UnknownJob(KeyError):
    def __str__(self) -> str:
        return f"unknown job {self.args[0]!r}; known jobs: {', '.join(sorted(JOBS)) or 'none'}"


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


class _Steps:
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


def describe_error(exc: BaseException) -> str:
    """The error in one line, then the innermost frames of its traceback."""
    head = f"{type(exc).__name__}: {exc}".strip()
    frames = "".join(traceback.format_exception(exc, limit=-6))
    text = f"{head}\n\n{frames}"
    return text if len(text) <= MAX_ERROR_CHARS else text[:200] + "\n…\n" + text[-(MAX_ERROR_CHARS - 210):]


def run_job(name: str, started_by: str, session_factory: sessionmaker[Session],
            progress: Progress | None = None, *, stop: threading.Event | None = None) -> JobRun:
    """Run a registered job and record the run; returns the JobRun (status ok or failed).

    The job's exception is not raised: it is in ``run.error`` and in the log. Only a
    failure to record the run itself (the database is unreachable) raises.
    KeyboardInterrupt and SystemExit are recorded as a failure and raised again.
    """
    if name not in JOBS:
        raise UnknownJob(name)
    entry = JOBS[name]
    with session_factory() as db:
        run = JobRun(job=name, started_by=started_by, status="running", started_at=utcnow(), counts={})
        db.add(run)
        db.commit()
        run_id = run.id
    log.info("job %s started (run %d, by %s)", name, run_id, started_by)
    clock = time.monotonic()
    counts: dict[str, int] = {}
    error: str | None = None
    escaping: BaseException | None = None
    try:
        with session_factory() as db:
            counts = dict(entry.func(db, _Steps(progress or NoProgress(), stop)) or {})
            db.commit()
    except BaseException as exc:  # noqa: BLE001 - recorded; KeyboardInterrupt/SystemExit re-raised below
        error = describe_error(exc)
        if not isinstance(exc, Exception):
            escaping = exc
    duration = time.monotonic() - clock
    with session_factory() as db:
        run = db.get(JobRun, run_id)
        run.status = "failed" if error else "ok"
        run.finished_at = utcnow()
        run.duration_seconds = round(duration, 3)
        run.counts = counts
        run.error = error
        db.commit()
        db.refresh(run)
    if error:
        log.error("job %s failed after %.1f s (run %d): %s", name, duration, run_id, error)
    else:
        log.info("job %s ok in %.1f s (run %d): %s", name, duration, run_id,
                 ", ".join(f"{k} {v}" for k, v in counts.items()) or "no counts")
    if escaping is not None:
        raise escaping
    return run


def close_abandoned_runs(session_factory: sessionmaker[Session], started_by: str = "scheduler") -> int:
    """Mark as failed the runs left 'running' by a process that was killed.

    Called by the scheduler when it starts: there is only one scheduler process, so
    none of its runs can still be going on.
    """
    with session_factory() as db:
        result = db.execute(update(JobRun)
                            .where(JobRun.status == "running", JobRun.started_by == started_by)
                            .values(status="failed", finished_at=utcnow(),
                                    error="abandoned: the process running it stopped before it ended"))
        db.commit()
    if result.rowcount:
        log.warning("%d %s job run(s) had been left running; marked failed", result.rowcount, started_by)
    return result.rowcount


# --- the jobs ---------------------------------------------------------------------------

STAGE_CHUNK = 500


@job("recompute-stages", schedule=lambda s: s.recompute_stages_cron,
     description="recompute every customer's lifecycle stage from their orders")
def recompute_stages(db: Session, progress: Progress) -> dict[str, int]:
    """Stages move with time alone (at risk, churned): recompute them all, trigger 'nightly'.

    Customers merged into another are skipped: they own no orders any more.
    """
    rules = get_settings().stage_rules()
    now = utcnow()
    current = Customer.merged_into_id.is_(None)
    progress.set_total(db.scalar(select(func.count()).select_from(Customer).where(current)) or 0)
    customers = changed = last_id = 0
    while True:
        chunk = db.scalars(select(Customer).where(current, Customer.id > last_id)
                           .order_by(Customer.id).limit(STAGE_CHUNK)).all()
        if not chunk:
            break
        last_id = chunk[-1].id
        for customer in chunk:
            changed += recompute_stage(db, customer, rules, trigger="nightly", now=now) is not None
        db.commit()
        db.expunge_all()  # keep memory flat however many customers there are
        customers += len(chunk)
        progress.advance(len(chunk))
    return {"customers": customers, "changed": changed}


@job("campaign-offers", schedule=lambda s: s.campaign_offers_cron,
     description="issue today's birthday, member-day and festival offers")
def campaign_offers(db: Session, progress: Progress) -> dict[str, int]:
    """Campaigns trigger on their dates in the shop's time zone; an offer's period keeps
    a customer from getting it twice, so a second run on the same day issues nothing."""
    settings = get_settings()
    now = utcnow()
    today = now.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(settings.shop_timezone)).date()
    return issue_campaign_offers(db, today, now, progress)


# The analytics jobs register themselves when imported; importing them here means every
# reader of the registry (the scheduler, the command line, the console) sees them all.
from analytics import learning_jobs  # noqa: E402,F401 - registers its jobs
