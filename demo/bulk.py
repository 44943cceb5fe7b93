"""What the demo generators share: the shop's clock and fast bulk writes.

Both generators (demo/shop.py, demo/conversations.py) plan rows in memory and write them
with Core ``insert()`` executemany in chunks, with ids reserved up front so rows can
name each other without a round trip per row.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

# Orders (and chats) per local hour of day relative to each other: late evenings busy, nights quiet.
HOUR_WEIGHT = np.array([0.6, 0.35, 0.2, 0.12, 0.1, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.1,
                        1.2, 1.0, 0.9, 0.9, 0.9, 1.0, 1.1, 1.3, 1.6, 1.8, 1.7, 1.2])
CHINA = timedelta(hours=8)  # times are stored in UTC; shoppers and order numbers live in UTC+8
CHUNK = 10_000


def reserve_ids(db: Session, table: Table, n: int) -> np.ndarray:
    """Ids for ``n`` new rows, so that rows can refer to each other before they are written."""
    if n == 0:
        return np.empty(0, np.int64)
    if db.get_bind().dialect.name == "postgresql":
        # From the table's own sequence: the running service may add rows meanwhile.
        ids = db.scalars(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                         {"t": table.name, "n": n}).all()
        return np.sort(np.array(ids, np.int64))
    # SQLite has one writer at a time; should another insert slip in between, ours fails
    # on the primary key and nothing is written.
    first = (db.scalar(select(func.max(table.c.id))) or 0) + 1
    return np.arange(first, first + n, dtype=np.int64)


def write_rows(db: Session, table: Table, rows) -> None:
    """Core executemany, CHUNK rows at a time: the row dicts of a million orders never all exist."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            db.execute(insert(table), chunk)
            chunk = []
    if chunk:
        db.execute(insert(table), chunk)
