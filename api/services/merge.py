"""One account across channels (patent step 2): merging customer records, and undoing it.

A merge folds a *source* customer into a *target*: every row the source owns
(identities, conversations, orders, offer issuances) changes owner, the points move,
and the source stays behind as an empty record with ``merged_into_id`` set. Its stage
transitions stay with it: they are its own history, and the target's timeline shows
them. The ``CustomerMerge`` row lists the ids that moved and the target's fields as
they were, so an undo puts back exactly what the merge changed and nothing the target
got later.

How links are made:

- **login** – a browser's customer without a member id of its own logs in as a
  member: the browser's history is the member's, so it is merged at once.
  A browser that already belongs to another member (a shared device) only hands
  its web identity over; the two members stay apart.
- **phone** – a phone number typed in chat is a claim, not a proof (there is no SMS
  check), so a number another customer already has only *proposes* a merge for staff
  to confirm: merging automatically would let anyone read another person's orders by
  typing their number.
- **staff** – a staff member merges two records explicitly.

None of these functions commits: the caller commits (or rolls back) the whole request
as one transaction. They raise ``SelfMerge`` (a request that makes no sense) or
``MergeConflict`` (the records' state forbids it), both ``ValueError``s whose message
says why.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.core.config import get_settings
from api.db.base import utcnow
from api.models import (Conversation, Customer, CustomerIdentity, CustomerMerge, InboundReceipt, OfferIssuance,
                        Order)
from api.domain.lifecycle import StageRules
from api.services.orders import recompute_stage
from bot.privacy import mask_phone

STATUS_LABELS = {"proposed": "待确认", "merged": "已合并", "undone": "已撤销", "rejected": "已拒绝"}

# Rows that change owner in a merge, by the key they have in ``CustomerMerge.moved``.
# Identities are handled through the ORM (their customer relationship is often loaded);
# the others are moved with UPDATE statements, as a customer may own many of them.
_BULK_MOVED = {"conversations": Conversation, "orders": Order, "offer_issuances": OfferIssuance,
               "inbound_receipts": InboundReceipt}
# Fields of the target a merge fills in when the target has none (or an earlier one).
_FILLED = ("display_name", "birthday", "first_ip", "first_seen_at")
_CHUNK = 500  # ids per IN (...) list: SQLite allows a few tens of thousands of variables

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# A mainland mobile number in free text, allowing "+86", spaces and dashes: 138 1234 5678.
_MOBILE_IN_TEXT = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")


class MergeError(ValueError):
    """A merge, confirmation, rejection or undo that cannot be done; the message says why."""


class SelfMerge(MergeError):
    """Merging a customer into itself."""


class MergeConflict(MergeError):
    """The records' current state forbids it (already merged, already undone, …)."""


# ---------------------------------------------------------------------------- lookups


def live_customer(db: Session, customer_id: int) -> Customer | None:
    """The customer that now holds ``customer_id``'s history: itself, or the end of its
    merge chain. None for an unknown id (or a cycle, which a merge never creates)."""
    seen: set[int] = set()
    customer = db.get(Customer, customer_id)
    while customer is not None and customer.merged_into_id is not None:
        if customer.id in seen:
            return None
        seen.add(customer.id)
        customer = db.get(Customer, customer.merged_into_id)
    return customer


def merged_group(db: Session, customer_id: int) -> list[int]:
    """The customer and every customer merged into it, directly or through others."""
    group, frontier = [customer_id], [customer_id]
    while frontier:
        frontier = [i for i in db.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
                    if i not in group]
        group.extend(frontier)
    return group


def normalise_phone(raw: str) -> str:
    """A mainland mobile number as 11 digits; ValueError when it is not one."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    if not _MOBILE.match(digits):
        raise ValueError(f"not a mainland mobile number: {mask_phone(raw)!r}")
    return digits


def find_phone(text: str) -> str | None:
    """The first mainland mobile number in a customer's message, normalised."""
    match = _MOBILE_IN_TEXT.search(text or "")
    return "".join(match.groups()) if match else None


# ----------------------------------------------------------------------------- merges


def merge_customers(db: Session, source: Customer, target: Customer, reason: str, by: str,
                    detail: str = "", rules: StageRules | None = None) -> CustomerMerge:
    """Fold ``source`` into ``target`` now and record it (not committed)."""
    source, target = _lock(db, source, target)
    _check_mergeable(db, source, target)
    now = utcnow()
    merge = CustomerMerge(source_id=source.id, target_id=target.id, status="proposed", reason=reason,
                          detail=detail[:200], created_at=now)
    db.add(merge)
    _perform(db, merge, source, target, by, rules, now)
    return merge


