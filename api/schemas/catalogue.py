"""What the catalogue screen reads and writes: products with the facts customers ask
about (attributes, aliases, stock, on-sale), their Q&A pairs, and an import's report.

The bounds below are the catalogue's: ``api/services/catalogue.py`` checks imported rows
against the same ones (with Chinese reasons), so the OpenAPI document says exactly what
the routes and the import accept."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from api.schemas.types import InputModel, StaffText, UtcDatetime, not_null

# The bounds of a product's facts (the import checks the same, in Chinese).
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
NAME_MAX, CATEGORY_MAX, DESCRIPTION_MAX = 128, 32, 2000
ATTRIBUTES_MAX, ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX = 30, 16, 200
ALIASES_MAX, ALIAS_MAX = 20, 32
QAS_MAX, QUESTION_MAX, ANSWER_MAX = 50, 200, 500
STOCK_MAX = 1_000_000
PRICE_MAX = Decimal("99999999.99")
IMPORT_MODES = ("all-or-nothing", "skip-invalid")
# Not blank: at least one character that is not white space (the service trims the ends).
_TRIMMED = r"\S"

Sku = Annotated[str, Field(pattern=SKU_PATTERN, min_length=1, max_length=32)]
AttributeKey = Annotated[StaffText, Field(min_length=1, max_length=ATTRIBUTE_KEY_MAX, pattern=_TRIMMED)]
AttributeValue = Annotated[StaffText, Field(min_length=1, max_length=ATTRIBUTE_VALUE_MAX, pattern=_TRIMMED)]
Alias = Annotated[StaffText, Field(min_length=1, max_length=ALIAS_MAX, pattern=_TRIMMED)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=ATTRIBUTES_MAX)]
Aliases = Annotated[list[Alias], Field(max_length=ALIASES_MAX)]
PRICE_PATTERN = r"^\d{1,8}(\.\d{1,2})?$"


def _price_text(value: object) -> object:
    # A price is written as the shop shows it ("89.00"), never as a binary float.
    if isinstance(value, Decimal) or (isinstance(value, str) and re.fullmatch(PRICE_PATTERN, value)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError("hx_price", "应写成文字形式的金额，如 \"89.00\"")
    raise PydanticCustomError("hx_price", "应为金额，如 89.00（不小于 0，最多两位小数）")


Price = Annotated[Decimal, BeforeValidator(_price_text),
                  Field(strict=False, ge=0, le=PRICE_MAX, max_digits=10, decimal_places=2),
                  WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["89.00"]})]
def _whole_number(value: object) -> object:
    # JSON has one number type: 12.0 is the whole number 12 (as JSON Schema's "integer" says).
    return int(value) if isinstance(value, float) and value.is_integer() else value


Stock = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=STOCK_MAX)]
Question = Annotated[StaffText, Field(min_length=1, max_length=QUESTION_MAX, pattern=_TRIMMED)]
Answer = Annotated[StaffText, Field(min_length=1, max_length=ANSWER_MAX, pattern=_TRIMMED)]
ImportMode = Literal[IMPORT_MODES]


class QAIn(InputModel):
    question: Question
    answer: Answer


class QAPatch(InputModel):
    question: Question = not_null()
    answer: Answer = not_null()


class QAOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    question: str
    answer: str
    updated_at: UtcDatetime
    updated_by: str


class ProductIn(InputModel):
    sku: Sku
    name: Annotated[StaffText, Field(min_length=1, max_length=NAME_MAX, pattern=_TRIMMED)]
    category: Annotated[StaffText, Field(min_length=1, max_length=CATEGORY_MAX, pattern=_TRIMMED)]
    price: Price
    description: Annotated[StaffText, Field(max_length=DESCRIPTION_MAX)] = ""
    attributes: Attributes = Field(default_factory=dict)
    aliases: Aliases = Field(default_factory=list)
    stock: Stock = 0
    on_sale: bool = True
    qas: list[QAIn] = Field(default_factory=list, max_length=QAS_MAX)


class ProductPatch(InputModel):
    """Fields left out stay as they are; ``attributes`` and ``aliases`` are replaced whole
    (send the complete dict / list). Q&A pairs have routes of their own."""

    name: Annotated[StaffText, Field(pattern=_TRIMMED)] = not_null(min_length=1, max_length=NAME_MAX)
    category: Annotated[StaffText, Field(pattern=_TRIMMED)] = not_null(min_length=1, max_length=CATEGORY_MAX)
    price: Price = not_null()
    description: StaffText = not_null(max_length=DESCRIPTION_MAX)
    attributes: Attributes = not_null()
    aliases: Aliases = not_null()
    stock: Stock = not_null()
    on_sale: bool = not_null()


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    attributes: dict[str, str]
    aliases: list[str]
    stock: int
    on_sale: bool
    updated_at: UtcDatetime
    updated_by: str
    qas: list[QAOut]


class ProductPage(BaseModel):
    total: int
    items: list[ProductOut]
    categories: list[str]  # every category of the catalogue, for the screen's filter


class ImportProblem(BaseModel):
    line: int  # line number in the file (1 = the CSV header / the JSON file's first line)
    sku: str | None
    message: str


class ImportReportOut(BaseModel):
    """``ok`` false: some rows were refused (``errors``). With ``all-or-nothing`` nothing
    was then written; with ``skip-invalid`` the valid rows were."""

    mode: ImportMode
    format: Literal["csv", "json"]
    ok: bool
    rows: int
    created: int
    updated: int
    skipped: int
    errors: list[ImportProblem]
