"""The shop's catalogue as admins keep it: products with the facts customers ask about,
their Q&A pairs, and imports from CSV or JSON.

The chat answers from these rows directly (no retraining), so whatever is stored here
is what a customer is told: every text is trimmed, blank aliases and attributes are
dropped, and an import writes either every row or, with ``skip-invalid``, only the rows
that passed every check — never half of a product.

Imported rows are checked with the same pydantic shape as the admin API
(``api/schemas/catalogue.py``), and their problems are said in Chinese with the line of
the file they came from, as the order import does (``api/services/order_import.py``).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.models import OrderItem, Product, ProductQA
from api.schemas.catalogue import ProductIn

CSV_COLUMNS = ("sku", "name", "category", "price", "stock", "on_sale", "description", "aliases", "attributes", "qa")
REQUIRED_COLUMNS = ("sku", "name", "category", "price")
IMPORT_MAX_ROWS = 5000
IMPORT_MAX_BYTES = 4 * 1024 * 1024
_YES = {"true", "1", "yes", "y", "是", "在售", "上架"}
_NO = {"false", "0", "no", "n", "否", "下架", "不在售"}

FIELD_LABELS = {"sku": "SKU", "name": "名称", "category": "类别", "price": "价格", "description": "描述",
                "attributes": "属性", "aliases": "别名", "stock": "库存", "on_sale": "是否在售",
                "qas": "问答", "question": "问题", "answer": "回答"}


class CatalogueError(ValueError):
    """A refused change, with its reason in Chinese."""


class DuplicateSku(CatalogueError):
    pass


class ProductInUse(CatalogueError):
    pass


class ImportFileError(CatalogueError):
    """The file as a whole cannot be read (not UTF-8, not JSON, an unknown format)."""


# --- storing ------------------------------------------------------------------------

def _trimmed_attributes(attributes: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for key, value in attributes.items():
        key, value = key.strip(), value.strip()
        if key and value:
            cleaned[key] = value
    return cleaned


def _trimmed_aliases(aliases: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(a.strip() for a in aliases if a.strip()))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored form of product fields: texts trimmed, empty entries dropped."""
    cleaned = dict(fields)
    for name in ("name", "category", "description"):
        if isinstance(cleaned.get(name), str):
            cleaned[name] = cleaned[name].strip()
    if "attributes" in cleaned:
        cleaned["attributes"] = _trimmed_attributes(cleaned["attributes"])
    if "aliases" in cleaned:
        cleaned["aliases"] = _trimmed_aliases(cleaned["aliases"])
    return cleaned


def find_product(db: Session, sku: str) -> Product | None:
    return db.scalar(select(Product).where(Product.sku == sku).options(selectinload(Product.qas)))


def list_products(db: Session, q: str = "", category: str = "", limit: int = 50,
                  offset: int = 0) -> tuple[int, list[Product], list[str]]:
    """A page of products matching ``q`` in sku, name, category, description or an alias.

    Filtered in Python: aliases live in a JSON list, and a shop's catalogue is small
    (hundreds to a few thousand rows)."""
    query = select(Product).options(selectinload(Product.qas)).order_by(Product.sku)
    if category:
        query = query.where(Product.category == category)
    products = list(db.scalars(query))
    needle = q.strip().casefold()
    if needle:
        products = [p for p in products
                    if any(needle in text.casefold()
                           for text in (p.sku, p.name, p.category, p.description or "", *(p.aliases or [])))]
    categories = sorted(set(db.scalars(select(Product.category).distinct())))
    return len(products), products[offset:offset + limit], categories


def create_product(db: Session, fields: dict[str, Any], qas: list[dict[str, str]], by: str) -> Product:
    if db.scalar(select(Product.id).where(Product.sku == fields["sku"])) is not None:
        raise DuplicateSku(f"SKU {fields['sku']} 已存在；要修改它请编辑该商品")
    product = Product(**_clean(fields), updated_by=by)
    product.qas = [ProductQA(question=qa["question"].strip(), answer=qa["answer"].strip(), updated_by=by)
                   for qa in qas]
    db.add(product)
    db.flush()
    return product


