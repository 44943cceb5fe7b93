"""The admin console (/admin) in headless Chromium, against the real stack.

What an admin notices: a stage's reply variant written in the console is what a
customer of that stage is told at once (no retraining) and only them; a bad variable is
refused in Chinese and nothing is saved; edits have a history that can be rolled back;
an agent account cannot use the console.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import member_login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = "/tmp/admin-console.png"
# The demo seed's member with no orders (demo/members.py); made "growing" here by orders.
GROWING_MEMBER, GROWING_NAME = "demo-1003", "王芳"
TIMEOUT = 15000






def _can_log_in(stack, username: str, password: str) -> bool:
    resp = httpx.post(f"{stack.service_url}/api/auth/login", json={"username": username, "password": password},
                      timeout=30)
    return resp.status_code == 200


def _create_staff(staff: httpx.Client, prefix: str, role: str) -> tuple[str, str]:
    username, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    resp = staff.post("/api/staff-users", json={"username": username, "password": password, "role": role,
                                              "display_name": f"测试{'管理员' if role == 'admin' else '客服'}"})
    assert resp.status_code == 201, resp.text
    return username, password


@pytest.fixture(scope="module")
def admin_account(stack, staff) -> tuple[str, str]:
    """The stack's own admin (``admin`` / HX_ADMIN_PASSWORD) when it has one, else one made here."""
    password = stack.env().get("HX_ADMIN_PASSWORD") or getattr(stack, "admin_password", None)
    if password and _can_log_in(stack, "admin", password):
        return "admin", password
    return _create_staff(staff, "console-admin", "admin")


@pytest.fixture
def admin_page(stack, browser, admin_account):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    log_in(stack, page, *admin_account)
    expect(page.locator("body[data-view='app']")).to_be_attached(timeout=TIMEOUT)
    expect(page.locator("[data-template='utter_greet']")).to_be_visible()
    yield page
    context.close()


def log_in(stack, page, username: str, password: str) -> None:
    page.goto(f"{stack.service_url}/admin")
    expect(page.locator("body[data-ready='1'][data-view='login']")).to_be_attached(timeout=TIMEOUT)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def pick(page, template: str, stage: str) -> None:
    page.locator(f"[data-template='{template}']").click()
    page.get_by_test_id("stage-select").select_option(stage)
    expect(page.get_by_test_id("template-title")).to_have_text(template)


def variant_ids(staff: httpx.Client, template: str, stage: str) -> list[int]:
    resp = staff.get("/api/admin/templates")
    assert resp.status_code == 200, resp.text
    tpl = next(t for t in resp.json() if t["name"] == template)
    return sorted(v["id"] for v in tpl["variants"] if v["stage"] == stage)


def make_growing(stack, staff: httpx.Client) -> None:
    """The demo member with no orders gets six paid ones: a growing customer (6–15)."""
    session = httpx.post(f"{stack.service_url}/api/web/session", json=member_login(stack, GROWING_MEMBER),
                         timeout=30)
    assert session.status_code == 200, session.text
    customer = session.json()["customer"]
    if customer["stage"] == "growing":
        return
    now = datetime.now(timezone.utc)
    stage = None
    for n in range(6):
        resp = staff.post("/api/orders", json={
            "order_no": f"E2EADM{secrets.token_hex(4).upper()}", "customer_id": customer["id"],
            "placed_at": (now - timedelta(days=6 - n, hours=1)).isoformat(), "status": "paid",
            "items": [{"sku": "SNK-002", "quantity": 1}]})
        assert resp.status_code == 201, resp.text
        stage = resp.json()["customer_stage"]
    assert stage == "growing", f"{GROWING_MEMBER} is {stage} after six orders"


def chat_reply(stack, browser, text: str, query: str = "") -> str:
    """A customer opens the chat, says ``text``; the bot's reply as shown."""
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{stack.service_url}/chat{query}")
        expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=TIMEOUT)
        before = page.locator(".msg-bot").count()
        page.fill("#input", text)
        page.click("#send")
        expect(page.locator(".msg-bot")).to_have_count(before + 1, timeout=30000)
        return page.locator(".msg-bot .msg-text").last.inner_text()
    finally:
        context.close()


