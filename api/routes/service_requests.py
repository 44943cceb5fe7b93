"""Self-service requests on orders: what the action server may check and create, and
what staff see and decide.

The action server's routes answer with a response of domain.yml and its variables
(the service's NLG renders them); a refusal is an answer like any other (200), not an
error. Staff routes: every staff member sees every request (order data, like the
customer's orders); deciding is for submitted returns only (409 otherwise)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status

from api.deps import DbDep, StaffDep, require_internal
from api.models import Customer
from api.schemas.errors import errors
from api.schemas.service_requests import (
    DecisionIn,
    RequestAnswer,
    RequestCheckOut,
    RequestCreateIn,
    RequestCreateOut,
    RequestKind,
    RequestStatus,
    ServiceRequestOut,
)
from api.schemas.types import DbId
from api.services import service_requests
from api.services.merge import live_customer

internal_router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])
staff_router = APIRouter(prefix="/api/staff/service-requests", tags=["service requests"])


def _customer(db: DbDep, customer_id: int) -> Customer:
    # An action server may hold an id from before a merge: it gets the merged customer.
    customer = live_customer(db, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return customer


# ------------------------------------------------------------------------ action server


@internal_router.get("/customers/{customer_id}/service-requests/check", response_model=RequestCheckOut,
                     responses=errors(404))
def check_request(customer_id: DbId, kind: RequestKind, db: DbDep,
                  order_no: Annotated[str | None, Query(max_length=32)] = None) -> RequestCheckOut:
    """Before a form's confirmation step: may the customer do this, on which order?"""
    answer = service_requests.check(db, _customer(db, customer_id).id, kind, order_no)
    return RequestCheckOut(response=answer.response, slots=answer.slots, eligible=answer.eligible,
                           order_no=answer.order_no, items=answer.items)


@internal_router.post("/customers/{customer_id}/service-requests", response_model=RequestCreateOut,
                      responses=errors(404, 422))
def create_request(customer_id: DbId, body: RequestCreateIn, db: DbDep) -> RequestCreateOut:
    """The customer confirmed: the rules are checked again, then all is recorded or nothing."""
    customer = _customer(db, customer_id)
    try:
        answer = service_requests.create(db, customer.id, kind=body.kind, order_no=body.order_no, items=body.items,
                                 reason=body.reason, new_address=body.new_address,
                                 conversation_id=body.conversation_id)
    except service_requests.RequestInvalid as exc:
        db.rollback()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except Exception:
        db.rollback()
        raise
    db.commit()
    return RequestCreateOut(created=answer.request_no is not None, request_no=answer.request_no,
                            response=answer.response, slots=answer.slots)


@internal_router.get("/customers/{customer_id}/service-requests", response_model=RequestAnswer,
                     responses=errors(404))
def list_requests(customer_id: DbId, db: DbDep,
                  limit: Annotated[int, Query(ge=1, le=10)] = 3) -> RequestAnswer:
    """The customer's newest requests and their status ("我的退货进度")."""
    answer = service_requests.status_answer(db, _customer(db, customer_id).id, limit)
    return RequestAnswer(response=answer.response, slots=answer.slots)


# --------------------------------------------------------------------------------- staff


@staff_router.get("", response_model=list[ServiceRequestOut])
def staff_list(db: DbDep, staff: StaffDep,
               state: Annotated[RequestStatus | None, Query(alias="status")] = None,
               kind: RequestKind | None = None,
               customer_id: DbId | None = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ServiceRequestOut]:
    """Newest first; ``customer_id`` includes the customers merged into it."""
    return service_requests.list_for_staff(db, staff, status=state, kind=kind, customer_id=customer_id, limit=limit)


@staff_router.get("/{request_id}", response_model=ServiceRequestOut, responses=errors(404))
def staff_get(request_id: DbId, db: DbDep, staff: StaffDep) -> ServiceRequestOut:
    try:
        return service_requests.get_for_staff(db, staff, request_id)
    except service_requests.RequestNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@staff_router.post("/{request_id}/decision", response_model=ServiceRequestOut, responses=errors(404, 409))
def staff_decide(request_id: DbId, body: Annotated[DecisionIn, Body()], db: DbDep,
                 staff: StaffDep) -> ServiceRequestOut:
    """Approve a submitted return (the order goes to 退款处理中) or reject it, saying why."""
    try:
        out = service_requests.decide(db, staff, request_id, body.decision, body.note)
    except service_requests.RequestNotFound as exc:
        db.rollback()
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except service_requests.RequestConflict as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.commit()
    return out