def update_product(db: Session, product: Product, changes: dict[str, Any], by: str) -> Product:
    for key, value in _clean(changes).items():
        setattr(product, key, value)
    product.updated_by = by
    db.flush()
    return product


def orders_with(db: Session, product: Product) -> int:
    return db.scalar(select(func.count(func.distinct(OrderItem.order_id)))
                     .where(OrderItem.product_id == product.id)) or 0


def delete_product(db: Session, product: Product) -> None:
    """Refused for a product that appears in orders: they must keep naming it."""
    used = orders_with(db, product)
    if used:
        raise ProductInUse(f"商品 {product.sku}（{product.name}）已出现在 {used} 个订单中，不能删除；"
                           "如不再销售，请把它设为下架（on_sale=false）")
    db.delete(product)
    db.flush()


def add_qa(db: Session, product: Product, question: str, answer: str, by: str) -> ProductQA:
    qa = ProductQA(question=question.strip(), answer=answer.strip(), updated_by=by)
    product.qas.append(qa)
    product.updated_by = by
    db.flush()
    return qa


def update_qa(db: Session, qa: ProductQA, changes: dict[str, str], by: str) -> ProductQA:
    for key, value in changes.items():
        setattr(qa, key, value.strip())
    qa.updated_by = by
    qa.product.updated_by = by
    db.flush()
    return qa


def delete_qa(db: Session, qa: ProductQA, by: str) -> None:
    qa.product.updated_by = by
    db.delete(qa)
    db.flush()


def _replace_qas(product: Product, pairs: list[dict[str, str]], by: str) -> None:
    """The product's Q&A become ``pairs``; a question already there keeps its row."""
    kept = {qa.question: qa for qa in product.qas}
    wanted = []
    for pair in pairs:
        question, answer = pair["question"].strip(), pair["answer"].strip()
        qa = kept.pop(question, None)
        if qa is None:
            qa = ProductQA(question=question, answer=answer, updated_by=by)
        elif qa.answer != answer:
            qa.answer, qa.updated_by = answer, by
        wanted.append(qa)
    product.qas = wanted


# --- importing ----------------------------------------------------------------------

@dataclass
class ImportProblem:
    line: int
    sku: str | None
    message: str


@dataclass
class ImportReport:
    mode: str
    format: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Row:
    line: int
    given: dict[str, Any]  # the fields the row states (absent ones keep the stored value)
    qas: list[dict[str, str]] | None = None  # None: the row says nothing about Q&A


