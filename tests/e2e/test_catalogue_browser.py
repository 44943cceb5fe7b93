"""The 商品库 screen of the admin console in headless Chromium, against the real stack.

What an admin notices: a product is found by what customers call it, an attribute edited
in the screen is stored at once (the admin API returns the new value) and the chat
answers with it on the next question, a bad price is
refused in Chinese with nothing saved, and an import shows its report with line numbers.
"""
from __future__ import annotations

import secrets

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TIMEOUT = 15000
PRODUCT = "/api/admin/catalogue/products/CUP-001"  # 不锈钢保温杯 500ml of the demo seed


def _can_log_in(stack, username: str, password: str) -> bool:
    resp = httpx.post(f"{stack.service_url}/api/auth/login", json={"username": username, "password": password},
                      timeout=30)
    return resp.status_code == 200


@pytest.fixture(scope="module")
def admin_account(stack, staff) -> tuple[str, str]:
    """The stack's own admin (``admin`` / HX_ADMIN_PASSWORD) when it has one, else one made here."""
    password = stack.env().get("HX_ADMIN_PASSWORD") or getattr(stack, "admin_password", None)
    if password and _can_log_in(stack, "admin", password):
        return "admin", password
    username, password = f"catalogue-admin-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    resp = staff.post("/api/staff-users", json={"username": username, "password": password, "role": "admin",
                                              "display_name": "测试管理员"})
    assert resp.status_code == 201, resp.text
    return username, password


@pytest.fixture
def catalogue_page(stack, browser, admin_account):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{stack.service_url}/admin")
    expect(page.locator("body[data-ready='1'][data-view='login']")).to_be_attached(timeout=TIMEOUT)
    page.get_by_test_id("login-username").fill(admin_account[0])
    page.get_by_test_id("login-password").fill(admin_account[1])
    page.get_by_test_id("login-submit").click()
    expect(page.locator("body[data-view='app']")).to_be_attached(timeout=TIMEOUT)
    page.get_by_test_id("tab-catalogue").click()
    expect(page.get_by_test_id("catalogue-item").first).to_be_visible(timeout=TIMEOUT)
    yield page
    context.close()


@pytest.fixture
def cup(staff):
    """CUP-001 as the demo has it; put back afterwards (other tests ask the chat about it)."""
    before = staff.get(PRODUCT)
    assert before.status_code == 200, before.text
    original = before.json()
    yield original
    restore = {k: original[k] for k in ("name", "category", "price", "description", "attributes", "aliases",
                                        "stock", "on_sale")}
    assert staff.patch(PRODUCT, json=restore).status_code == 200


def open_cup(page) -> None:
    page.get_by_test_id("catalogue-search").fill("保温杯")  # an alias, not the product's name
    item = page.locator("[data-testid='catalogue-item'][data-sku='CUP-001']")
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("catalogue-item")).to_have_count(1)
    item.click()
    expect(page.get_by_test_id("catalogue-title")).to_contain_text("CUP-001")


def test_an_attribute_edited_in_the_screen_is_stored_and_answered_in_chat_at_once(catalogue_page, stack, staff,
                                                                                   cup):
    page = catalogue_page
    open_cup(page)
    colours = f"曜石黑、奶白、樱花粉{secrets.token_hex(2)}"
    row = page.get_by_test_id("attr-row").filter(has=page.locator("[data-testid='attr-key'][value='颜色']"))
    expect(row).to_have_count(1)
    row.get_by_test_id("attr-value").fill(colours)
    # A new attribute, too: key/value rows are added in the screen.
    page.get_by_test_id("attr-add").click()
    page.get_by_test_id("attr-key").last.fill("杯盖材质")
    page.get_by_test_id("attr-value").last.fill("PP 食品级")
    page.get_by_test_id("catalogue-save").click()
    expect(page.locator("#toast")).to_contain_text("已保存", timeout=TIMEOUT)

    stored = staff.get(PRODUCT).json()
    assert stored["attributes"]["颜色"] == colours and stored["attributes"]["杯盖材质"] == "PP 食品级"
    assert stored["attributes"]["容量"] == "500ml"  # the others kept
    assert stored["updated_by"] != "system"  # the admin who saved it

    # A customer asks right away: the chat answers with the new value, no retraining.
    with httpx.Client(base_url=stack.service_url, timeout=30) as customer:
        conv = customer.post("/api/web/session", json={}).json()["conversation"]["id"]
        turn = customer.post(f"/api/web/conversations/{conv}/messages", json={"text": "保温杯有哪些颜色"})
        assert turn.status_code == 200, turn.text
        assert colours in "".join(r["text"] for r in turn.json()["replies"])


def test_a_bad_price_is_refused_in_chinese_and_nothing_is_saved(catalogue_page, staff, cup):
    page = catalogue_page
    open_cup(page)
    page.get_by_test_id("catalogue-price").fill("八十九")
    page.get_by_test_id("catalogue-stock").fill("3")
    page.get_by_test_id("catalogue-save").click()
    expect(page.get_by_test_id("catalogue-error")).to_contain_text("价格")
    stored = staff.get(PRODUCT).json()
    assert (stored["price"], stored["stock"]) == (cup["price"], cup["stock"])


def test_an_import_shows_its_report_with_line_numbers(catalogue_page, staff):
    page = catalogue_page
    sku = f"E2E-{secrets.token_hex(3).upper()}"
    csv = ("sku,name,category,price,stock,on_sale,description,aliases,attributes,qa\n"
           f"{sku},测试茶杯,杯具,19.90,5,true,,测试杯,容量=200ml,能装开水吗=>可以\n"
           "BAD-1,坏价格,杯具,abc,1,true,,,,\n")
    page.get_by_test_id("catalogue-import-box").locator("summary").click()
    page.get_by_test_id("catalogue-file").set_input_files(
        {"name": "products.csv", "mimeType": "text/csv", "buffer": csv.encode("utf-8")})
    page.get_by_test_id("catalogue-import-mode").select_option("all-or-nothing")
    page.get_by_test_id("catalogue-import").click()
    expect(page.get_by_test_id("catalogue-report-summary")).to_contain_text("没有导入", timeout=TIMEOUT)
    expect(page.locator("[data-testid='catalogue-report-row'][data-line='3']")).to_contain_text("价格")
    assert staff.get(f"/api/admin/catalogue/products/{sku}").status_code == 404

    page.get_by_test_id("catalogue-import-mode").select_option("skip-invalid")
    page.get_by_test_id("catalogue-import").click()
    expect(page.get_by_test_id("catalogue-report-summary")).to_contain_text("新增 1 个", timeout=TIMEOUT)
    stored = staff.get(f"/api/admin/catalogue/products/{sku}").json()
    assert stored["attributes"] == {"容量": "200ml"} and stored["qas"][0]["answer"] == "可以"
    assert staff.delete(f"/api/admin/catalogue/products/{sku}").status_code == 204
