"""The chat page in headless Chromium (Debian's package), against the real stack."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]





def test_customer_chats_in_chinese_and_history_survives_reload(stack, browser, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{stack.service_url}/chat")
    expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=15000)

    page.fill("#input", "你好")
    page.click("#send")
    expect(page.locator(".msg-customer .msg-text")).to_have_text(["你好"])
    expect(page.locator(".msg-bot")).to_have_count(1, timeout=15000)
    assert page.locator(".msg-bot .msg-text").first.inner_text().strip()

    page.locator(".chip", has_text="退换货").click()
    expect(page.locator(".msg-bot")).to_have_count(2, timeout=15000)
    page.screenshot(path=str(stack.var_dir / "chat.png"))

    # Empty input is refused on the page, nothing is sent.
    page.fill("#input", "   ")
    page.click("#send")
    expect(page.locator("#error")).not_to_be_empty()
    expect(page.locator(".msg-customer")).to_have_count(2)

    # The same browser comes back: same customer, same conversation, history shown.
    page.reload()
    expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=15000)
    expect(page.locator(".msg-customer")).to_have_count(2)
    expect(page.locator(".msg-bot")).to_have_count(2)
    context.close()

    # Another browser is another customer, with an empty conversation.
    other = browser.new_context()
    page2 = other.new_page()
    page2.goto(f"{stack.service_url}/chat")
    expect(page2.locator("body[data-ready='1']")).to_be_attached(timeout=15000)
    expect(page2.locator(".msg-customer")).to_have_count(0)
    other.close()
