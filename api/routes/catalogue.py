"""The shop's catalogue for admins: products, their facts and Q&A, imports.

What is committed here is what the chat answers from at the next message (the product
answers read the rows, nothing is trained). A product that appears in orders is never
deleted — orders keep naming it — it is marked 下架 (``on_sale=false``) instead."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from sqlalchemy.orm import Session

from api.deps import AdminDep, DbDep, require_admin
from api.models import Product, ProductQA
from api.schemas.catalogue import (
    IMPORT_MODES,
    SKU_PATTERN,
    ImportMode,
    ImportReportOut,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    QAIn,
    QAOut,
    QAPatch,
)
from api.schemas.errors import errors
from api.schemas.types import DbCount, DbId, Storable
from api.services import catalogue as cat

router = APIRouter(prefix="/api/admin/catalogue", tags=["catalogue"], dependencies=[Depends(require_admin)])

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, max_length=32, description="商品 SKU")]


def _product(db: Session, sku: str) -> Product:
    product = cat.find_product(db, sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"商品 {sku} 不存在")
    return product


def _qa(product: Product, qa_id: int) -> ProductQA:
    qa = next((q for q in product.qas if q.id == qa_id), None)
    if qa is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"商品 {product.sku} 没有编号为 {qa_id} 的问答")
    return qa


@router.get("/products", response_model=ProductPage)
def list_products(db: DbDep,
                  q: Annotated[Storable, Query(max_length=100, description="SKU、名称、类别、描述或别名中包含的文字")] = "",
                  category: Annotated[Storable, Query(max_length=32)] = "",
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[DbCount, Query()] = 0) -> ProductPage:
    total, items, categories = cat.list_products(db, q=q, category=category, limit=limit, offset=offset)
    return ProductPage(total=total, items=[ProductOut.model_validate(p) for p in items], categories=categories)


@router.post("/products", response_model=ProductOut, status_code=status.HTTP_201_CREATED, responses=errors(409))
def create_product(body: ProductIn, db: DbDep, admin: AdminDep) -> Product:
    try:
        product = cat.create_product(db, body.model_dump(exclude={"qas"}),
                                     [qa.model_dump() for qa in body.qas], admin.username)
    except cat.DuplicateSku as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.commit()
    return _product(db, product.sku)


@router.get("/products/{sku}", response_model=ProductOut)
def get_product(sku: SkuPath, db: DbDep) -> Product:
    return _product(db, sku)


@router.patch("/products/{sku}", response_model=ProductOut)
def update_product(sku: SkuPath, body: ProductPatch, db: DbDep, admin: AdminDep) -> Product:
    product = _product(db, sku)
    cat.update_product(db, product, body.model_dump(exclude_unset=True), admin.username)
    db.commit()
    return _product(db, sku)


@router.delete("/products/{sku}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(409))
def delete_product(sku: SkuPath, db: DbDep) -> None:
    try:
        cat.delete_product(db, _product(db, sku))
    except cat.ProductInUse as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.commit()


@router.post("/products/{sku}/qas", response_model=QAOut, status_code=status.HTTP_201_CREATED)
def add_qa(sku: SkuPath, body: QAIn, db: DbDep, admin: AdminDep) -> ProductQA:
    qa = cat.add_qa(db, _product(db, sku), body.question, body.answer, admin.username)
    db.commit()
    return qa


@router.patch("/products/{sku}/qas/{qa_id}", response_model=QAOut)
def update_qa(sku: SkuPath, qa_id: DbId, body: QAPatch, db: DbDep, admin: AdminDep) -> ProductQA:
    qa = cat.update_qa(db, _qa(_product(db, sku), qa_id), body.model_dump(exclude_unset=True), admin.username)
    db.commit()
    return qa


@router.delete("/products/{sku}/qas/{qa_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_qa(sku: SkuPath, qa_id: DbId, db: DbDep, admin: AdminDep) -> None:
    cat.delete_qa(db, _qa(_product(db, sku), qa_id), admin.username)
    db.commit()


async def _file(request: Request) -> bytes:
    """The uploaded file: the request body as sent (no multipart)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cat.IMPORT_MAX_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"文件过大：最多 {cat.IMPORT_MAX_BYTES // (1024 * 1024)} MB，请分批导入")
    content = b""
    async for chunk in request.stream():
        content += chunk
        if len(content) > cat.IMPORT_MAX_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"文件过大：最多 {cat.IMPORT_MAX_BYTES // (1024 * 1024)} MB，请分批导入")
    return content


_IMPORT_BODY = {
    "required": True,
    "description": ("商品文件，按 SKU 新增或更新，原样作为请求体发送。JSON（Content-Type: application/json）："
                    "商品对象的列表，字段 " + ",".join(cat.CSV_COLUMNS) + "（price 为金额，attributes 为对象，"
                    "aliases 为列表，qa 为 {question, answer} 的列表）。CSV（Content-Type: text/csv，或文件名以 .csv "
                    "结尾）：表头同上；aliases 用 | 分隔，attributes 写成 属性名=值 并用 | 分隔，qa 写成 问题=>回答 并用 || 分隔。"),
    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
}


@router.post("/import", response_model=ImportReportOut, responses=errors(400, 413),
             openapi_extra={"requestBody": _IMPORT_BODY})
def import_products(request: Request, db: DbDep, admin: AdminDep, content: Annotated[bytes, Depends(_file)],
                    mode: Annotated[ImportMode, Query(description="all-or-nothing：有任何一行出错就全部不导入；"
                                                                  "skip-invalid：导入正确的行，跳过出错的行")]
                    = IMPORT_MODES[0],
                    filename: Annotated[Storable, Query(max_length=255, description="原文件名（用于判断格式）")] = "",
                    ) -> ImportReportOut:
    """A report with the line of every refused row; ``ok`` false and nothing written when a
    row is refused in ``all-or-nothing`` mode. A file that cannot be read at all (not
    UTF-8, not JSON, not a list of objects, unknown format) is answered 422."""
    try:
        fmt = cat.detect_format(request.headers.get("content-type"), filename)
        report = cat.import_catalogue(db, content, fmt, admin.username, skip_invalid=mode == "skip-invalid")
    except cat.ImportFileError as exc:
        db.rollback()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if report.errors and mode == "all-or-nothing":
        db.rollback()
    else:
        db.commit()
    return ImportReportOut(mode=mode, format=fmt, ok=report.ok, rows=report.rows, created=report.created,
                           updated=report.updated, skipped=report.skipped,
                           errors=[{"line": p.line, "sku": p.sku, "message": p.message} for p in report.errors])
