"""Self-service requests on orders: what the action server sends and gets back (answers
rendered by the service's NLG: a response name and its template's variables), and what
staff screens read and decide."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.models.service_request import REQUEST_KINDS, REQUEST_STATUS_LABELS
from api.schemas.types import InputModel, StaffText, Storable, UtcDatetime

RequestKind = Literal[tuple(REQUEST_KINDS)]
RequestStatus = Literal[tuple(REQUEST_STATUS_LABELS)]

# --- the action server (internal) ---------------------------------------------------------


class RequestAnswer(BaseModel):
    """A reply for the customer: ``response`` is a domain.yml response, ``slots`` its variables."""

    response: str
    slots: dict[str, str]


class RequestCheckOut(RequestAnswer):
    eligible: bool
    order_no: str | None  # the order the answer is about (None: the customer must name one)
    items: list[str]  # the order's product names


class RequestCreateIn(InputModel):
    kind: RequestKind
    order_no: Annotated[Storable, Field(min_length=1, max_length=32)]
    # Product names (or parts of them, as the customer said them); empty: the whole order.
    items: list[Annotated[Storable, Field(max_length=128)]] = Field(default_factory=list, max_length=20)
    reason: Annotated[Storable, Field(max_length=200)] = ""
    new_address: Annotated[Storable, Field(max_length=200)] | None = None
    conversation_id: Annotated[Storable, Field(max_length=32)] | None = None


class RequestCreateOut(RequestAnswer):
    created: bool
    request_no: str | None


# --- staff ------------------------------------------------------------------------------


class ServiceRequestEvent(BaseModel):
    """A request as the customer timeline shows it (kind ``service_request``)."""

    request_id: int
    request_no: str
    kind: str
    kind_label: str
    order_no: str
    status: str
    status_label: str
    items: list[str]
    reason: str
    new_address: str | None
    note: str
    handled_by: str | None
    updated_at: UtcDatetime


class ServiceRequestOut(BaseModel):
    id: int
    request_no: str
    customer_id: int
    customer_name: str | None
    order_no: str
    order_status: str
    order_status_label: str
    # Only when the staff member may read that conversation (api/services/access.py).
    conversation_id: str | None
    kind: str
    kind_label: str
    status: str
    status_label: str
    items: list[str]
    reason: str  # the customer's words, personal data masked
    new_address: str | None
    note: str
    handled_by: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ApproveIn(InputModel):
    decision: Literal["approve"]
    note: Annotated[StaffText, Field(max_length=200)] = ""


class RejectIn(InputModel):
    decision: Literal["reject"]
    # Told to the customer when they ask: a rejection always says why.
    note: Annotated[StaffText, Field(min_length=1, max_length=200, pattern=r"\S")]


DecisionIn = Annotated[ApproveIn | RejectIn, Field(discriminator="decision")]