def propose_merge(db: Session, source: Customer, target: Customer, reason: str,
                  detail: str = "") -> CustomerMerge:
    """Record a merge for staff to confirm; nothing moves (not committed).

    Proposing the same two customers again (in either direction) while a proposal is
    open returns that proposal.
    """
    source, target = _lock(db, source, target)  # two claims at once make one proposal
    _check_mergeable(db, source, target)
    pair = {source.id, target.id}
    open_one = db.scalar(select(CustomerMerge).where(
        CustomerMerge.status == "proposed",
        CustomerMerge.source_id.in_(pair), CustomerMerge.target_id.in_(pair)).limit(1))
    if open_one is not None:
        return open_one
    merge = CustomerMerge(source_id=source.id, target_id=target.id, status="proposed", reason=reason,
                          detail=detail[:200], created_at=utcnow())
    db.add(merge)
    db.flush()
    return merge


def confirm_merge(db: Session, merge: CustomerMerge, by: str,
                  rules: StageRules | None = None) -> CustomerMerge:
    """Carry out a proposed merge (not committed)."""
    merge = _lock_merge(db, merge)
    if merge.status != "proposed":
        raise MergeConflict(f"合并记录 #{merge.id} 已是「{STATUS_LABELS[merge.status]}」，不再待确认")
    source, target = _lock(db, db.get(Customer, merge.source_id), db.get(Customer, merge.target_id))
    _check_mergeable(db, source, target)
    _perform(db, merge, source, target, by, rules, utcnow())
    return merge


def reject_merge(db: Session, merge: CustomerMerge, by: str) -> CustomerMerge:
    """Close a proposal without merging (not committed).

    The schema has no rejected_at/by columns: ``undone_at``/``undone_by`` record who
    closed the proposal and when; the status tells the two apart.
    """
    merge = _lock_merge(db, merge)
    if merge.status != "proposed":
        raise MergeConflict(f"合并记录 #{merge.id} 已是「{STATUS_LABELS[merge.status]}」，不再待确认")
    merge.status, merge.undone_at, merge.undone_by = "rejected", utcnow(), by
    return merge


def undo_merge(db: Session, merge: CustomerMerge, by: str,
               rules: StageRules | None = None) -> CustomerMerge:
    """Give the source back what the merge moved (not committed).

    Only the moved rows the target still owns go back; rows the target got after the
    merge stay. The target gives back the moved points (never going below zero: the
    source gets what the target still had of them), and the fields the merge filled in
    get their old values unless they were changed since. Refused when the target or the
    source has since been merged on: that merge must be undone first.
    """
    merge = _lock_merge(db, merge)
    if merge.status != "merged":
        raise MergeConflict(f"合并记录 #{merge.id} 是「{STATUS_LABELS[merge.status]}」，只有已合并的才能撤销")
    source, target = _lock(db, db.get(Customer, merge.source_id), db.get(Customer, merge.target_id))
    if target.merged_into_id is not None:
        live = live_customer(db, target.id)
        raise MergeConflict(f"客户 #{target.id} 之后又合并到了客户 #{live.id if live else target.merged_into_id}，"
                            "请先撤销那次合并")
    if source.merged_into_id != target.id:
        raise MergeConflict(f"客户 #{source.id} 已不再合并在客户 #{target.id} 中")
    moved, before = merge.moved or {}, merge.target_before or {}

    for identity in db.scalars(select(CustomerIdentity).where(
            CustomerIdentity.id.in_(moved.get("identities", [])), CustomerIdentity.customer_id == target.id)):
        identity.customer = source
    for key, model in _BULK_MOVED.items():
        for ids in _chunks(moved.get(key, [])):
            db.execute(update(model).where(model.id.in_(ids), model.customer_id == target.id)
                       .values(customer_id=source.id))

    points_back = min(int(moved.get("points", 0)), target.points)
    target.points -= points_back
    source.points += points_back
    for field in moved.get("filled", []):
        # Only what still is the value the merge brought: a later edit by staff stays.
        if getattr(target, field) == getattr(source, field):
            setattr(target, field, _field_value(field, before.get(field)))
    source.merged_into_id = None
    db.flush()

    rules = rules or get_settings().stage_rules()
    recompute_stage(db, target, rules, trigger="merge")
    recompute_stage(db, source, rules, trigger="merge")
    merge.status, merge.undone_at, merge.undone_by = "undone", utcnow(), by
    return merge


# --------------------------------------------------------------------- channel links