def test_stage_variant_reaches_that_stage_only_without_retraining(stack, browser, staff, admin_page):
    page = admin_page
    make_growing(stack, staff)
    marker = f"控制台标记{secrets.token_hex(3)}"

    # The header shows who is logged in.
    expect(page.get_by_test_id("user-name")).not_to_be_empty()
    expect(page.get_by_test_id("logout")).to_be_visible()

    pick(page, "utter_greet", "growing")
    # The stage's other greetings are switched off in the console, so the reply is ours
    # (they would otherwise be chosen at random by weight); switched on again at the end.
    switched_off = []
    enabled = page.locator("[data-testid='variant-item'][data-enabled='1']")
    try:
        while enabled.count():
            item = enabled.first
            switched_off.append(int(item.get_attribute("data-variant-id")))
            item.get_by_test_id("variant-toggle").click()
            expect(page.locator(f"[data-testid='variant-item'][data-variant-id='{switched_off[-1]}']")) \
                .to_have_attribute("data-enabled", "0")

        page.get_by_test_id("variant-new").click()
        editor = page.get_by_test_id("variant-text")
        editor.fill(f"{marker}：")
        page.locator("[data-testid='var-chip'][data-var='name']").click()  # inserts {name} at the cursor
        editor.press("End")
        editor.press_sequentially("您好，欢迎回来～")
        expect(editor).to_have_value(f"{marker}：{{name}}您好，欢迎回来～")

        # The draft as a growing customer would see it, before saving.
        page.get_by_test_id("preview-button").click()
        bubble = page.get_by_test_id("preview-bubble")
        expect(bubble).to_have_count(1)
        expect(bubble).to_contain_text(f"{marker}：张小明您好")

        page.get_by_test_id("variant-save").click()
        mine = page.get_by_test_id("variant-item").filter(has_text=marker)
        expect(mine).to_have_count(1)
        expect(mine.get_by_test_id("variant-version")).to_have_text("第 1 版")
        expect(page.get_by_test_id("variant-error")).to_be_empty()

        # Saved state: the only candidate a growing customer can get is the new one.
        page.get_by_test_id("preview-saved").click()
        expect(page.get_by_test_id("preview-bubble")).to_have_count(1)
        expect(page.get_by_test_id("preview-bubble")).to_contain_text(marker)
        page.screenshot(path=SCREENSHOT, full_page=True)

        # A growing member says hello in the customer chat: the new text, their name filled in.
        uid = member_login(stack, GROWING_MEMBER)
        reply = chat_reply(stack, browser, "你好", f"?uid={uid['user_id']}&uh={uid['user_hash']}")
        assert marker in reply and f"{GROWING_NAME}您好" in reply, reply
        assert "{" not in reply, reply

        # A first-time anonymous visitor (a prospect) is not told it.
        reply = chat_reply(stack, browser, "你好")
        assert reply.strip() and marker not in reply, reply
    finally:
        for vid in switched_off:
            staff.patch(f"/api/admin/variants/{vid}", json={"enabled": True, "note": "e2e: restored"})
        for vid in set(variant_ids(staff, "utter_greet", "growing")) - set(switched_off):
            staff.patch(f"/api/admin/variants/{vid}", json={"enabled": False, "note": "e2e: done"})


