"""The analytics jobs on a generated shop with conversations and surveys: each runs as the
scheduler would run it, is recorded, and leaves what the console and the bot read next."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from api.jobs.registry import run_job
from api.content_defaults import seed_content
from api.db import session as db_session
from demo.conversations import generate_demo_conversations
from demo.shop import generate_demo_shop
from api.models import (
    AnalyticsReport,
    AssociationRule,
    Customer,
    LoopChoice,
    Message,
    Offer,
    ReplyVariant,
    StepScore,
)
from api.services.responses import ResponseCatalog


@pytest.fixture
def shop(db, settings_env):
    catalog = ResponseCatalog.from_files(settings_env.domain_path, settings_env.responses_dir)
    seed_content(db, catalog, date.today())
    db.commit()
    generate_demo_shop(db, customers=300, seed=7)
    generate_demo_conversations(db, per_customer=3.0, seed=7)
    db.commit()
    return db


def run(name: str) -> dict:
    job_run = run_job(name, "cli", db_session.get_sessionmaker())
    assert job_run.status == "ok", job_run.error
    return job_run.counts


def test_the_analytics_jobs_close_the_loop(shop):
    db = shop
    counts = run("sentiment")
    assert counts["messages"] > 500 and counts["negative"] > 0
    left = db.scalar(select(func.count()).select_from(Message).where(
        Message.author == "customer", Message.sentiment.is_(None), Message.intent != "survey_answer"))
    assert left == 0
    assert run("sentiment")["messages"] == 0  # only what is new

    counts = run("personas")
    assert counts.get("customers", 0) > 0
    assert db.scalar(select(func.count()).select_from(Customer).where(Customer.persona.is_not(None))) > 0

    counts = run("association")
    assert counts["basket_rules"] > 0 and counts["conversation_rules"] > 0
    rules = db.scalars(select(AssociationRule).where(AssociationRule.kind == "conversation")).all()
    assert all(r.consequents[0].split("=")[0] in ("nps", "repurchase") for r in rules)
    basket = db.scalars(select(AssociationRule).where(AssociationRule.kind == "basket")
                        .order_by(AssociationRule.rank)).all()
    assert [r.rank for r in basket] == list(range(1, len(basket) + 1)) and all(r.lift > 1 for r in basket)

    counts = run("step-scores")
    assert counts.get("skipped", 0) == 0
    assert db.scalar(select(func.count()).select_from(StepScore)) == 6

    counts = run("loop")
    assert counts["groups"] > 0 and counts["outcomes"] > 0
    choices = db.scalars(select(LoopChoice)).all()
    assert {c.kind for c in choices} == {"variant", "offer"}
    for group in {c.group_key for c in choices}:
        weights = [c.weight for c in choices if c.group_key == group]
        assert sum(weights) == pytest.approx(1.0)
    # The weights the bot uses follow the loop's choice.
    for choice in (c for c in choices if c.kind == "variant" and c.mode == "auto"):
        assert db.get(ReplyVariant, choice.arm_id).weight == pytest.approx(max(choice.weight, 1e-4))
    for choice in (c for c in choices if c.kind == "offer"):
        assert db.get(Offer, choice.arm_id).stage_weights.get(choice.stage, 1.0) == pytest.approx(choice.weight)
    assert {r.kind for r in db.scalars(select(AnalyticsReport))} >= {"rules", "steps", "personas", "loop"}


def test_a_pinned_variant_keeps_its_group_out_of_the_loop(shop):
    db = shop
    run("sentiment")
    pinned = db.scalars(select(ReplyVariant).where(ReplyVariant.template == "utter_greet",
                                                   ReplyVariant.stage == "new")).all()
    assert len(pinned) == 2
    pinned[0].loop_mode, pinned[1].weight = "pinned", 0.5
    db.commit()
    run("loop")
    db.expire_all()
    assert db.get(ReplyVariant, pinned[1].id).weight == 0.5  # untouched
    chosen = db.scalars(select(LoopChoice).where(LoopChoice.arm_id == pinned[0].id,
                                                 LoopChoice.kind == "variant")).one()
    assert chosen.weight == 1.0 and chosen.mode == "pinned"

