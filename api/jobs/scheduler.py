"""The one scheduler process: ``python -m api.jobs.scheduler`` (service env).

Runs every job of ``api.jobs.registry.JOBS`` on its schedule, in the shop's time zone
(``HX_SHOP_TIMEZONE``). Jobs are kept in the service database (table
``apscheduler_jobs``, created by APScheduler, not by Alembic) under their registry name,
re-added with ``replace_existing`` on every start, so a changed schedule replaces the
stored one and nothing is duplicated; stored jobs that left the registry are removed.

A run missed while the process was down is made up once when it starts again within
``MISFIRE_GRACE_SECONDS`` (several missed runs coalesce into one); later than that it
is skipped with a warning and the job waits for its next time. Jobs run one at a time.

APScheduler cannot share a job store between processes: start exactly one of these,
never inside the web workers. SIGTERM or SIGINT stops it: a running job stops at its
next progress step (its committed chunks stay), is recorded as failed, and the process
exits 0.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, EVENT_SCHEDULER_STARTED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler, SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from api.core.config import Settings, get_settings
from api.core.logging import setup_logging
from api.db.session import get_sessionmaker, make_engine
from api.jobs.registry import JOBS, Job, close_abandoned_runs, run_job

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
MISFIRE_GRACE_SECONDS = 3600

# Set when the process is asked to stop; a running job stops at its next progress step.
stopping = threading.Event()


def run_scheduled(name: str) -> None:
    """What every stored job calls: run the registry job ``name`` and record the run."""
    run_job(name, "scheduler", get_sessionmaker(), stop=stopping)


def cron_trigger(expr: str, timezone: ZoneInfo) -> CronTrigger:
    """A crontab expression as a trigger; days of the week must be names (see api.jobs.registry)."""
    fields = expr.split()
    if len(fields) == 5 and any(ch.isdigit() for ch in fields[4]):
        raise ValueError(f"crontab {expr!r}: write the day of the week as a name (mon, tue, …, sun); "
                         "APScheduler 3 numbers Monday 0 where cron numbers Sunday 0")
    return CronTrigger.from_crontab(expr, timezone=timezone)


def trigger_for(job: Job, settings: Settings) -> CronTrigger:
    return cron_trigger(job.crontab(settings), ZoneInfo(settings.shop_timezone))


def build_scheduler(settings: Settings, scheduler_cls: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """The scheduler with every registry job added (written to the store by ``start()``)."""
    timezone = ZoneInfo(settings.shop_timezone)
    # The service's engine settings (SQLite: WAL, busy_timeout; PostgreSQL: pre-ping).
    store = SQLAlchemyJobStore(engine=make_engine(settings.database_url), tablename=JOBSTORE_TABLE)
    scheduler = scheduler_cls(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone=timezone,
    )
    for job in JOBS.values():
        scheduler.add_job(run_scheduled, trigger=trigger_for(job, settings), args=[job.name], id=job.name,
                          name=job.description, replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=MISFIRE_GRACE_SECONDS)
    scheduler.add_listener(lambda _event: _on_started(scheduler), EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(_on_missed, EVENT_JOB_MISSED)
    return scheduler


def _on_started(scheduler: BaseScheduler) -> None:
    kept = []
    for stored in scheduler.get_jobs():
        if stored.id not in JOBS:
            scheduler.remove_job(stored.id)
            log.info("removed stored job %s: it is not in the registry any more", stored.id)
        else:
            kept.append(stored.id)
            log.info("job %s (%s): next run %s", stored.id, stored.trigger, stored.next_run_time)
    # ops/stack.py waits for this line.
    log.info("scheduler running: %s", ", ".join(kept) or "no jobs")


def _on_missed(event: JobEvent) -> None:
    log.warning("job %s missed its run of %s by more than %d s; it runs again at its next time",
                event.job_id, event.scheduled_run_time, MISFIRE_GRACE_SECONDS)


def main() -> int:
    setup_logging()
    settings = get_settings()
    close_abandoned_runs(get_sessionmaker())
    scheduler = build_scheduler(settings)
    shutdown: list[threading.Thread] = []

    def shut_down() -> None:
        try:
            scheduler.shutdown(wait=True)  # waits for a running job to reach its next step
        except SchedulerNotRunningError:
            pass

    def stop_when_asked() -> None:
        # Not in the signal handler itself: shutdown takes the scheduler's locks, which
        # the main thread may hold at that moment.
        if stopping.is_set() and scheduler.running and not shutdown:
            shutdown.append(threading.Thread(target=shut_down, name="scheduler-shutdown"))
            shutdown[0].start()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()
        stop_when_asked()  # if the scheduler is not running yet, the listener below does it

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.add_listener(lambda _event: stop_when_asked(), EVENT_SCHEDULER_STARTED)
    log.info("scheduler starting: %d job(s), time zone %s, job store table %s",
             len(JOBS), settings.shop_timezone, JOBSTORE_TABLE)
    scheduler.start()  # blocks until shut down
    for thread in shutdown:
        thread.join()
    log.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: stored jobs refer to
    # api.jobs.scheduler:run_scheduled, and it must see the same ``stopping`` event.
    from api.jobs.scheduler import main as _main

    sys.exit(_main())
