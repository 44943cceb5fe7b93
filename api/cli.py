"""Command-line jobs of the service.

    python -m api.cli import-orders FILE.csv [--skip-invalid]
    python -m api.cli recompute-stages        # the nightly job, run by hand
    python -m api.cli run-job NAME | --list   # any scheduled job, with a progress bar
    python -m api.cli run-job --analytics     # the five analytics jobs in their nightly order
    python -m api.cli create-staff USERNAME --role agent|admin   # password from stdin or HX_NEW_PASSWORD
    python -m api.cli set-password USERNAME                      # also unlocks the account
    python -m api.cli unlock USERNAME                            # lift its login locks (every address)

The demo shop has its own commands: ``python -m demo --help``.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlalchemy import select

from api.core.config import get_settings
from api.db.session import get_sessionmaker
from api.models import JobRun, StaffUser
from api.services.auth import create_staff, set_password, unlock
from api.services.order_import import import_orders


def cmd_import_orders(args: argparse.Namespace) -> int:
    with open(args.file, encoding="utf-8-sig", newline="") as stream, get_sessionmaker()() as db:
        report = import_orders(db, stream, get_settings().stage_rules(), skip_invalid=args.skip_invalid)
    for line, problem in report.errors:
        print(f"line {line}: {problem}", file=sys.stderr)
    if report.errors and not args.skip_invalid:
        print(f"nothing imported: {len(report.errors)} problem(s); fix them, or pass --skip-invalid "
              "to import only the valid orders", file=sys.stderr)
        return 1
    print(f"imported {report.orders_imported} orders ({report.lines_imported} lines), skipped "
          f"{report.orders_skipped}; {report.stage_changes} customers changed stage")
    return 0


def cmd_recompute_stages(args: argparse.Namespace) -> int:
    code, counts = _run_registered_job("recompute-stages")
    if code == 0:
        print(f"{counts.get('changed', 0)} customers changed stage")
    return code


def _run_registered_job(name: str) -> tuple[int, dict]:
    """Run a job of api.jobs.registry with a progress bar on stderr, recorded as started by 'cli'."""
    from api.jobs.registry import TqdmProgress, run_job

    with TqdmProgress(name) as progress:
        run = run_job(name, "cli", get_sessionmaker(), progress)
    if run.status != "ok":
        print(f"{name} failed after {run.duration_seconds:.1f} s (job run {run.id}): {run.error}",
              file=sys.stderr)
        return 1, run.counts
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items()) or "no counts"
    print(f"{name} ok in {run.duration_seconds:.1f} s (job run {run.id}): {counts}")
    return 0, run.counts


def _analytics_ran() -> bool:
    from api.jobs.registry import ANALYTICS_ORDER

    with get_sessionmaker()() as db:
        return db.scalar(select(JobRun.id).where(JobRun.job.in_(ANALYTICS_ORDER)).limit(1)) is not None


def cmd_run_job(args: argparse.Namespace) -> int:
    from api.jobs.registry import ANALYTICS_ORDER, JOBS

    if args.analytics:
        if args.if_never_run and _analytics_ran():
            print("the analytics jobs have run before; nothing to do")
            return 0
        # In the nightly order, each seeing what the one before wrote.
        for name in ANALYTICS_ORDER:
            code, _ = _run_registered_job(name)
            if code:
                return code
        return 0
    if args.list or not args.name:
        settings = get_settings()
        for job in JOBS.values():
            print(f"{job.name:24} {job.crontab(settings):16} ({settings.shop_timezone})  {job.description}")
        return 0
    if args.name not in JOBS:
        print(f"unknown job {args.name!r}; known jobs: {', '.join(sorted(JOBS))}", file=sys.stderr)
        return 2
    return _run_registered_job(args.name)[0]


def _new_password() -> str:
    """From HX_NEW_PASSWORD (scripts) or typed twice (people); never a command-line
    argument, which other users of the machine can read in the process list."""
    if os.environ.get("HX_NEW_PASSWORD"):
        return os.environ["HX_NEW_PASSWORD"]
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise ValueError("the two passwords differ")
    return first


def cmd_create_staff(args: argparse.Namespace) -> int:
    try:
        with get_sessionmaker()() as db:
            user = create_staff(db, args.username, _new_password(), args.role, args.display_name)
            db.commit()
    except ValueError as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.username}")
    return 0


def _staff_user(db, username: str) -> StaffUser | None:
    """The staff account, or None after saying on stderr that there is none."""
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        print(f"no staff account {username!r}", file=sys.stderr)
    return user


def cmd_set_password(args: argparse.Namespace) -> int:
    with get_sessionmaker()() as db:
        user = _staff_user(db, args.username)
        if user is None:
            return 1
        try:
            set_password(user, _new_password())
        except ValueError as exc:
            print(f"not changed: {exc}", file=sys.stderr)
            return 1
        unlock(db, user, by="cli")
        db.commit()
    print(f"password of {args.username} changed; the account is unlocked")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    with get_sessionmaker()() as db:
        user = _staff_user(db, args.username)
        if user is None:
            return 1
        lifted = unlock(db, user, by="cli")
        db.commit()
    print(f"{args.username}: {lifted} login lock(s) lifted")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-orders", help="import orders from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="import the valid orders and report the others (default: import none)")
    imp.set_defaults(run=cmd_import_orders)
    sub.add_parser("recompute-stages", help="recompute every customer's stage").set_defaults(
        run=cmd_recompute_stages)
    job = sub.add_parser("run-job", help="run a scheduled job now (recorded like a scheduled run)")
    job.add_argument("name", nargs="?", help="the job's name (see --list)")
    job.add_argument("--list", action="store_true", help="list the jobs and their schedules")
    job.add_argument("--analytics", action="store_true",
                     help="run the five analytics jobs one after the other, in their nightly order")
    job.add_argument("--if-never-run", action="store_true",
                     help="with --analytics: only when none of them has run yet (first start)")
    job.set_defaults(run=cmd_run_job)
    staff = sub.add_parser("create-staff", help="add a staff account")
    staff.add_argument("username")
    staff.add_argument("--role", required=True, choices=["agent", "admin"])
    staff.add_argument("--display-name")
    staff.set_defaults(run=cmd_create_staff)
    pw = sub.add_parser("set-password", help="set a staff account's password (and unlock it)")
    pw.add_argument("username")
    pw.set_defaults(run=cmd_set_password)
    un = sub.add_parser("unlock", help="lift a staff account's login locks (recorded as by 'cli')")
    un.add_argument("username")
    un.set_defaults(run=cmd_unlock)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
