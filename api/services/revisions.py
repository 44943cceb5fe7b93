"""Version history of admin-edited content (reply variants, offers) with rollback.

Every change writes a ``ContentRevision`` holding the whole record as it is after the
change, so "roll back to revision N" means "make the record look like N's snapshot"
— itself recorded as a new revision; history is never rewritten.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from api.db.base import Base, utcnow
from api.models import ContentRevision

_BOOKKEEPING = {"version", "updated_at", "updated_by"}


def snapshot(row: Base) -> dict[str, Any]:
    """The record's columns as JSON-friendly values."""
    out: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out[column.key] = value
    return out


def restore(row: Base, data: dict[str, Any]) -> None:
    """Write a snapshot's content fields back onto a record (not its id or bookkeeping)."""
    mapper = inspect(type(row))
    for column in mapper.column_attrs:
        key = column.key
        if key == "id" or key in _BOOKKEEPING or key not in data:
            continue
        value = data[key]
        python_type = column.columns[0].type.python_type if value is not None else None
        if python_type is date and isinstance(value, str):
            value = date.fromisoformat(value)
        elif python_type is datetime and isinstance(value, str):
            value = datetime.fromisoformat(value)
        setattr(row, key, value)


def record(db: Session, entity: str, row: Base, action: str, by: str, note: str = "") -> ContentRevision:
    """Bump the record's version and store what it looks like now."""
    if action != "create":
        row.version = (row.version or 0) + 1
    row.updated_at, row.updated_by = utcnow(), by
    db.flush()
    # A deletion keeps the last snapshot too, so deleted records can be listed and restored.
    revision = ContentRevision(entity=entity, entity_id=row.id, version=row.version, action=action,
                               data=snapshot(row), changed_by=by, note=note[:200])
    db.add(revision)
    db.flush()
    return revision


def history(db: Session, entity: str, entity_id: int) -> list[ContentRevision]:
    return list(db.scalars(select(ContentRevision)
                           .where(ContentRevision.entity == entity, ContentRevision.entity_id == entity_id)
                           .order_by(ContentRevision.id.desc())))


def rollback(db: Session, revision: ContentRevision, model: type[Base], by: str,
             validate=None) -> ContentRevision:
    """Make the record look like ``revision`` did, re-creating it if it was deleted
    since. ``validate`` checks the restored record
    against today's rules (a variable may have been removed since). Returns the new
    revision that records the rollback."""
    if revision.action == "delete":
        raise ValueError("这一版是删除操作：要恢复，请回滚到删除之前的版本")
    row = db.get(model, revision.entity_id)
    note = f"回滚到第 {revision.version} 版（修订 #{revision.id}）"
    if row is None:
        latest = db.scalar(select(ContentRevision.version).where(
            ContentRevision.entity == revision.entity, ContentRevision.entity_id == revision.entity_id)
            .order_by(ContentRevision.id.desc()).limit(1))
        row = model(id=revision.entity_id, version=latest or 0)
        restore(row, revision.data)
        db.add(row)
    else:
        restore(row, revision.data)
    if validate is not None:
        validate(row)
    return record(db, revision.entity, row, "rollback", by, note)
