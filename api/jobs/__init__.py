"""The service's jobs: code the clock triggers (or an operator, ``python -m api.cli run-job``).

A job reads the database, calls services or the pure analytics (``analytics/``), writes
results and is recorded in ``job_runs``. Layers: routes → jobs → services → models;
``analytics`` is below them all and never imports ``api``.

    registry      every job, listed in one place; run_job records each run
    progress      how a job reports progress (and is stopped between two steps)
    scheduler     the one APScheduler process: ``python -m api.jobs.scheduler``
    lifecycle     recompute-stages, campaign-offers
    sentiment, personas, association, steps, loop   the analytics jobs, in their nightly order
    purchases     shared reading: who bought again within a window
"""
