"""The catalogue admin API: products and their facts, Q&A, imports with line numbers,
refusals in Chinese, and no deleting a product orders still name."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from api.models import Product, ProductQA
from api.services.auth import create_staff
from demo.members import seed

BASE = "/api/admin/catalogue"
FETCH = {"X-Requested-With": "fetch"}
CUP = {"sku": "CUP-900", "name": "钛杯 300ml", "category": "杯具", "price": "129.00",
       "description": "纯钛内胆，轻便耐用。", "attributes": {"容量": "300ml", "材质": "纯钛"},
       "aliases": ["钛杯", "钛水杯"], "stock": 12, "on_sale": True,
       "qas": [{"question": "能装开水吗", "answer": "可以，耐温 100°C。"}]}


@pytest.fixture
def admin(client, db):
    create_staff(db, "boss", "boss-password-1", "admin", "店长")
    db.commit()
    assert client.post("/api/auth/login", json={"username": "boss", "password": "boss-password-1"}).status_code == 200
    client.headers.update(FETCH)
    return client


def products(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Product))


def test_create_read_edit_and_delete_a_product_records_who(admin, db):
    created = admin.post(f"{BASE}/products", json=CUP)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["attributes"] == {"容量": "300ml", "材质": "纯钛"} and body["updated_by"] == "boss"
    assert [qa["question"] for qa in body["qas"]] == ["能装开水吗"]

    patched = admin.patch(f"{BASE}/products/CUP-900",
                          json={"attributes": {"容量": "300ml", "颜色": " 银色 "}, "stock": 0, "on_sale": False})
    assert patched.status_code == 200, patched.text
    stored = admin.get(f"{BASE}/products/CUP-900").json()
    assert stored["attributes"] == {"容量": "300ml", "颜色": "银色"}  # replaced whole, trimmed
    assert (stored["stock"], stored["on_sale"], stored["price"]) == (0, False, "129.00")

    found = admin.get(f"{BASE}/products", params={"q": "钛水杯"}).json()  # by an alias
    assert [p["sku"] for p in found["items"]] == ["CUP-900"] and found["total"] == 1
    assert admin.get(f"{BASE}/products", params={"q": "不存在的东西"}).json()["total"] == 0

    assert admin.delete(f"{BASE}/products/CUP-900").status_code == 204
    missing = admin.get(f"{BASE}/products/CUP-900")
    assert missing.status_code == 404 and "不存在" in missing.json()["detail"]


def test_qa_pairs_are_added_edited_and_removed(admin, db):
    admin.post(f"{BASE}/products", json=CUP)
    added = admin.post(f"{BASE}/products/CUP-900/qas", json={"question": "可以进洗碗机吗", "answer": "不建议，请手洗。"})
    assert added.status_code == 201 and added.json()["updated_by"] == "boss"
    qa_id = added.json()["id"]
    assert admin.patch(f"{BASE}/products/CUP-900/qas/{qa_id}", json={"answer": "可以，但手洗更耐用。"}).status_code == 200
    qas = admin.get(f"{BASE}/products/CUP-900").json()["qas"]
    assert {qa["question"]: qa["answer"] for qa in qas}["可以进洗碗机吗"] == "可以，但手洗更耐用。"
    assert admin.delete(f"{BASE}/products/CUP-900/qas/{qa_id}").status_code == 204
    assert admin.delete(f"{BASE}/products/CUP-900/qas/{qa_id}").status_code == 404
    assert len(admin.get(f"{BASE}/products/CUP-900").json()["qas"]) == 1


@pytest.mark.parametrize("change, fragment", [
    ({"attributes": {"一个非常非常非常长的属性名字超过十六": "x"}}, "attributes"),
    ({"attributes": {f"属性{i}": "x" for i in range(31)}}, "attributes"),
    ({"attributes": {"容量": "x" * 201}}, "attributes"),
    ({"aliases": ["杯"] * 21}, "aliases"),
    ({"aliases": ["杯" * 33]}, "aliases"),
    ({"stock": -1}, "stock"),
    ({"price": "-1"}, "price"),
    ({"name": "   "}, "name"),
    ({"qas": [{"question": "问" * 201, "answer": "答"}]}, "qas"),
    ({"qas": [{"question": "问", "answer": "答" * 501}]}, "qas"),
])
def test_bad_fields_are_refused_in_chinese_and_nothing_is_written(admin, db, change, fragment):
    before = products(db)
    resp = admin.post(f"{BASE}/products", json={**CUP, **change})
    assert resp.status_code == 422
    assert "不符合要求" in resp.json()["detail"] and fragment in resp.json()["detail"]
    assert products(db) == before


def test_duplicates_and_unknown_products(admin, db):
    assert admin.post(f"{BASE}/products", json=CUP).status_code == 201
    again = admin.post(f"{BASE}/products", json=CUP)
    assert again.status_code == 409 and "已存在" in again.json()["detail"]
    assert admin.patch(f"{BASE}/products/NOPE-1", json={"stock": 1}).status_code == 404
    assert admin.post(f"{BASE}/products/NOPE-1/qas", json={"question": "q", "answer": "a"}).status_code == 404


def test_a_product_in_orders_is_not_deleted_but_can_go_off_sale(admin, db):
    seed(db)
    refused = admin.delete(f"{BASE}/products/CUP-001")
    assert refused.status_code == 409
    assert "下架" in refused.json()["detail"] and "订单" in refused.json()["detail"]
    assert admin.get(f"{BASE}/products/CUP-001").status_code == 200
    assert admin.patch(f"{BASE}/products/CUP-001", json={"on_sale": False}).json()["on_sale"] is False


def test_agents_and_anonymous_callers_are_refused(client, db):
    create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    db.commit()
    assert client.get(f"{BASE}/products").status_code == 401
    client.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"})
    client.headers.update(FETCH)
    for method, url, body in [("GET", f"{BASE}/products", None), ("POST", f"{BASE}/products", CUP),
                              ("POST", f"{BASE}/import?filename=a.csv", None)]:
        resp = client.request(method, url, json=body)
        assert resp.status_code == 403 and "管理员" in resp.json()["detail"]
    assert products(db) == 0


HEADER = "sku,name,category,price,stock,on_sale,description,aliases,attributes,qa\n"
GOOD_CSV = (
    'TEA-901,高山乌龙 150g,茶叶,88.00,20,true,台湾高山茶,乌龙|乌龙茶,产地=台湾南投|净含量=150g,'
    '能泡几次=>可冲泡 7 泡左右||保质期多久=>18 个月\n'
    'CUP-001,不锈钢保温杯 500ml,杯具,79.00,5,在售,,,容量=500ml,\n'  # an update of a demo product
)
BAD_CSV = (
    'TEA-902,坏价格,茶叶,abc,1,true,,,,\n'             # line 4: price
    'TEA-903,坏属性,茶叶,10.00,1,true,,,颜色红色,\n'   # line 5: attribute without =
    'TEA-904,坏库存,茶叶,10.00,-3,true,,,,\n'          # line 6: stock
    'TEA-901,重复,茶叶,10.00,1,true,,,,\n'             # line 7: sku twice
)


def upload(client, text: str, mode: str, filename: str = "products.csv", content_type: str = "text/csv"):
    return client.post(f"{BASE}/import", params={"mode": mode, "filename": filename},
                       content=text.encode("utf-8"), headers={"Content-Type": content_type})


def test_csv_all_or_nothing_writes_nothing_and_names_every_bad_line(admin, db):
    seed(db)
    before = products(db)
    resp = upload(admin, HEADER + GOOD_CSV + BAD_CSV, "all-or-nothing")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["ok"] is False and (report["created"], report["updated"]) == (0, 0)
    assert report["rows"] == 6 and report["skipped"] == 6
    by_line = {e["line"]: e["message"] for e in report["errors"]}
    assert set(by_line) == {4, 5, 6, 7}
    assert "价格" in by_line[4] and "=" in by_line[5] and "库存" in by_line[6] and "第 2 行" in by_line[7]
    assert products(db) == before
    assert db.scalar(select(Product).where(Product.sku == "CUP-001")).price == 89  # not updated


def test_csv_skip_invalid_upserts_the_valid_rows(admin, db):
    seed(db)
    before = products(db)
    report = upload(admin, HEADER + GOOD_CSV + BAD_CSV, "skip-invalid").json()
    assert report["ok"] is False and (report["created"], report["updated"], report["skipped"]) == (1, 1, 4)
    assert {e["line"] for e in report["errors"]} == {4, 5, 6, 7}
    assert products(db) == before + 1
    tea = admin.get(f"{BASE}/products/TEA-901").json()
    assert tea["attributes"] == {"产地": "台湾南投", "净含量": "150g"} and tea["aliases"] == ["乌龙", "乌龙茶"]
    assert [(q["question"], q["answer"]) for q in tea["qas"]] == [("能泡几次", "可冲泡 7 泡左右"), ("保质期多久", "18 个月")]
    assert tea["updated_by"] == "boss"
    cup = admin.get(f"{BASE}/products/CUP-001").json()
    assert (cup["price"], cup["stock"], cup["attributes"]) == ("79.00", 5, {"容量": "500ml"})


def test_json_import_reports_the_line_each_bad_product_starts_on(admin, db):
    items = [
        {"sku": "SNK-901", "name": "蜂蜜黄油扁桃仁 200g", "category": "零食", "price": 36,
         "attributes": {"净含量": "200g", "保质期": "9 个月"}, "aliases": ["扁桃仁", "巴旦木"],
         "qa": [{"question": "甜吗", "answer": "微甜，蜂蜜黄油味。"}]},
        {"sku": "SNK-902", "name": "坏的", "category": "零食", "price": 10, "aliases": ["名字" * 20]},
        {"sku": "SNK-903", "category": "零食", "price": 10},
    ]
    text = json.dumps(items, ensure_ascii=False, indent=2)
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line == "  {"]
    report = upload(admin, text, "all-or-nothing", "products.json", "application/json").json()
    assert report["format"] == "json" and report["ok"] is False and products(db) == 0
    by_line = {e["line"]: e["message"] for e in report["errors"]}
    assert set(by_line) == {lines[1], lines[2]}
    assert "别名" in by_line[lines[1]] and "太长" in by_line[lines[1]] and "名称" in by_line[lines[2]]
    report = upload(admin, text, "skip-invalid", "products.json", "application/json").json()
    assert (report["created"], report["skipped"]) == (1, 2)
    stored = admin.get(f"{BASE}/products/SNK-901").json()
    assert stored["price"] == "36.00" and stored["qas"][0]["answer"] == "微甜，蜂蜜黄油味。"


@pytest.mark.parametrize("content, filename, content_type, fragment", [
    (b"\xff\xfe\x00bad", "a.csv", "text/csv", "UTF-8"),
    (b'{"sku": "X"}', "a.json", "application/json", "列表"),
    (b"[1, 2]", "a.json", "application/json", "商品对象"),
    (b"[{", "a.json", "application/json", "JSON"),
    (b"sku,name\n", "a.xlsx", "application/octet-stream", "格式"),
])
def test_unreadable_files_are_refused_whole(admin, db, content, filename, content_type, fragment):
    resp = admin.post(f"{BASE}/import", params={"filename": filename}, content=content,
                      headers={"Content-Type": content_type})
    assert resp.status_code == 422 and fragment in resp.json()["detail"]
    assert products(db) == 0


def test_missing_columns_are_reported_on_the_header_line(admin, db):
    report = upload(admin, "sku,name\nX-1,杯子\n", "skip-invalid").json()
    assert report["ok"] is False and report["errors"][0]["line"] == 1
    assert "category" in report["errors"][0]["message"] and products(db) == 0


def test_reimporting_qa_keeps_unchanged_pairs(admin, db):
    upload(admin, HEADER + GOOD_CSV, "all-or-nothing")
    first = {q["question"]: q["id"] for q in admin.get(f"{BASE}/products/TEA-901").json()["qas"]}
    again = HEADER + GOOD_CSV.splitlines()[0].replace("||保质期多久=>18 个月", "||冲泡水温=>95°C") + "\n"
    report = upload(admin, again, "all-or-nothing").json()
    assert report["ok"] and report["updated"] == 1
    db.expire_all()
    now = {q.question: q.id for q in db.scalars(select(ProductQA).join(Product).where(Product.sku == "TEA-901"))}
    assert now == {"能泡几次": first["能泡几次"], "冲泡水温": now["冲泡水温"]}
