"""Staff API: conversations and customers, personal data masked."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from api.schemas.types import DbId, DbCount, Stage
from api.deps import DbDep, current_staff, require_admin
from api.models import Conversation, Customer
from api.schemas.staff import (
    Page,
    StaffConversation,
    StaffConversationDetail,
    StaffCustomer,
    StaffIdentity,
)
from bot.privacy import mask_identifier, mask_ip

router = APIRouter(prefix="/api", tags=["staff"], dependencies=[Depends(current_staff)])


# Every conversation of every customer: admins only. Agents work from the workspace
# (api/routes/workspace.py), which shows them the queue and their own conversations.
@router.get("/conversations", response_model=Page[StaffConversation], dependencies=[Depends(require_admin)])
def list_conversations(
    db: DbDep,
    needs_attention: bool | None = None,
    customer_id: DbId | None = None,
    conv_status: Annotated[str | None, Query(alias="status", pattern="^(open|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[DbCount, Query()] = 0,
) -> Page[StaffConversation]:
    query = select(Conversation)
    if needs_attention is not None:
        query = query.where(Conversation.needs_attention == needs_attention)
    if customer_id is not None:
        query = query.where(Conversation.customer_id == customer_id)
    if conv_status:
        query = query.where(Conversation.status == conv_status)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.scalars(query.order_by(Conversation.last_activity_at.desc()).limit(limit).offset(offset))
    return Page[StaffConversation](items=list(rows), total=total or 0)


@router.get("/conversations/{conversation_id}", response_model=StaffConversationDetail,
            dependencies=[Depends(require_admin)])
def get_conversation(conversation_id: str, db: DbDep) -> Conversation:
    conv = db.scalar(select(Conversation).where(Conversation.id == conversation_id)
                     .options(selectinload(Conversation.messages)))
    if conv is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"会话 {conversation_id} 不存在")
    return conv


def _staff_customer(c: Customer) -> StaffCustomer:
    return StaffCustomer(
        id=c.id, display_name=c.display_name, stage=c.stage, points=c.points,
        first_seen_at=c.first_seen_at, last_seen_at=c.last_seen_at,
        first_ip_masked=mask_ip(c.first_ip), last_ip_masked=mask_ip(c.last_ip),
        identities=[StaffIdentity(kind=i.kind, value_masked=mask_identifier(i.value) or "",
                                  first_seen_at=i.first_seen_at, last_seen_at=i.last_seen_at)
                    for i in c.identities],
    )


@router.get("/customers", response_model=Page[StaffCustomer])
def list_customers(
    db: DbDep,
    stage: Stage | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[DbCount, Query()] = 0,
) -> Page[StaffCustomer]:
    # Merged-away records own nothing; their history shows under the customer they joined.
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    if stage:
        query = query.where(Customer.stage == stage)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.scalars(query.options(selectinload(Customer.identities))
                      .order_by(Customer.last_seen_at.desc()).limit(limit).offset(offset))
    return Page[StaffCustomer](items=[_staff_customer(c) for c in rows], total=total or 0)


@router.get("/customers/{customer_id}", response_model=StaffCustomer)
def get_customer(customer_id: DbId, db: DbDep) -> StaffCustomer:
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"客户 #{customer_id} 不存在")
    return _staff_customer(customer)
