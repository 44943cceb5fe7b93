"""The staff workspace (/staff) in headless Chromium, against the real stack: a whole
human takeover seen from two browsers at once — the customer's chat and the agent's
workspace — plus a second agent who comes too late.

Nothing is reloaded: what each side sees arrives by the pages' own polling.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = "/tmp/staff-workspace.png"
TIMEOUT = 10000  # ms; the pages poll every 1.5–3 s
BOT_TIMEOUT = 30000  # a bot turn goes through Rasa and the action server
CLAIM_JS = """id => fetch('/api/staff/conversations/' + id + '/claim',
    {method: 'POST', headers: {'X-Requested-With': 'fetch'}}).then(r => r.status)"""






@pytest.fixture
def pages(browser):
    """New browser contexts (each its own cookie jar), closed at the end; no page may
    throw a JavaScript error meanwhile."""
    contexts, errors = [], []

    def new_page(width: int, height: int):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert not errors, errors


def create_agent(staff: httpx.Client, display_name: str) -> tuple[str, str]:
    username, password = f"ws-agent-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    resp = staff.post("/api/staff-users", json={"username": username, "password": password, "role": "agent",
                                              "display_name": display_name})
    assert resp.status_code == 201, resp.text
    return username, password


def open_login(stack, page) -> None:
    page.goto(f"{stack.service_url}/staff")
    expect(page.locator("body[data-ready='1'][data-view='login']")).to_be_attached(timeout=TIMEOUT)


def submit_login(page, username: str, password: str) -> None:
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def staff_login(stack, page, username: str, password: str) -> None:
    open_login(stack, page)
    submit_login(page, username, password)
    expect(page.locator("body[data-ready='1'][data-view='app']")).to_be_attached(timeout=TIMEOUT)


def queue_item(page, conv_id: str, handler: str | None = None):
    selector = f"[data-testid='queue-item'][data-conversation-id='{conv_id}']"
    if handler:
        selector += f"[data-handler='{handler}']"
    return page.locator(selector)


def ws_messages(page, author: str, text: str):
    return page.locator(f"[data-testid='ws-message'][data-author='{author}']").filter(has_text=text)


def customer_says(page, text: str) -> None:
    page.fill("#input", text)
    page.click("#send")
    expect(page.locator(".msg-customer .msg-text").filter(has_text=text)).to_have_count(1, timeout=TIMEOUT)


def test_a_whole_takeover_in_two_browsers(stack, staff, pages):
    agent_name, late_name = f"小林{secrets.token_hex(2)}", f"小周{secrets.token_hex(2)}"
    agent, late_agent = create_agent(staff, agent_name), create_agent(staff, late_name)
    greeting = "您好，我来帮您查一下"
    canned_title = f"查件{secrets.token_hex(2)}"
    canned = staff.post("/api/staff/canned-replies", json={"title": canned_title, "text": greeting})
    assert canned.status_code == 201, canned.text
    phone = f"139{secrets.randbelow(10 ** 8):08d}"
    note = f"备注{secrets.token_hex(3)}：顾客称快递丢失，已登记"

    try:
        # 1. A fresh visitor asks for a person: the bot answers, then the queue notice.
        chat = pages(390, 800)
        with chat.expect_response(lambda r: r.url.endswith("/api/web/session")) as session:
            chat.goto(f"{stack.service_url}/chat")
        conv_id = session.value.json()["conversation"]["id"]
        expect(chat.locator("body[data-ready='1']")).to_be_attached(timeout=TIMEOUT)
        customer_says(chat, "我要转人工客服")
        expect(chat.locator(".msg-bot")).to_have_count(1, timeout=BOT_TIMEOUT)
        expect(chat.locator(".msg-system").filter(has_text="正在为您转接人工客服")).to_be_visible(timeout=TIMEOUT)
        # The page listens for live notices (server-sent events), polling only as a fallback.
        expect(chat.locator("body[data-live='1']")).to_be_attached(timeout=TIMEOUT)

        # 2. The agent logs in and sees it waiting, with its reason and a ticking wait.
        desk = pages(1280, 800)
        staff_login(stack, desk, *agent)
        expect(desk.locator("body[data-live='1']")).to_be_attached(timeout=TIMEOUT)
        expect(desk.get_by_test_id("user-name")).to_contain_text(agent_name)
        expect(desk.get_by_test_id("user-role")).to_have_text("客服")
        waiting = queue_item(desk, conv_id, "waiting")
        expect(waiting).to_be_visible(timeout=TIMEOUT)
        expect(waiting).to_contain_text("顾客要求人工")
        expect(waiting.get_by_test_id("queue-wait")).to_contain_text("已等待")
        expect(desk).to_have_title(re.compile("位等待"))  # the count of waiting customers

        # A second agent opens the same waiting conversation in a page whose clock is
        # stopped (it does not poll), so they click 接入 after the first agent has it.
        late = pages(1280, 800)
        late.clock.install()
        late.clock.pause_at(datetime.now() + timedelta(seconds=1))
        open_login(stack, late)
        submit_login(late, late_agent[0], "wrong-password-123")
        expect(late.get_by_test_id("login-error")).to_have_text("用户名或密码错误")
        submit_login(late, *late_agent)
        expect(late.locator("body[data-view='app']")).to_be_attached(timeout=TIMEOUT)
        queue_item(late, conv_id, "waiting").click()
        expect(late.get_by_test_id("claim")).to_be_enabled(timeout=TIMEOUT)

        # The first agent claims; the customer is told who joined.
        waiting.click()
        expect(desk.get_by_test_id("profile-stage")).to_have_text("潜在客户", timeout=TIMEOUT)
        expect(ws_messages(desk, "customer", "我要转人工客服")).to_be_visible()
        expect(desk.get_by_test_id("reply-input")).to_be_disabled()
        desk.get_by_test_id("claim").click()
        expect(desk.get_by_test_id("conv-state")).to_have_text("由我接待", timeout=TIMEOUT)
        expect(desk.get_by_test_id("reply-input")).to_be_enabled()
        expect(queue_item(desk, conv_id, "staff")).to_be_visible(timeout=TIMEOUT)  # now under 我的会话
        expect(chat.locator(".msg-system").filter(has_text=f"「{agent_name}」已接入")).to_be_visible(timeout=TIMEOUT)

        # Too late: the second agent's click is refused, in Chinese; so is the API.
        late.get_by_test_id("claim").click()
        expect(late.get_by_test_id("ws-error")).to_contain_text("接入失败", timeout=TIMEOUT)
        expect(late.get_by_test_id("ws-error")).to_contain_text("已由")  # who has it, nothing more
        expect(late.get_by_test_id("reply-input")).to_be_disabled()
        assert late.evaluate(CLAIM_JS, conv_id) == 409
        late.clock.resume()
        expect(queue_item(late, conv_id)).to_have_count(0, timeout=TIMEOUT)

        # 3. The customer writes: it reaches the agent without a reload.
        customer_says(chat, "我的快递丢了")
        expect(ws_messages(desk, "customer", "我的快递丢了")).to_be_visible(timeout=TIMEOUT)

        # The agent answers with a canned reply (inserted, then Enter sends it).
        desk.get_by_test_id("canned-toggle").click()
        desk.get_by_test_id("canned-item").filter(has_text=canned_title).click()
        expect(desk.get_by_test_id("reply-input")).to_have_value(greeting)
        desk.get_by_test_id("reply-input").press("Enter")
        expect(ws_messages(desk, "staff", greeting)).to_have_count(1, timeout=TIMEOUT)
        expect(desk.get_by_test_id("reply-input")).to_have_value("")
        expect(chat.locator(".msg-staff .msg-text").filter(has_text=greeting)).to_be_visible(timeout=TIMEOUT)

        # An internal note: in the workspace, never on the customer's side.
        desk.get_by_test_id("note-input").fill(note)
        desk.get_by_test_id("note-add").click()
        expect(desk.get_by_test_id("ws-note").filter(has_text=note)).to_be_visible(timeout=TIMEOUT)

        # A phone number typed by the customer is masked for staff, in the chat and profile.
        customer_says(chat, f"我的电话是{phone}")
        masked = f"{phone[:3]}****{phone[-4:]}"
        expect(ws_messages(desk, "customer", masked)).to_be_visible(timeout=TIMEOUT)
        expect(desk.get_by_test_id("profile-identities")).to_contain_text("手机号", timeout=TIMEOUT)
        expect(desk.get_by_test_id("profile-tags")).to_contain_text("已留手机号")
        assert phone not in desk.locator("#app-view").inner_text()

        assert note not in chat.locator("body").inner_text()
        seen_by_customer = chat.evaluate(
            "id => fetch('/api/web/conversations/' + id + '/messages').then(r => r.text())", conv_id)
        assert note not in seen_by_customer and greeting in seen_by_customer

        desk.wait_for_timeout(300)  # let the ticking wait and the latest poll settle
        desk.screenshot(path=SCREENSHOT)

        # 4. Back to the bot: the customer is told, and the bot answers again — first the
        # message the agent left unanswered (the phone number), then the next one.
        bot_before = chat.locator(".msg-bot").count()
        desk.get_by_test_id("hand-back").click()
        expect(desk.get_by_test_id("confirm-dialog")).to_be_visible()
        desk.get_by_test_id("confirm-ok").click()
        expect(desk.get_by_test_id("conv-state")).to_have_text("智能客服接待中", timeout=TIMEOUT)
        expect(desk.get_by_test_id("reply-input")).to_be_disabled()
        expect(queue_item(desk, conv_id)).to_have_count(0, timeout=TIMEOUT)
        expect(chat.locator(".msg-system").filter(has_text="人工客服已离开")).to_be_visible(timeout=TIMEOUT)
        expect(chat.locator(".msg-bot")).to_have_count(bot_before + 1, timeout=BOT_TIMEOUT)
        customer_says(chat, "你好")
        expect(chat.locator(".msg-bot")).to_have_count(bot_before + 2, timeout=BOT_TIMEOUT)
        expect(desk.locator("[data-testid='ws-message'][data-author='bot']")).to_have_count(bot_before + 2,
                                                                                           timeout=TIMEOUT)

        # A lost session sends the agent back to the login screen.
        desk.context.clear_cookies()
        expect(desk.locator("body[data-view='login']")).to_be_attached(timeout=TIMEOUT)
        expect(desk.get_by_test_id("login-error")).to_contain_text("重新登录")
    finally:
        staff.delete(f"/api/staff/canned-replies/{canned.json()['id']}")
