"""Follow-up tasks for staff: call back a customer whose survey comment was negative or
whose overall score was very low (patent step 5: answer every piece of feedback)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import or_, select

from api.db.base import utcnow
from api.schemas.types import DbId
from api.schemas.errors import errors
from api.deps import DbDep, StaffDep
from api.models import Conversation, Customer, FollowUpTask
from api.schemas.surveys import FollowUpDoneIn, FollowUpOut
from api.services import access
from bot.privacy import mask_text

router = APIRouter(prefix="/api/staff/follow-ups", tags=["follow-ups"])


def follow_up_out(task: FollowUpTask, customer: Customer | None) -> FollowUpOut:
    out = FollowUpOut.model_validate(task)
    # The comment is the customer's own words: phone numbers in it are masked as in chats.
    out.detail, out.outcome = mask_text(task.detail), mask_text(task.outcome) if task.outcome else None
    if customer is not None:
        out.customer_name, out.stage = customer.display_name, customer.stage
    return out


@router.get("", response_model=list[FollowUpOut])
def list_follow_ups(db: DbDep, staff: StaffDep,
                    state: Annotated[Literal["open", "done"], Query(alias="status")] = "open",
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[FollowUpOut]:
    """Open tasks oldest first (who has waited longest); done ones newest first. An open
    task puts its conversation before every staff member; a done one stays with whoever
    may read the conversation (api/services/access.py)."""
    order = FollowUpTask.id.asc() if state == "open" else FollowUpTask.done_at.desc()
    rows = db.execute(select(FollowUpTask, Customer).join(Customer, Customer.id == FollowUpTask.customer_id)
                      .outerjoin(Conversation, Conversation.id == FollowUpTask.conversation_id)
                      .where(FollowUpTask.status == state,
                             or_(FollowUpTask.conversation_id.is_(None), access.readable(staff)))
                      .order_by(order).limit(limit)).all()
    return [follow_up_out(task, customer) for task, customer in rows]


@router.post("/{task_id}/done", response_model=FollowUpOut, responses=errors(409))
def mark_done(task_id: DbId, body: FollowUpDoneIn, db: DbDep, staff: StaffDep) -> FollowUpOut:
    task = db.get(FollowUpTask, task_id)
    conv = db.get(Conversation, task.conversation_id) if task is not None and task.conversation_id else None
    if task is None or (conv is not None and not access.may_read(db, conv, staff)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "回访任务不存在")
    if task.status == "done":
        raise HTTPException(status.HTTP_409_CONFLICT, "该回访任务已经完成")
    task.status, task.done_at, task.done_by, task.outcome = "done", utcnow(), staff.id, body.outcome.strip()
    db.commit()
    return follow_up_out(task, db.get(Customer, task.customer_id))