def detect_format(content_type: str | None, filename: str | None) -> str:
    """"json" or "csv": by an explicit Content-Type, else by the file name's extension
    (browsers send CSV files as text/plain, application/vnd.ms-excel or nothing)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("application/json", "text/json"):
        return "json"
    if media in ("text/csv", "application/csv"):
        return "csv"
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")) or media in ("text/plain", "application/vnd.ms-excel"):
        return "csv"
    raise ImportFileError("无法识别文件格式：请上传 .csv 或 .json 文件（或把 Content-Type 设为 text/csv / application/json）")


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        raise ImportFileError(f"第 {line} 行：文件不是 UTF-8 编码；请用 UTF-8 另存后重新导入") from None


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def _csv_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for pair in _split(text, "|"):
        key, sep, value = pair.partition("=")
        if not sep:
            raise CatalogueError(f"属性 “{pair[:20]}” 缺少“=”（应写成 属性名=值，多个用 | 分隔）")
        key = key.strip()
        if key in attributes:
            raise CatalogueError(f"属性 “{key[:20]}” 写了两次")
        attributes[key] = value.strip()
    return attributes


def _csv_qas(text: str) -> list[dict[str, str]]:
    pairs = []
    for pair in _split(text, "||"):
        question, sep, answer = pair.partition("=>")
        if not sep:
            raise CatalogueError(f"问答 “{pair[:20]}” 缺少“=>”（应写成 问题=>回答，多组用 || 分隔）")
        pairs.append({"question": question.strip(), "answer": answer.strip()})
    return pairs


def _csv_row(row: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]] | None]:
    given: dict[str, Any] = {k: row[k] for k in ("sku", "name", "category", "price")}
    if row.get("stock"):
        try:
            given["stock"] = int(row["stock"])
        except ValueError:
            raise CatalogueError(f"库存 “{row['stock'][:20]}” 不是整数") from None
    if row.get("on_sale"):
        flag = row["on_sale"].lower()
        if flag not in _YES | _NO:
            raise CatalogueError(f"是否在售 “{row['on_sale'][:20]}” 无法识别（填 true/false、是/否 或 在售/下架）")
        given["on_sale"] = flag in _YES
    if "description" in row:
        given["description"] = row["description"]
    if "aliases" in row:
        given["aliases"] = _split(row["aliases"], "|")
    if "attributes" in row:
        given["attributes"] = _csv_attributes(row["attributes"])
    qas = _csv_qas(row["qa"]) if "qa" in row else None
    return given, qas


def _read_csv(text: str, report: ImportReport) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(name or "").strip() for name in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        report.errors.append(ImportProblem(1, None, f"缺少列：{', '.join(missing)}（表头应为 {','.join(CSV_COLUMNS)}）"))
        return []
    reader.fieldnames = header
    rows, end = [], reader.line_num
    for raw in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may span lines: where the row starts
        row = {k: (v or "").strip() for k, v in raw.items() if k in CSV_COLUMNS and isinstance(v, str)}
        if not any(row.values()):
            continue  # a line of empty cells
        report.rows += 1
        try:
            given, qas = _csv_row(row)
        except CatalogueError as exc:
            report.errors.append(ImportProblem(line, row.get("sku") or None, str(exc)))
            continue
        rows.append(_Row(line, given, qas))
    return rows


def _json_items(text: str) -> list[tuple[int, Any]]:
    """The list's items with the line each starts on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"第 {exc.lineno} 行：不是有效的 JSON（{exc.msg}）") from None
    if not isinstance(data, list):
        raise ImportFileError("JSON 文件应为商品对象的列表，如 [{\"sku\": \"TEA-001\", …}, …]")
    decoder, items = json.JSONDecoder(), []
    position, line, counted = text.index("[") + 1, 1, 0
    for _ in data:
        while text[position] in " \t\r\n,":
            position += 1
        line += text.count("\n", counted, position)
        counted = position
        value, position = decoder.raw_decode(text, position)
        items.append((line, value))
    return items


def _read_json(text: str, report: ImportReport) -> list[_Row]:
    items = _json_items(text)
    wrong = next((line for line, item in items if not isinstance(item, dict)), None)
    if wrong is not None:
        raise ImportFileError(f"第 {wrong} 行：列表中的每一项都应是一个商品对象（{{…}}）")
    rows = []
    for line, item in items:
        report.rows += 1
        given = {k: item[k] for k in CSV_COLUMNS if k in item and k != "qa"}
        qas = item.get("qa", item.get("qas"))
        if qas is not None and not (isinstance(qas, list) and all(isinstance(p, dict) for p in qas)):
            sku = item.get("sku") if isinstance(item.get("sku"), str) else None
            report.errors.append(ImportProblem(line, sku, "qa 应为 {\"question\": …, \"answer\": …} 的列表"))
            continue
        rows.append(_Row(line, given, qas))
    return rows


def _where(loc: tuple) -> str:
    """A pydantic error location in Chinese: 属性「颜色」, 第 2 个别名, 第 1 组问答的回答…"""
    head, rest = str(loc[0]), loc[1:]
    label = FIELD_LABELS.get(head, head)
    if head == "attributes" and rest:
        return f"属性名「{str(rest[0])[:20]}」" if "[key]" in rest else f"属性「{str(rest[0])[:20]}」的值"
    if head == "aliases" and rest and isinstance(rest[0], int):
        return f"第 {rest[0] + 1} 个别名"
    if head == "qas" and rest and isinstance(rest[0], int):
        part = FIELD_LABELS.get(str(rest[1]), "") if len(rest) > 1 else ""
        return f"第 {rest[0] + 1} 组问答" + (f"的{part}" if part else "")
    return label


