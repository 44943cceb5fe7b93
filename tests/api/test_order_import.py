"""CSV import: every bad row reported, nothing half-imported."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from api.cli import main as cli
from api.models import Customer, Order, StageTransition
from demo.members import seed
from api.domain.lifecycle import StageRules
from api.services.order_import import import_orders

HEADER = "order_no,customer_ref,placed_at,channel,status,sku,quantity,unit_price\n"
GOOD = (
    "DD209901000001,shop-7,2026-11-01T10:00:00Z,web,paid,TEA-001,1,\n"
    "DD209901000001,shop-7,2026-11-01T10:00:00Z,web,paid,CUP-001,2,80.00\n"
    "DD209901000002,shop-7,2026-11-10T10:00:00+08:00,wechat,paid,SNK-002,1,\n"
    "DD209901000003,shop-8,2026-11-12T09:30:00,app,completed,BAG-001,1,\n"
)
BAD = (
    "DD209901000004,shop-9,yesterday,web,paid,TEA-001,1,\n"          # line 6: bad time
    "DD209901000005,shop-9,2026-11-12T09:30:00,web,paid,NOPE-1,1,\n"  # line 7: unknown sku
    "DD209901000006,shop-9,2026-11-12T09:30:00,web,paid,TEA-001,two,\n"  # line 8: bad quantity
    "DD209901000007,,2026-11-12T09:30:00,web,paid,TEA-001,1,\n"       # line 9: no customer
    "DD209901000003,shop-8,2026-11-12T09:30:00,store,completed,TEA-002,1,\n"  # line 10: header differs
)


def counts(db):
    db.expire_all()
    return (db.scalar(select(func.count()).select_from(Order)),
            db.scalar(select(func.count()).select_from(Customer)))


def test_valid_file_imports_everything_and_sets_stages(db):
    seed(db)
    before_orders, before_customers = counts(db)
    report = import_orders(db, io.StringIO(HEADER + GOOD), StageRules())
    assert report.ok and (report.orders_imported, report.lines_imported) == (3, 4)
    assert counts(db) == (before_orders + 3, before_customers + 2)
    first = db.scalar(select(Order).where(Order.order_no == "DD209901000001"))
    assert str(first.amount) == "328.00"  # 168 catalogue + 2 × 80 given
    second = db.scalar(select(Order).where(Order.order_no == "DD209901000002"))
    assert second.placed_at.hour == 2  # 10:00 in UTC+8 is stored as 02:00 UTC
    assert report.stage_changes == 2
    assert db.scalar(select(func.count()).select_from(StageTransition).where(StageTransition.trigger == "import")) == 2


def test_one_bad_row_imports_nothing_by_default_and_names_every_problem(db):
    seed(db)
    before = counts(db)
    report = import_orders(db, io.StringIO(HEADER + GOOD + BAD), StageRules())
    assert not report.ok and report.orders_imported == 0
    assert counts(db) == before
    lines = {line for line, _ in report.errors}
    assert {6, 7, 8, 9, 10} <= lines
    text = " ".join(problem for _, problem in report.errors)
    for fragment in ("ISO 8601", "NOPE-1", "'two'", "customer_ref", "channel"):
        assert fragment in text


def test_skip_invalid_imports_only_whole_valid_orders(db):
    seed(db)
    before_orders, _ = counts(db)
    report = import_orders(db, io.StringIO(HEADER + GOOD + BAD), StageRules(), skip_invalid=True)
    # DD…0003 has a bad second row (line 10): the whole order is skipped, not half of it.
    assert report.orders_imported == 2
    assert counts(db)[0] == before_orders + 2
    assert db.scalar(select(Order).where(Order.order_no == "DD209901000003")) is None


def test_missing_columns_and_existing_orders(db):
    seed(db)
    report = import_orders(db, io.StringIO("order_no,sku\nX,Y\n"), StageRules())
    assert report.errors == [(1, "missing columns: customer_ref, placed_at, channel, status, quantity, unit_price")]
    again = "DD202611150001,demo-1001,2026-11-01T10:00:00,web,paid,TEA-001,1,\n"
    report = import_orders(db, io.StringIO(HEADER + again), StageRules())
    assert "已存在" in report.errors[0][1]


def test_command_line(settings_env, db, tmp_path, capsys):
    seed(db)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    bad.write_text(HEADER + BAD, encoding="utf-8")
    assert cli(["import-orders", str(bad)]) == 1
    assert "nothing imported" in capsys.readouterr().err
    assert cli(["import-orders", str(good)]) == 0
    assert "imported 3 orders (4 lines)" in capsys.readouterr().out
    # The import already set every stage, so the job finds nothing to change.
    assert cli(["recompute-stages"]) == 0
    assert "0 customers changed stage" in capsys.readouterr().out
