"""The satisfaction survey in headless Chromium, against the real stack (real Rasa model):
the customer answers it with the chat page's buttons (mouse and keyboard) and a typed
comment; an agent sees the survey in the customer's profile and closes the follow-up
task the negative comment opened. A second customer answers the survey in a
conversation staff ended (closed, yet still taking survey answers).

Nothing is reloaded: what each side sees arrives by the pages' own polling / live notices.
"""
from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.test_staff_workspace import (
    BOT_TIMEOUT,
    TIMEOUT,
    create_agent,
    customer_says,
    pages,  # noqa: F401 - fixture
    queue_item,
    staff_login,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT_CHAT = "/tmp/survey-chat.png"
SCREENSHOT_DESK = "/tmp/survey-workspace.png"
COMMENT = "客服态度太差了，问了半天也没解决，再也不买了"


def open_chat(stack, pages) -> tuple[object, str]:  # noqa: F811
    chat = pages(390, 800)
    with chat.expect_response(lambda r: r.url.endswith("/api/web/session")) as session:
        chat.goto(f"{stack.service_url}/chat")
    expect(chat.locator("body[data-ready='1']")).to_be_attached(timeout=TIMEOUT)
    return chat, session.value.json()["conversation"]["id"]


def question(chat, key: str):
    """The newest message is the bot asking survey question ``key``, with its buttons."""
    expect(chat.locator(".msg").last).to_have_attribute("data-survey-key", key, timeout=TIMEOUT)
    box = chat.locator("#survey-replies")
    expect(box).to_be_visible()
    expect(box).to_have_attribute("data-key", key)
    return box


def answered(chat, text: str, count: int = 1) -> None:
    expect(chat.locator(".msg-customer .msg-text").filter(has_text=text)).to_have_count(count, timeout=TIMEOUT)


def test_survey_with_buttons_then_the_follow_up_in_the_workspace(stack, staff, pages):  # noqa: F811
    agent_name = f"小秦{secrets.token_hex(2)}"
    agent = create_agent(staff, agent_name)

    # 1. The customer says goodbye: the real model answers utter_goodbye, the survey starts.
    chat, conv_id = open_chat(stack, pages)
    customer_says(chat, "好的，再见")
    box = question(chat, "overall")
    expect(chat.locator(".msg-bot").filter(has_text="满意度小调查")).to_have_count(1)
    scores = box.locator("button.survey-score")
    expect(scores).to_have_count(5)
    expect(scores.first).to_have_attribute("aria-label", "1 分（很不满意）")
    expect(box.get_by_role("button", name="跳过这一题", exact=True)).to_be_visible()
    expect(box.get_by_role("button", name="不用了，结束调查", exact=True)).to_be_visible()
    chat.screenshot(path=SCREENSHOT_CHAT)

    # 2. Mouse: overall 5. The buttons go while it is sent; the next question's come back.
    box.get_by_role("button", name="5 分（非常满意）", exact=True).click()
    answered(chat, "5")
    box = question(chat, "quality")
    # Keyboard: the focus moved to the new question's first score; → → → and Enter send 4.
    expect(box.locator("button.survey-score").first).to_be_focused()
    for _ in range(3):
        chat.keyboard.press("ArrowRight")
    expect(box.get_by_role("button", name="4 分", exact=True)).to_be_focused()
    chat.keyboard.press("Enter")
    answered(chat, "4")

    box = question(chat, "service")
    box.get_by_role("button", name="跳过这一题", exact=True).click()
    answered(chat, "跳过")
    question(chat, "value").get_by_role("button", name="3 分", exact=True).click()
    answered(chat, "3")
    question(chat, "innovation").get_by_role("button", name="4 分", exact=True).click()
    answered(chat, "4", 2)

    box = question(chat, "nps")
    expect(box.locator("button.survey-score")).to_have_count(11)
    expect(box.locator("button.survey-score").first).to_have_text("0")
    box.get_by_role("button", name="9 分", exact=True).click()
    answered(chat, "9")

    # The comment question offers 没有 only; the customer types instead.
    box = question(chat, "comment")
    expect(box.locator("button")).to_have_count(1)
    expect(box.get_by_role("button")).to_have_text("没有")
    expect(chat.locator("#input")).to_have_attribute("placeholder", "请输入您的意见或建议…")
    customer_says(chat, COMMENT)
    apology = chat.locator(".msg-bot").last
    expect(apology).to_contain_text("抱歉", timeout=BOT_TIMEOUT)
    expect(apology).to_contain_text("专人跟进")
    expect(chat.locator("#survey-replies")).to_be_hidden()

    # 3. The customer then asks for a person, so the agent gets the conversation.
    customer_says(chat, "我要转人工客服")
    expect(chat.locator(".msg-system").filter(has_text="正在为您转接人工客服")).to_be_visible(timeout=BOT_TIMEOUT)
    expect(chat.locator("#survey-replies")).to_be_hidden()

    desk = pages(1280, 860)
    staff_login(stack, desk, *agent)
    queue_item(desk, conv_id, "waiting").click()

    # The profile: the survey (overall, indicators, NPS, comment with its sentiment) and
    # the open follow-up of this customer.
    card = desk.get_by_test_id("profile-survey").first
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card).to_contain_text("整体 5/5")
    expect(card).to_contain_text("顾客道别后")
    expect(card).to_contain_text("潜在客户")
    expect(card.locator("li[data-key='quality']")).to_contain_text("4")
    expect(card.locator("li[data-key='service']")).to_contain_text("—")
    expect(card.locator("li[data-key='nps']")).to_contain_text("9")
    expect(card.locator("li[data-key='nps']")).to_contain_text("推荐者")
    expect(card).to_contain_text(COMMENT)
    expect(card.get_by_test_id("survey-sentiment")).to_have_text("负面")
    expect(desk.get_by_test_id("profile-follow-up")).to_contain_text("差评留言")

    # 4. 回访任务: the task is listed (the badge counts it), with the reason in Chinese.
    badge = desk.get_by_test_id("count-follow-ups")
    expect(badge).not_to_have_text("0", timeout=TIMEOUT)
    desk.get_by_test_id("tab-follow-ups").click()
    panel = desk.get_by_test_id("follow-ups")
    expect(panel).to_be_visible()
    task = panel.locator(f"[data-testid='follow-up-item'][data-conversation-id='{conv_id}']")
    expect(task).to_have_count(1, timeout=TIMEOUT)
    expect(task.get_by_test_id("follow-up-reason")).to_have_text("差评留言")
    expect(task.get_by_test_id("follow-up-detail")).to_have_text(COMMENT)
    expect(task).to_contain_text("已等待")
    expect(task).to_contain_text("潜在客户")
    open_before = int(badge.inner_text())
    desk.screenshot(path=SCREENSHOT_DESK)

    # 标记完成 asks for the outcome: required.
    task.get_by_test_id("follow-up-done").click()
    dialog = desk.get_by_test_id("follow-up-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(COMMENT)
    expect(desk.get_by_test_id("follow-up-outcome")).to_be_focused()
    desk.get_by_test_id("follow-up-submit").click()
    expect(desk.get_by_test_id("follow-up-error")).to_have_text("请填写回访结果。")
    expect(dialog).to_be_visible()
    outcome = f"已电话致歉并补发优惠券{secrets.token_hex(2)}"
    desk.get_by_test_id("follow-up-outcome").fill(outcome)
    desk.get_by_test_id("follow-up-submit").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT)
    expect(desk.locator("#toast")).to_contain_text("回访任务已完成")
    expect(task).to_have_count(0, timeout=TIMEOUT)
    expect(badge).to_have_text(str(open_before - 1))
    expect(desk.get_by_test_id("profile-follow-up")).to_have_count(0, timeout=TIMEOUT)

    # The done list shows it with its outcome; the API agrees.
    desk.get_by_test_id("follow-ups-done").click()
    done = panel.locator(f"[data-testid='follow-up-item'][data-conversation-id='{conv_id}']")
    expect(done).to_contain_text(outcome, timeout=TIMEOUT)
    tasks = staff.get("/api/staff/follow-ups", params={"status": "done"}).json()
    mine = [t for t in tasks if t["conversation_id"] == conv_id]
    assert [(t["reason"], t["outcome"]) for t in mine] == [("negative_comment", outcome)]