def _problem(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    where = _where(error["loc"]) if error["loc"] else "该行"
    if kind == "missing":
        return f"缺少{where}"
    if kind == "string_too_short" or (kind == "string_pattern_mismatch" and error["loc"][0] != "sku"):
        return f"{where}不能为空"
    if kind == "string_pattern_mismatch":
        return "SKU 只能由字母、数字、- 和 _ 组成（以字母或数字开头，最多 32 位）"
    if kind == "string_too_long" or (kind == "too_long" and isinstance(error.get("input"), str)):
        return f"{where}太长（最多 {ctx.get('max_length')} 个字）"
    if kind == "too_long":
        return f"{where}太多（最多 {ctx.get('max_length')} 项）"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{where}不能小于 {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{where}不能大于 {ctx.get('le', ctx.get('lt'))}"
    if kind == "decimal_max_places":
        return f"{where}最多两位小数"
    if kind.startswith(("decimal", "float", "finite")):
        return f"{where}应为数字"
    if kind.startswith("int"):
        return f"{where}应为整数"
    if kind.startswith("bool"):
        return f"{where}应为 true 或 false"
    if kind in ("string_type",):
        return f"{where}应为文字"
    if kind in ("dict_type", "model_type"):
        return f"{where}应为对象"
    if kind == "list_type":
        return f"{where}应为列表"
    if kind.startswith("hx_"):
        return f"{where}{error['msg']}"
    return f"{where}不符合要求"


def _check(row: _Row, existing: Product | None) -> tuple[dict[str, Any], list[dict[str, str]] | None]:
    """The row's fields as stored, checked as the admin API checks them."""
    complete = dict(row.given)
    if existing is not None:  # what the row leaves out keeps its stored value
        for key in ("description", "attributes", "aliases", "stock", "on_sale"):
            complete.setdefault(key, getattr(existing, key))
    if row.qas is not None:
        complete["qas"] = row.qas
    if isinstance(complete.get("price"), (int, float)) and not isinstance(complete["price"], bool):
        complete["price"] = str(complete["price"])  # JSON numbers: read as written, not as binary floats
    try:
        checked = ProductIn.model_validate(complete)
    except ValidationError as exc:
        raise CatalogueError("；".join(dict.fromkeys(_problem(e) for e in exc.errors()))) from None
    fields = checked.model_dump(exclude={"qas"})
    return fields, ([qa.model_dump() for qa in checked.qas] if row.qas is not None else None)


def import_catalogue(db: Session, content: bytes, fmt: str, by: str, skip_invalid: bool = False) -> ImportReport:
    """Upsert products by sku from a CSV or JSON file. Does not commit; with errors and
    not ``skip_invalid`` it writes nothing. Raises ImportFileError for an unreadable file."""
    report = ImportReport(mode="skip-invalid" if skip_invalid else "all-or-nothing", format=fmt)
    text = _decode(content)
    rows = _read_json(text, report) if fmt == "json" else _read_csv(text, report)
    if report.rows > IMPORT_MAX_ROWS:
        raise ImportFileError(f"一次最多导入 {IMPORT_MAX_ROWS} 个商品，文件中有 {report.rows} 个；请分批导入")
    skus = [r.given["sku"] for r in rows if isinstance(r.given.get("sku"), str)]
    stored = {p.sku: p for p in db.scalars(select(Product).where(Product.sku.in_(skus))
                                           .options(selectinload(Product.qas)))} if skus else {}
    first_line: dict[str, int] = {}
    ready: list[tuple[dict[str, Any], list[dict[str, str]] | None]] = []
    for row in rows:
        sku = row.given.get("sku") if isinstance(row.given.get("sku"), str) else None
        if sku and sku in first_line:
            report.errors.append(ImportProblem(row.line, sku, f"SKU {sku} 与第 {first_line[sku]} 行重复"))
            continue
        if sku:
            first_line[sku] = row.line
        try:
            ready.append(_check(row, stored.get(sku) if sku else None))
        except CatalogueError as exc:
            report.errors.append(ImportProblem(row.line, sku, str(exc)))
    report.errors.sort(key=lambda p: p.line)
    report.skipped = report.rows - len(ready)
    if report.errors and not skip_invalid:
        report.skipped = report.rows
        return report
    for fields, qas in ready:
        product = stored.get(fields["sku"])
        if product is None:
            create_product(db, fields, qas or [], by)
            report.created += 1
        else:
            update_product(db, product, fields, by)
            if qas is not None:
                _replace_qas(product, qas, by)
            report.updated += 1
    db.flush()
    return report

