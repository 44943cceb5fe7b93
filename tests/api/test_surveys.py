"""Satisfaction surveys: asked in chat at goodbye or after staff resolve, or sent whole."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from api.models import FollowUpTask, Survey
from api.domain.survey_questions import Reply, read_comment, read_score
from tests.api.conftest import ADMIN, INTERNAL, marked
from tests.api.test_handoff import agents, customer_asks_for_a_person, staff_client  # noqa: F401,F811 - a fixture

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.mark.parametrize("text, low, high, expected", [
    ("4", 1, 5, 4), ("４分", 1, 5, 4), ("给4分吧", 1, 5, 4), ("四星", 1, 5, 4), ("五", 1, 5, 5),
    ("满分！", 1, 5, 5), ("满分", 0, 10, 10), ("十分", 0, 10, 10), ("0", 0, 10, 0), ("九分", 0, 10, 9),
    ("非常满意", 1, 5, 5), ("满意", 1, 5, 4), ("不满意", 1, 5, 2), ("一般般", 1, 5, 3), ("很差", 1, 5, 1),
    ("跳过", 1, 5, Reply.SKIP), ("不知道", 0, 10, Reply.SKIP), ("不用了", 1, 5, Reply.DECLINE),
    ("8", 1, 5, Reply.OUT_OF_RANGE), ("11", 0, 10, Reply.OUT_OF_RANGE),
    ("我的订单到哪了", 1, 5, Reply.UNRELATED), ("服务很好，就是物流太慢了，下次能快点吗", 1, 5, Reply.UNRELATED),
    ("订单 20261101123 到哪了", 1, 5, Reply.UNRELATED), ("", 1, 5, Reply.UNRELATED),
])
def test_reading_a_score(text, low, high, expected):
    assert read_score(text, low, high) == expected


def test_reading_a_comment():
    assert read_comment("没有") is Reply.SKIP and read_comment("没有了。") is Reply.SKIP
    assert read_comment("  包装可以再结实一点  ") == "包装可以再结实一点"


def say(client, conv: str, text: str) -> list[dict]:
    resp = client.post(f"/api/web/conversations/{conv}/messages", json={"text": text})
    assert resp.status_code == 200, resp.text
    return resp.json()["replies"]


def goodbye(client, rasa) -> str:
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    rasa.reply = lambda body: httpx.Response(200, json=marked("再见，祝您购物愉快！", "utter_goodbye", "goodbye"))
    replies = say(client, conv, "好的谢谢，再见")
    assert [r["text"] for r in replies][0] == "再见，祝您购物愉快！"
    assert "满意度" in replies[1]["text"] and "1–5" in replies[2]["text"], replies
    return conv


def test_a_whole_survey_in_chat_is_stored_with_the_stage(client, rasa, db):
    conv = goodbye(client, rasa)
    bot_calls = len(rasa.requests)
    answers = ["5", "4分", "跳过", "三", "4", "9"]
    for text in answers:
        (reply,) = say(client, conv, text)
        assert reply["author"] == "bot"
    (reply,) = say(client, conv, "客服很耐心，问题解决得很快，非常满意")
    assert "谢谢" in reply["text"]
    assert len(rasa.requests) == bot_calls  # the survey never went to the bot
    survey = db.scalar(select(Survey).where(Survey.conversation_id == conv))
    assert (survey.status, survey.trigger, survey.stage) == ("completed", "goodbye", "prospect")
    assert (survey.overall, survey.quality, survey.service, survey.value, survey.innovation, survey.nps) == \
        (5, 4, None, 3, 4, 9)
    assert survey.comment_sentiment == "positive" and survey.reply == reply["text"]
    assert db.scalar(select(func.count()).select_from(FollowUpTask)) == 0
    # One survey per conversation: another goodbye is just a goodbye.
    assert [r["text"] for r in say(client, conv, "再见")] == ["再见，祝您购物愉快！"]


def test_a_negative_comment_gets_an_apology_and_a_follow_up(client, rasa, db):
    conv = goodbye(client, rasa)
    for text in ["1", "2", "1", "2", "跳过", "0"]:
        say(client, conv, text)
    (reply,) = say(client, conv, "客服态度太差了，问了半天也没解决，再也不买了")
    assert "抱歉" in reply["text"] and "专人" in reply["text"]
    tasks = client.get("/api/staff/follow-ups", headers=ADMIN_AUTH).json()
    assert [(t["reason"], t["conversation_id"]) for t in tasks] == [("negative_comment", conv)]
    done = client.post(f"/api/staff/follow-ups/{tasks[0]['id']}/done", headers=ADMIN_AUTH,
                       json={"outcome": "已电话致歉并补发优惠券"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert client.get("/api/staff/follow-ups", headers=ADMIN_AUTH).json() == []
    assert client.post(f"/api/staff/follow-ups/{tasks[0]['id']}/done", headers=ADMIN_AUTH,
                       json={"outcome": "again"}).status_code == 409


def test_the_comment_question_asks_what_went_wrong_after_a_low_score(client, rasa):
    conv = goodbye(client, rasa)
    for text in ["2", "跳过", "跳过", "跳过", "跳过"]:
        say(client, conv, text)
    (question,) = say(client, conv, "3")
    assert "哪里做得不好" in question["text"]


def test_a_low_score_without_comment_is_still_followed_up(client, rasa, db):
    conv = goodbye(client, rasa)
    for text in ["1", "跳过", "跳过", "跳过", "跳过", "跳过"]:
        say(client, conv, text)
    (reply,) = say(client, conv, "没有")
    assert "回访" in reply["text"]
    assert db.scalar(select(FollowUpTask.reason)) == "low_score"


def test_out_of_range_asks_again_and_a_question_moves_on(client, rasa, db):
    conv = goodbye(client, rasa)
    (again,) = say(client, conv, "8")
    assert "1–5" in again["text"]
    say(client, conv, "4")
    rasa.reply = lambda body: httpx.Response(200, json=marked("您的订单已发货", "utter_order_status", "order_status"))
    replies = say(client, conv, "对了，我的订单到哪了？")
    assert [r["text"] for r in replies] == ["您的订单已发货"]
    survey = db.scalar(select(Survey).where(Survey.conversation_id == conv))
    assert (survey.status, survey.overall, survey.quality) == ("abandoned", 4, None)


def test_declining_stops_at_once(client, rasa, db):
    conv = goodbye(client, rasa)
    (reply,) = say(client, conv, "不用了")
    assert "不打扰" in reply["text"]
    assert db.scalar(select(Survey.status).where(Survey.conversation_id == conv)) == "declined"


def test_staff_resolving_asks_the_survey_in_the_closed_conversation(client, rasa, agents, db):  # noqa: F811
    conv = customer_asks_for_a_person(client, rasa)
    agent = staff_client(client, "agent1")
    agent.post(f"/api/staff/conversations/{conv}/claim")
    assert agent.post(f"/api/staff/conversations/{conv}/resolve").status_code == 200
    seen = client.get(f"/api/web/conversations/{conv}/messages").json()
    assert seen["conversation"]["status"] == "closed" and "1–5" in seen["messages"][-1]["text"]
    (reply,) = say(client, conv, "5")
    assert reply["author"] == "bot"
    survey = db.scalar(select(Survey).where(Survey.conversation_id == conv))
    assert (survey.trigger, survey.overall) == ("resolved", 5)
    profile = agent.get(f"/api/staff/conversations/{conv}").json()["customer"]
    assert profile["surveys"][0]["overall"] == 5


def test_the_api_takes_a_whole_survey_once(client, rasa, db):
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    questions = client.get("/api/web/survey").json()
    assert [q["key"] for q in questions] == ["overall", "quality", "service", "value", "innovation", "nps",
                                             "comment"]
    bad = client.post(f"/api/web/conversations/{conv}/survey", json={"overall": 6, "nps": 3})
    assert bad.status_code == 422 and "overall" in bad.json()["detail"]
    assert db.scalar(select(func.count()).select_from(Survey)) == 0
    ok = client.post(f"/api/web/conversations/{conv}/survey", json={"overall": 4, "nps": 10, "comment": "很好用"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["survey"]["stage"] == "prospect" and "谢谢" in ok.json()["reply"]
    again = client.post(f"/api/web/conversations/{conv}/survey", json={"overall": 5})
    assert again.status_code == 409 and "已经提交" in again.json()["detail"]


def test_a_channel_adapter_sends_a_survey_with_its_token(client):
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    url = f"/internal/conversations/{conv}/survey"
    assert client.post(url, json={"overall": 5}).status_code == 401
    resp = client.post(url, json={"overall": 5, "quality": 5}, headers={"Authorization": f"Bearer {INTERNAL}"})
    assert resp.status_code == 201 and resp.json()["survey"]["trigger"] == "api"
    other = client.post("/internal/conversations/nope/survey", json={}, headers={"Authorization": f"Bearer {INTERNAL}"})
    assert other.status_code == 404


def test_someone_elses_conversation_is_not_found(client, rasa):
    conv = goodbye(client, rasa)
    client.cookies.clear()
    client.post("/api/web/session", json={})
    assert client.post(f"/api/web/conversations/{conv}/survey", json={"overall": 1}).status_code == 404
