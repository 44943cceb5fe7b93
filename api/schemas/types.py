from datetime import datetime, timezone
from typing import Annotated

from pydantic import PlainSerializer


def _as_utc(moment: datetime) -> str:
    # The database keeps naive UTC; clients must not read it as their local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[datetime, PlainSerializer(_as_utc, return_type=str)]


def naive_utc(moment: datetime) -> datetime:
    """What the database keeps: UTC without tzinfo (a naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