def test_unknown_variable_is_refused_in_chinese_and_nothing_is_saved(stack, admin_page, staff):
    page = admin_page
    pick(page, "utter_goodbye", "new")
    before = page.get_by_test_id("variant-item").count()
    ids_before = variant_ids(staff, "utter_goodbye", "new")

    page.get_by_test_id("variant-new").click()
    page.get_by_test_id("variant-text").fill("{name}再见，送您 {foo} 一张")
    page.get_by_test_id("variant-save").click()
    error = page.get_by_test_id("variant-error")
    expect(error).to_contain_text("未知变量")
    expect(error).to_contain_text("{foo}")
    expect(page.get_by_test_id("variant-item")).to_have_count(before)
    assert variant_ids(staff, "utter_goodbye", "new") == ids_before

    # Fixing the draft clears the error; the page still lists nothing new after a reload.
    page.reload()
    expect(page.locator("body[data-view='app']")).to_be_attached(timeout=TIMEOUT)
    pick(page, "utter_goodbye", "new")
    expect(page.get_by_test_id("variant-item")).to_have_count(before)

    # A lost session (401) anywhere sends the admin back to the login screen.
    page.context.clear_cookies()
    page.get_by_test_id("preview-saved").click()
    expect(page.locator("body[data-view='login']")).to_be_attached()
    expect(page.get_by_test_id("login-error")).to_contain_text("重新登录")


def test_edit_history_and_rollback(stack, admin_page, staff):
    page = admin_page
    pick(page, "utter_thank", "stable")
    first, second = f"第一版{secrets.token_hex(3)}", f"第二版{secrets.token_hex(3)}"

    page.get_by_test_id("variant-new").click()
    page.get_by_test_id("variant-text").fill(f"{first}，{{name}}不客气～")
    page.get_by_test_id("variant-save").click()
    item = page.get_by_test_id("variant-item").filter(has_text=first)
    expect(item).to_have_count(1)
    vid = item.get_attribute("data-variant-id")
    item = page.locator(f"[data-testid='variant-item'][data-variant-id='{vid}']")

    item.get_by_test_id("variant-edit").click()
    page.get_by_test_id("variant-text").fill(f"{second}，{{name}}不用谢～")
    page.get_by_test_id("variant-note").fill("改得更亲切")
    page.get_by_test_id("variant-save").click()
    expect(item.get_by_test_id("variant-text-display")).to_contain_text(second)
    expect(item.get_by_test_id("variant-version")).to_have_text("第 2 版")

    item.get_by_test_id("variant-history").click()
    dialog = page.get_by_test_id("history-dialog")
    expect(dialog).to_be_visible()
    v2 = dialog.locator("[data-testid='history-row'][data-version='2']")
    v1 = dialog.locator("[data-testid='history-row'][data-version='1']")
    expect(v2).to_contain_text(second)
    expect(v2).to_contain_text("改得更亲切")
    expect(v1).to_contain_text(first)
    expect(v2.get_by_test_id("rollback")).to_have_count(0)  # the current version

    v1.get_by_test_id("rollback").click()
    expect(page.get_by_test_id("confirm-dialog")).to_be_visible()
    page.get_by_test_id("confirm-ok").click()
    v3 = dialog.locator("[data-testid='history-row'][data-version='3']")
    expect(v3).to_contain_text(first)
    expect(v3).to_contain_text("回滚")
    page.get_by_test_id("history-close").click()

    expect(item.get_by_test_id("variant-text-display")).to_contain_text(first)
    expect(item.get_by_test_id("variant-text-display")).not_to_contain_text(second)
    expect(item.get_by_test_id("variant-version")).to_have_text("第 3 版")
    staff.delete(f"/api/admin/variants/{vid}")


def test_agent_cannot_use_the_console(stack, browser, staff):
    username, password = _create_staff(staff, "console-agent", "agent")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        log_in(stack, page, username, "wrong-password-123")
        expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误")

        page.get_by_test_id("login-password").fill(password)
        page.get_by_test_id("login-submit").click()
        expect(page.locator("body[data-view='denied']")).to_be_attached(timeout=TIMEOUT)
        expect(page.get_by_test_id("denied-text")).to_contain_text("管理员")
        expect(page.get_by_test_id("template-list")).not_to_be_visible()

        # The agent's own session cookie gets nothing from the admin API.
        status = page.evaluate("fetch('/api/admin/templates').then(r => r.status)")
        assert status == 403
    finally:
        context.close()