def link_member_login(db: Session, web_identity: CustomerIdentity, member: Customer,
                      by: str = "login") -> CustomerMerge | None:
    """A browser (its ``web_client`` identity) has just logged in as ``member``.

    The browser's customer without a member id of its own is the member browsing
    anonymously before: merged into the member (reason "login"). A browser whose
    customer is another member (a shared device) only moves over; nothing merges.
    Returns the merge, if there is one (not committed).
    """
    browser = web_identity.customer
    if browser.id == member.id:
        return None
    owns_member_id = db.scalar(select(CustomerIdentity.id).where(
        CustomerIdentity.customer_id == browser.id, CustomerIdentity.kind == "user_id").limit(1))
    if owns_member_id is not None:
        web_identity.customer = member
        return None
    return merge_customers(db, browser, member, reason="login", by=by,
                           detail=f"客户 #{browser.id} 的浏览器以会员身份登录")


def link_phone(db: Session, customer: Customer, phone: str,
               conversation_id: str | None = None) -> str:
    """Attach a phone number the customer gave; "linked", "already" or "proposed".

    A number another customer has already becomes a proposed merge: the caller flags
    the conversation for staff (not committed).
    """
    phone = normalise_phone(phone)
    now = utcnow()
    held = db.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "phone",
                                                    CustomerIdentity.value == phone))
    if held is None:
        db.add(CustomerIdentity(customer=customer, kind="phone", value=phone, first_seen_at=now,
                                last_seen_at=now))
        db.flush()
        return "linked"
    if held.customer_id == customer.id:
        held.last_seen_at = now
        return "already"
    where = f"（会话 {conversation_id[:8]}）" if conversation_id else ""
    propose_merge(db, customer, held.customer, reason="phone",
                  detail=f"客户 #{customer.id} 在聊天中留下手机号 {mask_phone(phone)}{where}，"
                         f"该号码属于客户 #{held.customer_id}")
    return "proposed"


# ---------------------------------------------------------------------------- helpers


def _lock(db: Session, *customers: Customer | None) -> tuple[Customer, ...]:
    """Lock the customers' rows (PostgreSQL; SQLite locks the whole database on write)
    and read them afresh, so two merges of one customer cannot both go ahead. Rows
    that reference a locked customer cannot be inserted until the merge commits."""
    if any(c is None for c in customers):
        raise MergeConflict("这次合并涉及的客户已不存在")
    ids = sorted({c.id for c in customers})  # always the same order: no deadlock
    list(db.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)
                    .with_for_update().execution_options(populate_existing=True)))
    return customers  # type: ignore[return-value]


def _lock_merge(db: Session, merge: CustomerMerge) -> CustomerMerge:
    """The merge record locked and read afresh: a confirm racing a reject (or two undos)
    must see each other's outcome, not the status read before."""
    return db.scalar(select(CustomerMerge).where(CustomerMerge.id == merge.id).with_for_update()
                     .execution_options(populate_existing=True))


def _check_mergeable(db: Session, source: Customer, target: Customer) -> None:
    if source.id == target.id:
        raise SelfMerge("不能把客户合并到自己")
    for role, customer in (("被合并的", source), ("目标", target)):
        if customer.merged_into_id is not None:
            live = live_customer(db, customer.id)
            where = f"客户 #{live.id if live else customer.merged_into_id}"
            raise MergeConflict(f"{role}客户 #{customer.id} 已合并到{where}，请改用{where}")


def _perform(db: Session, merge: CustomerMerge, source: Customer, target: Customer, by: str,
             rules: StageRules | None, now: datetime) -> None:
    moved: dict = {"identities": []}
    for identity in list(db.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == source.id)
                                    .order_by(CustomerIdentity.id))):
        moved["identities"].append(identity.id)
        identity.customer = target
    for key, model in _BULK_MOVED.items():
        moved[key] = list(db.scalars(select(model.id).where(model.customer_id == source.id).order_by(model.id)))
        # The source's rows are locked against new inserts (see _lock): the id list and
        # this update see the same rows.
        db.execute(update(model).where(model.customer_id == source.id).values(customer_id=target.id)
                   .execution_options(synchronize_session="fetch"))

    merge.target_before = {f: _json_value(getattr(target, f)) for f in (*_FILLED, "points", "stage")}
    filled = []
    for field in ("display_name", "birthday", "first_ip"):
        if getattr(target, field) is None and getattr(source, field) is not None:
            setattr(target, field, getattr(source, field))
            filled.append(field)
    if source.first_seen_at < target.first_seen_at:
        target.first_seen_at = source.first_seen_at
        filled.append("first_seen_at")
    moved["filled"] = filled
    moved["points"] = source.points
    target.points += source.points
    source.points = 0
    source.merged_into_id = target.id
    merge.moved = moved
    merge.status, merge.merged_at, merge.merged_by = "merged", now, by
    db.flush()
    recompute_stage(db, target, rules or get_settings().stage_rules(), trigger="merge", now=now)


def _json_value(value):
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _field_value(field: str, stored):
    if stored is None:
        return None
    if field == "first_seen_at":
        return datetime.fromisoformat(stored)
    if field == "birthday":
        return date.fromisoformat(stored)
    return stored


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]
