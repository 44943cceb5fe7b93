"""Which conversations a staff member may read: one rule for every staff route that
shows a conversation, its messages, notes or survey answers (docs/staff-workspace.md).

Admins (and the admin API token) read every conversation. An agent reads a
conversation when

- it asks for staff: it waits in the queue, or it has an open follow-up task;
- it is theirs: assigned to them now;
- they took part in it: any event of theirs in it (claim, reply, note, hand-back,
  resolve), or a follow-up task of it they completed.

Anything else — above all a conversation another agent has claimed — is not there
for them: 404 for the conversation itself, left out of lists and of the customer
timeline. What is not a conversation (the customer's profile, orders, stage, tags)
is for every staff member.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session, aliased

from api.models import Conversation, ConversationEvent, FollowUpTask
from api.services.auth import Principal


def readable(staff: Principal) -> ColumnElement[bool]:
    """The rule as an SQL condition on ``Conversation``."""
    if staff.is_admin:
        return true()
    event, task = aliased(ConversationEvent), aliased(FollowUpTask)  # apart from the outer query's
    took_part = select(event.id).where(event.conversation_id == Conversation.id,
                                       event.staff_id == staff.id).correlate(Conversation).exists()
    follow_up = select(task.id).where(task.conversation_id == Conversation.id,
                                      or_(task.status == "open", task.done_by == staff.id)
                                      ).correlate(Conversation).exists()
    return or_(Conversation.handler == "waiting", Conversation.assigned_staff_id == staff.id,
               took_part, follow_up)


def may_read(db: Session, conv: Conversation, staff: Principal) -> bool:
    """The rule for one conversation."""
    if staff.is_admin or conv.handler == "waiting" or conv.assigned_staff_id == staff.id:
        return True
    return db.scalar(select(Conversation.id).where(Conversation.id == conv.id, readable(staff))) is not None


def readable_ids(db: Session, staff: Principal, conversation_ids) -> set[str]:
    """Those of ``conversation_ids`` the staff member may read."""
    ids = {c for c in conversation_ids if c}
    if not ids:
        return set()
    if staff.is_admin:
        return ids
    return set(db.scalars(select(Conversation.id).where(Conversation.id.in_(ids), readable(staff))))
