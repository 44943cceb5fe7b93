"""Command-line jobs of the service.

    python -m api.cli import-orders FILE.csv [--skip-invalid]
    python -m api.cli recompute-stages        # the nightly job, run by hand
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from api.core.config import get_settings
from api.db.session import get_sessionmaker
from api.models import Customer
from api.services.order_import import import_orders
from api.services.orders import recompute_stage


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
    rules = get_settings().stage_rules()
    changed = 0
    with get_sessionmaker()() as db:
        for customer in db.scalars(select(Customer)):
            changed += recompute_stage(db, customer, rules, trigger="nightly") is not None
        db.commit()
    print(f"{changed} customers changed stage")
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
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
