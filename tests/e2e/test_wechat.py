"""WeChat followers through the real stack — the service, Rasa with the trained model,
the action server — with the offline fake of WeChat's servers (ops/fake_wechat.py) in
Tencent's place. It plays the follower: it signs and encrypts what they send, posts it
to the callback and waits 5 s like WeChat; what the follower sees in WeChat is the
passive reply plus the customer-service messages the service sends to the fake.
"""
from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from bot.privacy import mask_identifier

pytestmark = pytest.mark.e2e

CHINESE = re.compile(r"[\u4e00-\u9fff]")
PUSH_TIMEOUT = 10  # s; the service's sender is woken as soon as a message is stored


@dataclass
class Follower:
    """One WeChat user of the official account, as the fake plays them."""
    sim: httpx.Client
    openid: str

    def does(self, **delivery) -> dict:
        resp = self.sim.post("/_fake/deliver", json={"openid": self.openid, **delivery})
        assert resp.status_code == 200, resp.text
        result = resp.json()
        # WeChat shows "该公众号暂时无法提供服务" when the callback fails it.
        assert result["error"] is None, result
        return result

    def says(self, text: str, **delivery) -> dict:
        return self.does(text=text, **delivery)

    def pushed(self) -> list[str]:
        """The customer-service messages that reached this follower, in order."""
        return [m["content"] for m in self.sim.get("/_fake/messages", params={"touser": self.openid}).json()]

    def wait_for_pushed(self, text: str, timeout: float = PUSH_TIMEOUT) -> list[str]:
        deadline = time.monotonic() + timeout
        while not any(text in m for m in self.pushed()):
            assert time.monotonic() < deadline, f"{text!r} not pushed within {timeout} s: {self.pushed()}"
            time.sleep(0.3)
        return self.pushed()


@pytest.fixture
def follower(wechat_sim) -> Follower:
    # An openid's shape: 28 characters starting with "o"; random so staff views tell them apart.
    return Follower(wechat_sim, "o" + secrets.token_urlsafe(27)[:27])


def wechat_conversation(staff: httpx.Client, openid: str) -> dict:
    """The follower's conversation as an admin finds it: their customer record by its
    (masked) WeChat identity, then the customer's conversations."""
    customers = staff.get("/api/customers", params={"limit": 200}).json()["items"]  # most recent first
    masked = mask_identifier(openid)
    mine = [c for c in customers
            if any(i["kind"] == "wechat_openid" and i["value_masked"] == masked for i in c["identities"])]
    assert len(mine) == 1, f"no single customer with WeChat identity {masked}"
    conversations = staff.get("/api/conversations", params={"customer_id": mine[0]["id"]}).json()["items"]
    assert [c["channel"] for c in conversations] == ["wechat"]
    conv = conversations[0]
    # The admin's workspace view shows the whole openid: it is this follower.
    profile = staff.get(f"/api/staff/conversations/{conv['id']}").json()["customer"]
    assert f"wechat_openid:{openid}" in profile["identities"]
    return conv


