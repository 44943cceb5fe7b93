"""Shared reading for the analytics jobs: did the customer buy again within a window?"""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Order
from api.domain.lifecycle import NOT_PURCHASES


def bought_within(db: Session, frame: pd.DataFrame, at_col: str, days: int) -> pd.Series:
    """For each row (customer_id, at_col): a paid order within ``days`` after it."""
    orders = pd.read_sql(select(Order.customer_id, Order.placed_at)
                         .where(Order.status.not_in(NOT_PURCHASES),
                                Order.placed_at >= frame[at_col].min().to_pydatetime()),
                         db.connection()).sort_values("placed_at")
    left = frame[["customer_id", at_col]].reset_index().sort_values(at_col)
    if orders.empty:
        return pd.Series(False, index=frame.index)
    matched = pd.merge_asof(left, orders, left_on=at_col, right_on="placed_at", by="customer_id",
                            direction="forward", allow_exact_matches=False)
    within = matched["placed_at"].notna() & (matched["placed_at"] - matched[at_col] <= timedelta(days=days))
    return pd.Series(within.to_numpy(), index=matched["index"]).reindex(frame.index).astype(bool)


def window_outcome(db: Session, frame: pd.DataFrame, at_col: str, days: int) -> pd.Series:
    """Bought within ``days``: True/False, or None while the window is still open."""
    bought = bought_within(db, frame, at_col, days)
    closed = frame[at_col] + timedelta(days=days) <= utcnow()
    return bought.where(bought | closed, None).astype(object)
