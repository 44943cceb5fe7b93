"""Staff API: one account across channels (merges, proposals, undo) and the timeline.

Any staff member may merge two customers, and confirm or reject a proposed merge;
undoing a merge needs the admin role. A merged-away customer's id answers 404 with the
id of the customer that now holds its history, rather than a redirect: a screen that
holds an old id should show the staff member what happened, not silently switch.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import func, or_, select

from api.schemas.errors import errors
from api.deps import AdminDep, DbDep, StaffDep
from api.models import Customer, CustomerMerge
from api.schemas.customers import MergeIn, MergeOut, MergePage, TimelineEventOut, TimelinePage
from api.schemas.types import DbCount, DbId, IsoDatetime, naive_utc
from api.services import merge as merges
from api.services.timeline import customer_timeline
from bot.privacy import mask_text

router = APIRouter(prefix="/api", tags=["customers"])


def _customer(db: DbDep, customer_id: int) -> Customer:
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"客户 #{customer_id} 不存在")
    return customer


def _live(db: DbDep, customer_id: int) -> Customer:
    customer = _customer(db, customer_id)
    if customer.merged_into_id is not None:
        live = merges.live_customer(db, customer_id)
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"客户 #{customer_id} 已合并到客户 #{live.id if live else customer.merged_into_id}")
    return customer


def _merge_record(db: DbDep, merge_id: int) -> CustomerMerge:
    merge = db.get(CustomerMerge, merge_id)
    if merge is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"合并记录 #{merge_id} 不存在")
    return merge


def _merge_out(m: CustomerMerge) -> MergeOut:
    moved = {key: len(value) if isinstance(value, list) else int(value)
             for key, value in (m.moved or {}).items() if key != "filled"}
    return MergeOut(id=m.id, source_id=m.source_id, target_id=m.target_id, status=m.status,
                    reason=m.reason, detail=mask_text(m.detail) if m.detail else m.detail, moved=moved, created_at=m.created_at,
                    merged_at=m.merged_at, merged_by=m.merged_by, undone_at=m.undone_at,
                    undone_by=m.undone_by)


def _apply(db: DbDep, action) -> CustomerMerge:
    """Run a merge action and commit; its refusals become 422 (nonsense) or 409 (state)."""
    try:
        merge = action()
    except merges.SelfMerge as exc:
        db.rollback()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except merges.MergeError as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.commit()
    return merge


@router.get("/customers/{customer_id}/timeline", response_model=TimelinePage)
def timeline(
    customer_id: DbId,
    db: DbDep,
    staff: StaffDep,
    before: IsoDatetime | None = None,
    before_event: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TimelinePage:
    """Newest first. For the next page pass the previous page's ``next_before`` and
    ``next_before_event``; ``before`` alone means "strictly before this time". Messages
    only of the conversations this staff member may read (api/services/access.py)."""
    _live(db, customer_id)
    if before_event and before is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "before_event 需要和 before 一起使用")
    try:
        events = customer_timeline(db, customer_id, before=naive_utc(before) if before else None,
                                   limit=limit + 1, before_key=before_event, staff=staff)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    page, more = events[:limit], len(events) > limit
    items = [TimelineEventOut(key=e.key, kind=e.kind, at=e.at, customer_id=e.customer_id,
                              **{e.kind: e.detail}) for e in page]
    return TimelinePage(customer_id=customer_id,
                        merged_customer_ids=merges.merged_group(db, customer_id)[1:], items=items,
                        next_before=page[-1].at if more else None,
                        next_before_event=page[-1].key if more else None)


@router.post("/customers/{target_id}/merge", response_model=MergeOut, status_code=status.HTTP_201_CREATED,
            responses=errors(409))
def merge_into(target_id: DbId, body: MergeIn, db: DbDep, staff: StaffDep) -> MergeOut:
    """Merge customer ``source_id`` into this one now (staff know they are one person)."""
    target, source = _customer(db, target_id), _customer(db, body.source_id)
    detail = body.note or f"由 {staff.display_name} 手动合并"
    return _merge_out(_apply(db, lambda: merges.merge_customers(
        db, source, target, reason="staff", by=staff.username, detail=detail)))


@router.get("/merges", response_model=MergePage)
def list_merges(
    db: DbDep,
    _: StaffDep,
    merge_status: Annotated[str | None, Query(alias="status",
                                              pattern="^(proposed|merged|undone|rejected)$")] = None,
    customer_id: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[DbCount, Query()] = 0,
) -> MergePage:
    """Merges and proposals, newest first; ``status=proposed`` is staff's to-do list."""
    query = select(CustomerMerge)
    if merge_status:
        query = query.where(CustomerMerge.status == merge_status)
    if customer_id is not None:
        query = query.where(or_(CustomerMerge.source_id == customer_id, CustomerMerge.target_id == customer_id))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(CustomerMerge.id.desc()).limit(limit).offset(offset))
    return MergePage(items=[_merge_out(m) for m in rows], total=total)


@router.post("/merges/{merge_id}/confirm", response_model=MergeOut, responses=errors(409))
def confirm(merge_id: DbId, db: DbDep, staff: StaffDep) -> MergeOut:
    merge = _merge_record(db, merge_id)
    return _merge_out(_apply(db, lambda: merges.confirm_merge(db, merge, by=staff.username)))


@router.post("/merges/{merge_id}/reject", response_model=MergeOut, responses=errors(409))
def reject(merge_id: DbId, db: DbDep, staff: StaffDep) -> MergeOut:
    merge = _merge_record(db, merge_id)
    return _merge_out(_apply(db, lambda: merges.reject_merge(db, merge, by=staff.username)))


@router.post("/merges/{merge_id}/undo", response_model=MergeOut, responses=errors(409))
def undo(merge_id: DbId, db: DbDep, admin: AdminDep) -> MergeOut:
    merge = _merge_record(db, merge_id)
    return _merge_out(_apply(db, lambda: merges.undo_merge(db, merge, by=admin.username)))
