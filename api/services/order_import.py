"""Importing orders from a CSV file: all or nothing, or only the valid orders.

One row per order line, with the columns of ``COLUMNS``; the rows of one order share
its ``order_no`` and must agree on its customer, time, channel and status.
``customer_ref`` is the brand's member id: an unknown one becomes a new customer.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Customer, CustomerIdentity
from api.schemas.types import naive_utc
from api.domain.lifecycle import StageRules
from api.services.orders import OrderError, OrderLine, record_order, recompute_stage

COLUMNS = ("order_no", "customer_ref", "placed_at", "channel", "status", "sku", "quantity", "unit_price")
HEADER_FIELDS = ("customer_ref", "placed_at", "channel", "status")


@dataclass
class ImportReport:
    orders_imported: int = 0
    lines_imported: int = 0
    orders_skipped: int = 0
    stage_changes: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, problem)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Order:
    header: dict[str, str]
    rows: list[int] = field(default_factory=list)
    lines: list[OrderLine] = field(default_factory=list)


def _parse_line(row: dict[str, str]) -> OrderLine:
    try:
        quantity = int(row["quantity"])
    except ValueError:
        raise OrderError(f"quantity {row['quantity']!r} is not a whole number") from None
    price = None
    if row.get("unit_price"):
        try:
            price = Decimal(row["unit_price"])
        except InvalidOperation:
            raise OrderError(f"unit_price {row['unit_price']!r} is not a number") from None
    return OrderLine(row["sku"], quantity, price)


def _customer(db: Session, ref: str) -> Customer:
    identity = db.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "user_id",
                                                        CustomerIdentity.value == ref))
    if identity is not None:
        return identity.customer
    # Not added here: it enters the session with its first order, so a refused order
    # leaves no customer behind.
    customer = Customer()
    customer.identities.append(CustomerIdentity(kind="user_id", value=ref))
    return customer


def read_orders(stream: TextIO, report: ImportReport) -> dict[str, _Order]:
    reader = csv.DictReader(stream)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, f"missing columns: {', '.join(missing)}"))
        return {}
    orders: dict[str, _Order] = {}
    for row in reader:
        number = reader.line_num
        row = {k: (v or "").strip() for k, v in row.items() if k}
        blank = [c for c in COLUMNS if c != "unit_price" and not row.get(c)]
        if blank:
            report.errors.append((number, f"empty: {', '.join(blank)}"))
            continue
        order = orders.setdefault(row["order_no"], _Order({k: row[k] for k in HEADER_FIELDS}))
        order.rows.append(number)
        differs = [k for k in HEADER_FIELDS if order.header[k] != row[k]]
        if differs:
            report.errors.append((number, f"{', '.join(differs)} differ from the order's first row"))
            continue
        try:
            order.lines.append(_parse_line(row))
        except OrderError as exc:
            report.errors.append((number, str(exc)))
    return orders


def import_orders(db: Session, stream: TextIO, rules: StageRules, skip_invalid: bool = False) -> ImportReport:
    """Import; commits only when there are no errors, or with ``skip_invalid``."""
    report = ImportReport()
    orders = read_orders(stream, report)
    bad_rows = {n for n, _ in report.errors}
    touched: set[int] = set()
    for order_no, order in orders.items():
        if bad_rows.intersection(order.rows):
            report.orders_skipped += 1
            continue
        # record_order checks everything before it adds anything, so a refused order
        # leaves the session as it was (no savepoints: pysqlite's are unreliable).
        try:
            try:
                placed = naive_utc(datetime.fromisoformat(order.header["placed_at"]))
            except ValueError:
                raise OrderError(f"placed_at {order.header['placed_at']!r} is not an ISO 8601 time") from None
            customer = _customer(db, order.header["customer_ref"])
            record_order(db, customer=customer, order_no=order_no, lines=order.lines, placed_at=placed,
                         channel=order.header["channel"], status=order.header["status"])
            db.flush()
        except OrderError as exc:
            report.errors.append((order.rows[0], f"order {order_no}: {exc}"))
            report.orders_skipped += 1
            continue
        touched.add(customer.id)
        report.orders_imported += 1
        report.lines_imported += len(order.lines)
    if report.errors and not skip_invalid:
        db.rollback()
        report.orders_skipped += report.orders_imported
        report.orders_imported = report.lines_imported = 0
        return report
    for customer_id in touched:
        if recompute_stage(db, db.get(Customer, customer_id), rules, trigger="import"):
            report.stage_changes += 1
    db.commit()
    report.errors.sort()
    return report