def stored(staff: httpx.Client, conv_id: str) -> list[dict]:
    resp = staff.get(f"/api/conversations/{conv_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()["messages"]


@contextmanager
def agent_session(stack, staff: httpx.Client, display_name: str) -> Iterator[httpx.Client]:
    """A new agent account, logged in as the workspace page logs in (a session cookie)."""
    username, password = f"wx-agent-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    created = staff.post("/api/staff-users", json={"username": username, "password": password, "role": "agent",
                                                   "display_name": display_name})
    assert created.status_code == 201, created.text
    # Cookie-authenticated writes must carry X-Requested-With, as the workspace page's do.
    with httpx.Client(base_url=stack.service_url, timeout=30, headers={"X-Requested-With": "fetch"}) as agent:
        login = agent.post("/api/auth/login", json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        yield agent


def test_a_new_follower_is_greeted_and_answered_in_chinese_and_staff_see_a_wechat_conversation(follower, staff):
    greeting = follower.does(event="subscribe")
    assert greeting["reply"] and CHINESE.search(greeting["reply"]), greeting

    answer = follower.says("你好")

    assert answer["reply"] and CHINESE.search(answer["reply"]), answer
    assert len(answer["attempts"]) == 1  # answered within WeChat's 5 s: no retry
    assert follower.pushed() == []  # everything fitted the passive replies
    conv = wechat_conversation(staff, follower.openid)
    said = [(m["direction"], m["text"]) for m in stored(staff, conv["id"]) if m["author"] != "system"]
    assert said[:2] == [("outbound", greeting["reply"]), ("inbound", "你好")]
    # One passive reply carries all the bot's answers to the message.
    assert "\n\n".join(text for _, text in said[2:]) == answer["reply"]


def test_wechats_retry_of_a_message_is_answered_alike_and_stored_once(follower, staff):
    first = follower.says("你好", msg_id="7" + str(secrets.randbelow(10 ** 15)).zfill(15))
    again = follower.says("你好", msg_id=first["msg_id"])  # WeChat did not get the first answer

    assert again["reply"] == first["reply"] and first["reply"]
    messages = stored(staff, wechat_conversation(staff, follower.openid)["id"])
    assert [m["text"] for m in messages if m["direction"] == "inbound"] == ["你好"]


def test_a_follower_asks_for_a_person_and_the_agents_reply_reaches_them_in_wechat(stack, follower, staff):
    follower.does(event="subscribe")
    follower.says("你好")

    queued = follower.says("转人工")

    # The bot's answer and the queue notice: passively, or pushed when Rasa was slow.
    sees = (queued["reply"] or "") + "".join(follower.pushed())
    assert "正在为您转接人工客服" in sees, queued
    conv = wechat_conversation(staff, follower.openid)
    assert conv["handler"] == "waiting"

    agent_name = f"小林{secrets.token_hex(2)}"
    with agent_session(stack, staff, agent_name) as agent:
        waiting = agent.get("/api/staff/queue").json()["waiting"]
        assert any(item["conversation_id"] == conv["id"] and item["channel"] == "wechat" for item in waiting)
        claimed = agent.post(f"/api/staff/conversations/{conv['id']}/claim")
        assert claimed.status_code == 200, claimed.text
        text = f"您好，我是客服{agent_name}，您的问题我来处理（{secrets.token_hex(2)}）"
        replied = agent.post(f"/api/staff/conversations/{conv['id']}/messages", json={"text": text})
        assert replied.status_code == 201, replied.text

    pushed = follower.wait_for_pushed(text)
    # Told who joined before the agent's first words, as in the web chat.
    joined = [i for i, m in enumerate(pushed) if f"人工客服「{agent_name}」已接入" in m]
    assert joined and joined[0] < pushed.index(text), pushed


@pytest.mark.browser
def test_the_agent_sees_which_wechat_replies_could_not_be_delivered(stack, follower, staff, wechat_sim, browser):
    """A follower asks for a person and then unfollows the account: the agent's reply
    cannot reach them, and the workspace says so under the message."""
    from playwright.sync_api import expect

    from tests.e2e.test_staff_workspace import create_agent, queue_item, staff_login, ws_messages

    follower.says("转人工")
    conv = wechat_conversation(staff, follower.openid)
    agent_name = f"小吴{secrets.token_hex(2)}"
    username, password = create_agent(staff, agent_name)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    errors: list[str] = []
    try:
        desk = context.new_page()
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        staff_login(stack, desk, username, password)
        queue_item(desk, conv["id"], "waiting").click()
        desk.get_by_test_id("claim").click()
        expect(desk.get_by_test_id("reply-input")).to_be_enabled(timeout=10000)

        delivered = f"您好，我是{agent_name}，请问有什么可以帮您？"
        desk.get_by_test_id("reply-input").fill(delivered)
        desk.get_by_test_id("reply-input").press("Enter")
        follower.wait_for_pushed(delivered)
        expect(ws_messages(desk, "staff", delivered)).to_be_visible(timeout=10000)
        expect(ws_messages(desk, "staff", delivered).get_by_test_id("ws-delivery")).to_have_count(0, timeout=10000)

        # The follower unfollows (WeChat answers 43004 to anything sent to them now).
        wechat_sim.post("/_fake/unsubscribed", json={"openid": follower.openid})
        lost = f"还在吗？（{secrets.token_hex(2)}）"
        desk.get_by_test_id("reply-input").fill(lost)
        desk.get_by_test_id("reply-input").press("Enter")
        mark = ws_messages(desk, "staff", lost).get_by_test_id("ws-delivery")
        expect(mark).to_contain_text("未送达", timeout=15000)
        expect(mark).to_contain_text("取消关注")
        assert lost not in follower.pushed()
    finally:
        context.close()
    assert not errors, errors
