"""The jobs: one registry, run by the scheduler process and by hand, every run recorded.

A job is a function ``(db, progress) -> counts`` listed in ``JOBS`` below, the one place
that names them all::

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
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.db.base import utcnow
from api.jobs import association, lifecycle, loop, personas, sentiment, steps
from api.jobs.progress import JobInterrupted, NoProgress, Progress, StoppableProgress, TqdmProgress
from api.models import JobRun

if TYPE_CHECKING:
    from api.core.config import Settings

__all__ = ["ANALYTICS_ORDER", "JOBS", "Job", "JobInterrupted", "NoProgress", "Progress", "TqdmProgress",
           "UnknownJob", "close_abandoned_runs", "describe_error", "run_job"]

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 8000

JobFunc = Callable[[Session, Progress], "dict[str, int] | None"]


@dataclass(frozen=True)
class Job:
    name: str
    func: JobFunc
    schedule: str | Callable[[Settings], str]  # crontab, in the shop's time zone
    description: str
    label: str  # what the admin console calls it

    def crontab(self, settings: Settings) -> str:
        return self.schedule(settings) if callable(self.schedule) else self.schedule


# The analytics jobs in the order of the night (their crontabs follow it): each reads what
# the one before wrote. ``run-job --analytics`` runs them in this order.
ANALYTICS_ORDER = ("sentiment", "personas", "association", "step-scores", "loop")

# Every job, under its name (also its scheduler job id).
JOBS: dict[str, Job] = {job.name: job for job in (
    Job("recompute-stages", lifecycle.recompute_stages, lambda s: s.recompute_stages_cron,
        "recompute every customer's lifecycle stage from their orders", "重算客户阶段"),
    Job("campaign-offers", lifecycle.campaign_offers, lambda s: s.campaign_offers_cron,
        "issue today's birthday, member-day and festival offers", "发放活动优惠"),
    Job("sentiment", sentiment.sentiment, lambda s: s.sentiment_cron,
        "classify the sentiment of new customer messages and survey comments", "情感分析"),
    Job("personas", personas.persona_job, lambda s: s.personas_cron,
        "cluster customers into five personas and tag them (six tag families)", "客户画像与标签"),
    Job("association", association.association, lambda s: s.association_cron,
        "mine association rules: products bought together, conversation facts → NPS / repurchase",
        "关联规则挖掘"),
    Job("step-scores", steps.step_scoring_job, lambda s: s.step_scores_cron,
        "score each service step with the model the comparison chose; flag the weakest", "服务环节评分"),
    Job("loop", loop.loop, lambda s: s.loop_cron,
        "choose each stage's reply variants and offers from measured outcomes", "自动优化"),
)}
if not set(ANALYTICS_ORDER) <= set(JOBS):
    raise RuntimeError(f"ANALYTICS_ORDER names unknown jobs: {sorted(set(ANALYTICS_ORDER) - set(JOBS))}")


class UnknownJob(KeyError):
    def __str__(self) -> str:
        return f"unknown job {self.args[0]!r}; known jobs: {', '.join(sorted(JOBS)) or 'none'}"


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
            counts = dict(entry.func(db, StoppableProgress(progress or NoProgress(), stop)) or {})
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
