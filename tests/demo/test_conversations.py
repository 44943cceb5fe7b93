"""Generated demo conversations: consistent rows, and the hidden relations are visible."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import mean

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import api.models  # noqa: F401  (registers every table on Base.metadata)
from api.db.base import Base
from demo.conversations import generate_demo_conversations, greet_qualities
from demo.shop import generate_demo_shop
from api.models import (Conversation, ConversationEvent, Customer, FollowUpTask, Message, Offer, OfferIssuance,
                        ReplyVariant, StaffUser, Survey)

NOW = datetime(2026, 11, 22, 8, 0)
SEED = 5
GREETS = {  # three alternatives for new customers, so their hidden quality matters
    "new": ["{name}您好～欢迎回来！订单、物流、退换货都可以问我。", "{name}，又见面啦！今天想了解点什么？",
            "您好，有什么可以帮您？"],
    "stable": ["{name}您好，感谢一直以来的支持！"],
    "at_risk": ["{name}，好久不见，给您准备了回归礼，回复「领券」就能领取。"],
}
OFFERS = [
    dict(code="welcome", title="新人券", detail="满 99 减 15", kind="coupon", stages=["prospect", "new"],
         period_days=365, valid_days=14, coupon_prefix="NEW", priority=10),
    dict(code="winback", title="回归礼", detail="无门槛 20 元", kind="winback", stages=["at_risk", "churned"],
         period_days=60, valid_days=30, coupon_prefix="BACK", priority=20),
    dict(code="winback-b", title="回归礼 B", detail="满 100 减 30", kind="winback", stages=["at_risk", "churned"],
         period_days=60, valid_days=30, coupon_prefix="BACKB", priority=20),
    dict(code="tips", title="泡茶小课堂", detail="会员免费领取冲泡指南", kind="benefit", stages=[], period_days=30),
    dict(code="off", title="停用的券", detail="x", kind="coupon", stages=[], coupon_prefix="OFF", enabled=False),
    dict(code="bday", title="生日券", detail="x", kind="campaign", trigger="birthday", stages=[], coupon_prefix="BD"),
]
TABLES = {"conversations": Conversation, "messages": Message, "events": ConversationEvent,
          "offer_issuances": OfferIssuance, "surveys": Survey, "follow_up_tasks": FollowUpTask}


def build(staff: bool = True, seed: int = SEED) -> tuple[Session, dict[str, int]]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    db = Session(engine)
    generate_demo_shop(db, customers=200, seed=1, now=NOW)
    for stage, texts in GREETS.items():
        db.add_all(ReplyVariant(template="utter_greet", stage=stage, text=t, updated_by="test") for t in texts)
    db.add(ReplyVariant(template="utter_thank", stage="growing", text="{name}，不客气～", updated_by="test"))
    db.add_all(Offer(**fields, updated_by="test") for fields in OFFERS)
    if staff:
        db.add_all([StaffUser(username="lin", display_name="小林", role="agent", password_hash="x"),
                    StaffUser(username="gone", display_name="离职", role="agent", password_hash="x", active=False)])
    db.commit()
    return db, generate_demo_conversations(db, seed=seed, now=NOW)


@pytest.fixture(scope="module")
def shop():
    db, counts = build()
    yield db, counts
    db.close()


def test_counts_match_the_rows_and_every_customer_may_chat(shop):
    db, counts = shop
    for key, model in TABLES.items():
        assert counts[key] == db.scalar(select(func.count()).select_from(model)), key
    assert counts["surveys"] == counts["surveys_completed"] + counts["surveys_declined"] + counts["surveys_abandoned"]
    assert 400 <= counts["conversations"] <= 800  # about 3 per customer
    assert 6 <= counts["messages"] / counts["conversations"] <= 16
    assert 0.08 <= counts["escalated"] / counts["conversations"] <= 0.35
    assert counts["customers"] == db.scalar(select(func.count(func.distinct(Conversation.customer_id))))
    stages = set(db.scalars(select(Customer.stage).join(Conversation, Conversation.customer_id == Customer.id)))
    assert stages == {"prospect", "new", "growing", "stable", "at_risk", "churned"}
    start = NOW - timedelta(days=180)
    for conv in db.scalars(select(Conversation)):
        assert len(conv.id) == 32 and int(conv.id, 16) >= 0
        assert conv.channel in ("web", "wechat") and conv.status == "closed" and conv.handler == "bot"
        assert start <= conv.started_at <= conv.last_activity_at <= conv.closed_at <= NOW


def test_surveys_belong_to_their_conversation_and_stage(shop):
    db, counts = shop
    rows = db.execute(select(Survey, Conversation.customer_id, Conversation.channel, Customer.stage,
                             Conversation.escalated_at, Conversation.last_activity_at)
                      .join(Conversation, Conversation.id == Survey.conversation_id)
                      .join(Customer, Customer.id == Survey.customer_id)).all()
    assert len(rows) == counts["surveys"] == len({s.conversation_id for s, *_ in rows})  # one per conversation
    answers = ("overall", "quality", "service", "value", "innovation", "nps")
    for s, customer_id, channel, stage, escalated_at, last in rows:
        assert (s.customer_id, s.channel, s.stage) == (customer_id, channel, stage)
        assert s.trigger == ("resolved" if escalated_at else "goodbye")
        assert s.started_at >= last
        assert s.comment_sentiment is None and s.comment_score is None
        given = [getattr(s, a) for a in answers]
        if s.status == "completed":
            assert None not in given and s.finished_at > s.started_at and s.question is None
            assert all(1 <= x <= 5 for x in given[:5]) and 0 <= s.nps <= 10
        elif s.status == "declined":
            assert given == [None] * 6 and s.comment is None
        else:
            assert s.status == "abandoned" and given[0] is not None and s.question is not None
            assert s.finished_at is None and s.comment is None
        assert (s.comment is None) == (s.reply is None)
    shares = {k: counts[f"surveys_{k}"] / counts["conversations"] for k in ("completed", "declined", "abandoned")}
    assert 0.5 < shares["completed"] < 0.7 and 0.08 < shares["declined"] < 0.22 and 0.05 < shares["abandoned"] < 0.16


def test_negative_comments_get_a_follow_up(shop):
    db, _ = shop
    surveys = {s.id: s for s in db.scalars(select(Survey))}
    tasks = db.scalars(select(FollowUpTask)).all()
    assert tasks
    for task in tasks:
        s = surveys[task.survey_id]
        assert task.reason == "negative_comment" and s.comment in task.detail
        assert (task.customer_id, task.conversation_id) == (s.customer_id, s.conversation_id)
        assert s.overall <= 2 and task.created_at == s.finished_at
        if task.status == "done":
            assert task.created_at < task.done_at <= NOW and task.outcome
        else:
            assert task.status == "open" and task.done_at is None
    older = [t for t in tasks if t.created_at < NOW - timedelta(days=3)]
    assert sum(t.status == "done" for t in older) > len(older) / 2  # most older ones were dealt with
    recent = [t for t in tasks if t.created_at > NOW - timedelta(days=3)]
    assert all(t.status == "open" for t in recent)
    with_tasks = {t.survey_id for t in tasks}
    low = [s for s in surveys.values() if s.comment and s.overall <= 2]
    assert {s.id for s in low} == with_tasks


def test_messages_alternate_and_replies_point_back(shop):
    db, _ = shop
    messages = defaultdict(list)
    for m in db.scalars(select(Message).order_by(Message.id)):
        messages[m.conversation_id].append(m)
    by_id = {m.id: m for ms in messages.values() for m in ms}
    variants = {v.id: v for v in db.scalars(select(ReplyVariant))}
    stage_of = dict(db.execute(select(Conversation.id, Customer.stage).join(Customer)).all())
    for conv_id, ms in messages.items():
        assert ms[0].author == "customer"
        assert [m.created_at for m in ms] == sorted(m.created_at for m in ms)
        for m in ms:
            assert m.sentiment is None and m.sentiment_score is None
            if m.author == "customer":
                assert m.direction == "inbound" and m.template is None and m.text
                if m.intent is not None:
                    assert 0 < m.intent_confidence < 1
            elif m.author == "bot":
                assert m.direction == "outbound" and m.template.startswith("utter_") and "{" not in m.text
                question = by_id[m.reply_to_id]
                assert question.conversation_id == conv_id and question.author == "customer" and question.id < m.id
                assert question.intent is not None
                if m.variant_id is not None:
                    v = variants[m.variant_id]
                    assert (v.template, v.stage) == (m.template, stage_of[conv_id])
                if m.template == "utter_default":
                    assert question.intent == "nlu_fallback" and question.intent_confidence < 0.5
            else:
                assert m.author in ("staff", "system") and m.direction == "outbound"
    greets = [m for ms in messages.values() for m in ms if m.template == "utter_greet"]
    assert any(m.variant_id for m in greets) and any(m.variant_id is None for m in greets)  # stages without one
    assert any("{" not in m.text and m.variant_id for m in greets)


def test_handoffs_have_their_events_in_order(shop):
    db, counts = shop
    lin = db.scalar(select(StaffUser.id).where(StaffUser.username == "lin"))
    events = defaultdict(list)
    for e in db.scalars(select(ConversationEvent).order_by(ConversationEvent.id)):
        events[e.conversation_id].append(e)
    escalated = db.scalars(select(Conversation).where(Conversation.escalated_at.is_not(None))).all()
    assert len(escalated) == counts["escalated"] and set(events) == {c.id for c in escalated}
    waits = []
    for conv in escalated:
        kinds = [e.kind for e in events[conv.id]]
        assert kinds[:2] == ["escalated", "claimed"] and kinds[-1] == "resolved"
        assert set(kinds[2:-1]) == {"staff_reply"}
        times = [e.at for e in events[conv.id]]
        assert times == sorted(times)
        assert conv.claimed_at >= conv.escalated_at and times[0] == conv.escalated_at and times[1] == conv.claimed_at
        assert conv.assigned_staff_id == lin and conv.attention_reason and not conv.needs_attention
        assert events[conv.id][1].detail["waited_seconds"] == (conv.claimed_at - conv.escalated_at).total_seconds()
        assert conv.closed_at == times[-1]
        staff_messages = db.scalars(select(Message).where(Message.conversation_id == conv.id,
                                                          Message.author == "staff")).all()
        assert [e.detail["message_id"] for e in events[conv.id] if e.kind == "staff_reply"] == [
            m.id for m in staff_messages]
        assert all(m.staff_id == lin for m in staff_messages)
        waits.append((conv.claimed_at - conv.escalated_at).total_seconds())
    assert min(waits) < 60 and max(waits) > 900


def test_offers_are_issued_from_fitting_offers_with_unique_codes(shop):
    db, counts = shop
    rows = db.execute(select(OfferIssuance, Offer, Conversation.customer_id, Customer.stage)
                      .join(Offer, Offer.id == OfferIssuance.offer_id)
                      .join(Conversation, Conversation.id == OfferIssuance.conversation_id)
                      .join(Customer, Customer.id == OfferIssuance.customer_id)).all()
    assert len(rows) == counts["offer_issuances"] > 0
    codes = [i.coupon_code for i, *_ in rows if i.coupon_code]
    assert len(codes) == len(set(codes)) > 0
    for issuance, offer, customer_id, stage in rows:
        assert offer.enabled and offer.trigger == "chat" and (not offer.stages or stage in offer.stages)
        assert issuance.customer_id == customer_id and issuance.stage == stage and issuance.trigger == "chat"
        assert issuance.expires_at == issuance.issued_at + timedelta(days=offer.valid_days)
        assert (issuance.coupon_code is None) == (offer.coupon_prefix is None)
        if issuance.coupon_code:
            assert issuance.coupon_code == f"{offer.coupon_prefix}{issuance.id:08d}"
            said = db.scalars(select(Message.text).where(Message.conversation_id == issuance.conversation_id,
                                                         Message.template == "utter_offer")).all()
            assert any(issuance.coupon_code in text for text in said)
    assert {o.code for _, o, *_ in rows} >= {"welcome", "winback", "winback-b", "tips"}


def test_the_hidden_relations_are_visible(shop):
    db, _ = shop
    rows = db.execute(select(Survey.overall, Survey.nps, Survey.stage, Conversation.escalated_at,
                             Conversation.claimed_at, Survey.conversation_id)
                      .join(Conversation, Conversation.id == Survey.conversation_id)
                      .where(Survey.status == "completed")).all()
    long_wait = [r.overall for r in rows if r.escalated_at and (r.claimed_at - r.escalated_at).total_seconds() > 300]
    no_wait = [r.overall for r in rows if r.escalated_at is None]
    assert len(long_wait) >= 10 and mean(long_wait) < mean(no_wait) - 1.0
    by_stage = defaultdict(list)
    for r in rows:
        by_stage[r.stage].append(r.overall)
    assert mean(by_stage["churned"] + by_stage["at_risk"]) < mean(by_stage["stable"] + by_stage["growing"])
    promoters = [r.overall for r in rows if r.nps >= 9]
    assert sum(o == 5 for o in promoters) > 0.6 * len(promoters)

    # The indicators follow their own drivers: service the wait, value the offer.
    scores = db.execute(select(Survey.service, Survey.value, Survey.stage, Conversation.escalated_at,
                               Conversation.claimed_at, OfferIssuance.id)
                        .join(Conversation, Conversation.id == Survey.conversation_id)
                        .outerjoin(OfferIssuance, OfferIssuance.conversation_id == Survey.conversation_id)
                        .where(Survey.status == "completed")).all()
    assert len(scores) == len(rows)  # at most one offer per conversation
    long_service = [r.service for r in scores if r.escalated_at and (r.claimed_at - r.escalated_at).seconds > 300]
    assert mean(long_service) < mean(r.service for r in scores if r.escalated_at is None) - 1.0
    # Offers go more to at-risk and churned customers, who score lower: compare within the stage.
    usual = defaultdict(list)
    for r in scores:
        if r.id is None:
            usual[r.stage].append(r.value)
    gains = [r.value - mean(usual[r.stage]) for r in scores if r.id is not None]
    assert len(gains) >= 20 and mean(gains) > 0.2

    # The best of the three greetings for new customers does better than the other two.
    new_greets = db.execute(select(ReplyVariant.id, ReplyVariant.stage, ReplyVariant.persona)
                            .where(ReplyVariant.template == "utter_greet", ReplyVariant.stage == "new")).all()
    quality = greet_qualities([tuple(v) for v in new_greets], SEED)
    best = max(quality, key=quality.get)
    assert sorted(quality.values())[-1] - sorted(quality.values())[-2] > 0.3  # clearly better
    greeted = dict(db.execute(select(Message.conversation_id, Message.variant_id)
                              .where(Message.template == "utter_greet", Message.variant_id.in_(quality))).all())
    with_best = [r.overall for r in rows if greeted.get(r.conversation_id) == best]
    with_others = [r.overall for r in rows if r.conversation_id in greeted and greeted[r.conversation_id] != best]
    assert len(with_best) >= 15 and len(with_others) >= 30
    assert mean(with_best) > mean(with_others) + 0.2


def snapshot(db: Session) -> list:
    return [db.execute(select(model.__table__).order_by(*model.__table__.primary_key.columns)).all()
            for model in (*TABLES.values(), Customer)]


def test_same_seed_same_conversations_and_a_second_run_adds_more():
    first, counts = build(staff=False)
    second, again = build(staff=False)
    assert counts == again and snapshot(first) == snapshot(second)
    assert first.scalar(select(func.count()).where(Conversation.assigned_staff_id.is_not(None))) == 0
    assert first.scalar(select(func.count()).where(Message.staff_id.is_not(None))) == 0
    other, changed = build(staff=False, seed=SEED + 1)
    assert snapshot(other)[0] != snapshot(first)[0]
    more = generate_demo_conversations(first, seed=SEED, now=NOW, per_customer=1.0)
    total = first.scalar(select(func.count()).select_from(Conversation))
    assert total == counts["conversations"] + more["conversations"] and more["conversations"] > 0
    for db in (first, second, other):
        db.close()