def test_survey_in_a_conversation_staff_ended(stack, staff, pages):  # noqa: F811
    agent = create_agent(staff, f"小贺{secrets.token_hex(2)}")
    chat, conv_id = open_chat(stack, pages)
    customer_says(chat, "我要转人工客服")
    expect(chat.locator(".msg-system").filter(has_text="正在为您转接人工客服")).to_be_visible(timeout=BOT_TIMEOUT)

    desk = pages(1280, 800)
    staff_login(stack, desk, *agent)
    queue_item(desk, conv_id, "waiting").click()
    desk.get_by_test_id("claim").click()
    expect(desk.get_by_test_id("conv-state")).to_have_text("由我接待", timeout=TIMEOUT)
    desk.get_by_test_id("resolve").click()
    desk.get_by_test_id("confirm-ok").click()
    expect(desk.get_by_test_id("conv-state")).to_have_text("已结束", timeout=TIMEOUT)

    # The conversation is closed, yet the survey arrives and the buttons answer it.
    box = question(chat, "overall")
    expect(chat.locator("#input")).to_be_enabled()
    box.get_by_role("button", name="2 分", exact=True).click()
    answered(chat, "2")
    box = question(chat, "quality")
    box.get_by_role("button", name="不用了，结束调查", exact=True).click()
    answered(chat, "不用了")
    expect(chat.locator(".msg-bot").last).to_contain_text("不打扰", timeout=TIMEOUT)
    expect(chat.locator("#survey-replies")).to_be_hidden()

    # The staff member sees the answers in the profile, marked as not finished.
    card = desk.get_by_test_id("profile-survey").first
    expect(card).to_contain_text("整体 2/5", timeout=TIMEOUT)
    expect(card).to_contain_text("人工结束后")
    expect(card).to_contain_text("未答完")

    # Survey over: the next message starts a new conversation, as before.
    customer_says(chat, "你好")
    expect(chat.locator(".divider").filter(has_text="已为您开启新的会话")).to_be_visible(timeout=BOT_TIMEOUT)
