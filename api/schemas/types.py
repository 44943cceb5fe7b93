"""Shared field types of the API's shapes: times, integers the database can hold, text.

Every integer a client sends (a path id, an offset, a body field) is bounded to what
the database's INTEGER column holds, so an oversized number is refused with a 422
instead of overflowing the driver; every text an admin or staff member writes is
refused when it holds characters a person cannot read (see ``bot.text``)."""
import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

import annotated_types as at
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic_core import PydanticCustomError

from api.models.content import LOOP_MODES, OFFER_KINDS, OFFER_TRIGGERS
from api.models.customer import PERSONAS, STAGES
from api.models.order import ORDER_CHANNELS, ORDER_STATUS_LABELS
from api.models.staff import ROLES
from bot.text import InvalidMessage, clean_customer_text, unreadable_character


def _as_utc(moment: datetime) -> str:
    # The database keeps naive UTC; clients must not read it as their local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[datetime, PlainSerializer(_as_utc, return_type=str)]


class InputModel(BaseModel):
    """A request body: JSON types as documented, no coercion (``1`` is not ``true``,
    ``"5"`` not ``5``); dates and times are ISO 8601 strings (IsoDate, IsoDatetime)."""

    model_config = ConfigDict(strict=True)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso(value: object) -> object:
    # Refuse what pydantic would also read as a date: numbers (Unix time) and "0.5".
    if isinstance(value, (date, datetime)) or (isinstance(value, str) and _ISO.match(value)):
        return value
    raise PydanticCustomError("hx_date", "应为 ISO 8601 格式的日期或时间（如 2026-12-03 或 2026-12-03T08:00:00Z）")


IsoDate = Annotated[date, Field(strict=False), BeforeValidator(_iso)]
IsoDatetime = Annotated[datetime, Field(strict=False), BeforeValidator(_iso)]
UtcDatetimeIn = Annotated[datetime, Field(strict=False), BeforeValidator(_iso), PlainSerializer(_as_utc, return_type=str)]


def naive_utc(moment: datetime) -> datetime:
    """What the database keeps: UTC without tzinfo (a naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


# --- integers: what a (PostgreSQL) INTEGER column holds ---------------------------------

DB_INT_MAX = 2**31 - 1
DB_INT_MIN = -(2**31)

# A row id: 1 … 2³¹-1 (anything else cannot name a row).
DbId = Annotated[int, at.Ge(1), at.Le(DB_INT_MAX)]
# An offset, a count, an "after this id": 0 … 2³¹-1.
DbCount = Annotated[int, at.Ge(0), at.Le(DB_INT_MAX)]
# Any integer stored as such (a priority may be negative).
DbInt = Annotated[int, at.Ge(DB_INT_MIN), at.Le(DB_INT_MAX)]


# --- text -------------------------------------------------------------------------------

# Error types starting with "hx_" carry a Chinese message that api/main.py shows as is.
TEXT_ERROR = "hx_text"


def _readable(text: str) -> str:
    problem = unreadable_character(text)
    if problem:
        raise PydanticCustomError(TEXT_ERROR, problem)
    return text


def _customer_text(text: str) -> str:
    # Length is checked again by the route against HX_MAX_MESSAGE_CHARS.
    try:
        return clean_customer_text(text, max_chars=10**6)
    except InvalidMessage as exc:
        raise PydanticCustomError(TEXT_ERROR, str(exc)) from None


# Text written by staff and admins (reply variants, offers, canned replies, notes, …):
# no control characters but newline and tab, no private-use, surrogate or unassigned
# code points. They reach customers' screens, so nothing unreadable is stored.
# In the OpenAPI document: ``"format": "readable-text"``.
READABLE_TEXT = "readable-text"


class _ReadableFormat:
    """Says the check in the OpenAPI document (a named format) without replacing the
    field's own constraints."""

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        schema.setdefault("format", READABLE_TEXT)
        schema.setdefault("description", "可读文字：不含换行、回车、制表符以外的控制字符，"
                                         "不含私用区、代理项和未分配的码位")
        return schema


StaffText = Annotated[str, AfterValidator(_readable), _ReadableFormat()]
# What a customer types: control characters dropped, empty text and surrogates refused.
CustomerText = Annotated[str, AfterValidator(_customer_text)]


def _storable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(TEXT_ERROR, "含有无法识别的字符（无效的 UTF-16 代理项），请删除后重试") from None
    return text


# Any other text a client sends (a name, a comment, an id): it must be encodable, so the
# database can store it and compare with it.
Storable = Annotated[str, AfterValidator(_storable)]


# --- the codes of the Python constants, as enums of the OpenAPI document -----------------

Stage = Literal[STAGES]  # api.models.customer.STAGES
Persona = Literal[PERSONAS]
Role = Literal[ROLES]
OfferKind = Literal[OFFER_KINDS]
OfferTrigger = Literal[OFFER_TRIGGERS]
OrderStatus = Literal[tuple(ORDER_STATUS_LABELS)]
LoopMode = Literal[LOOP_MODES]
OrderChannel = Literal[ORDER_CHANNELS]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def not_null(**constraints: Any) -> Any:
    """A PATCH field that may be left out but not set to null (its column is NOT NULL):
    left out it stays unset (``model_dump(exclude_unset=True)`` skips it); ``null`` is
    refused because the field's type does not allow None."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)
