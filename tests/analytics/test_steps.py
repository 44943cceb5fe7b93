"""Service-step scoring: features from the database, the synthetic data, the scores, the job."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import api.models  # noqa: F401 - registers every table on Base.metadata
import analytics.steps as steps_module
import api.jobs.steps as steps_job
from analytics.pso import BPRegressor
from analytics.steps import (COLUMNS, FEATURES, LINEAR_BELOW, MIN_CONVERSATIONS, NETWORK_MODEL, NO_IMPACT,
                             STEP_LABELS, STEPS, TARGET, chosen_model, log_seconds, make_synthetic_steps,
                             score_steps, synthetic_expected_satisfaction)
from api.jobs.steps import step_features, step_scoring_job
from api.db.base import Base
from api.models import AnalyticsReport, Conversation, Customer, Message, StepScore, Survey

T0 = datetime(2025, 3, 1, 10, 0, 0)


@pytest.fixture
def db():
    engine = sqlalchemy.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


class Recorder:
    def __init__(self) -> None:
        self.total, self.done = None, 0

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n


def conversation(db: Session, cid: str, *, escalated: float | None = None, claimed: float | None = None,
                 messages: list[tuple] = (), survey: dict | None = None) -> None:
    """A conversation started at T0; times are seconds after T0. A message is
    (seconds, author, intent, confidence, template, variant_id, sentiment_score)."""
    customer = Customer(stage="growing")
    db.add(customer)
    db.flush()
    at = lambda s: None if s is None else T0 + timedelta(seconds=s)  # noqa: E731
    db.add(Conversation(id=cid, customer_id=customer.id, channel="web", started_at=T0,
                        escalated_at=at(escalated), claimed_at=at(claimed)))
    db.flush()
    for seconds, author, intent, confidence, template, variant, sentiment in messages:
        db.add(Message(conversation_id=cid, direction="inbound" if author == "customer" else "outbound",
                       author=author, text="…", intent=intent, intent_confidence=confidence, template=template,
                       variant_id=variant, sentiment_score=sentiment, created_at=at(seconds)))
        db.flush()  # ids in the order written
    if survey is not None:
        db.add(Survey(conversation_id=cid, customer_id=customer.id, channel="web", stage="growing",
                      trigger="goodbye", status="completed", **survey))
    db.flush()


def hand_made(db: Session) -> None:
    conversation(db, "c-full", escalated=60, claimed=150, messages=[
        (0, "customer", "greet", 0.9, None, None, 0.4),
        (2, "bot", None, None, "utter_greet", 5, None),
        (10, "customer", "nlu_fallback", 0.3, None, None, None),
        (11, "bot", None, None, "utter_default", None, None),
        (20, "customer", "query_order", 0.8, None, None, None),  # says what they want
        (21, "bot", None, None, "utter_default", None, None),
        (58, "customer", "request_human", 0.95, None, None, 0.2),
        (60, "system", None, None, None, None, None),  # queue notice: not an answer
        (150, "system", None, None, None, None, None),
        (160, "staff", None, None, None, None, None),
        (200, "customer", "thank", 0.7, None, None, 0.9),
        (205, "staff", None, None, None, None, None),
    ], survey=dict(overall=4, quality=5, value=3, nps=9, comment="很好"))
    # nothing classified, no bot reply, escalated and never claimed
    conversation(db, "c-bare", escalated=30, messages=[
        (5, "customer", None, None, None, None, None),
        (30, "system", None, None, None, None, None),
        (100, "customer", None, None, None, None, None),
    ], survey=dict(overall=2, comment="   "))
    conversation(db, "c-no-overall", messages=[(0, "customer", "greet", 0.9, None, None, None)],
                 survey=dict(overall=None, quality=4))
    conversation(db, "c-no-survey", messages=[(0, "customer", "greet", 0.9, None, None, None)])


def test_step_features_of_hand_made_conversations(db):
    hand_made(db)
    frame = step_features(db)
    assert list(frame.columns) == list(COLUMNS)
    assert sorted(frame["conversation_id"]) == ["c-bare", "c-full"]
    full = frame.set_index("conversation_id").loc["c-full"]
    expected = {
        "greeting__seconds": 2, "greeting__personal": 1,
        "identification__turns": 2, "identification__fallbacks": 1,
        "answer__fallbacks": 1, "answer__confidence": (0.9 + 0.3 + 0.8 + 0.95 + 0.7) / 5,
        "answer__reply_seconds": (2 + 1 + 1 + 102 + 5) / 5,
        "handoff_wait__escalated": 1, "handoff_wait__seconds": 90,
        "resolution__seconds": 205, "resolution__staff_replies": 2, "resolution__sentiment_change": 0.5,
        "survey__answered": 5 / 7, "overall": 4,
    }
    for column, value in expected.items():
        assert full[column] == pytest.approx(value), column
    assert full["stage"] == "growing"

    bare = frame.set_index("conversation_id").loc["c-bare"]
    expected_bare = {
        "greeting__seconds": 2,  # no bot reply: the median of the others
        "greeting__personal": 0,
        "identification__turns": 2,  # never identified: every customer turn
        "identification__fallbacks": 0, "answer__fallbacks": 0,
        "answer__confidence": expected["answer__confidence"],  # nothing classified: median
        "answer__reply_seconds": expected["answer__reply_seconds"],  # nothing answered: median
        "handoff_wait__escalated": 1, "handoff_wait__seconds": 70,  # waited until its last message
        "resolution__seconds": 100, "resolution__staff_replies": 0, "resolution__sentiment_change": 0,
        "survey__answered": 1 / 7, "overall": 2,
    }
    for column, value in expected_bare.items():
        assert bare[column] == pytest.approx(value), column
    assert frame[list(FEATURES)].notna().all().all()


def test_step_features_without_surveys_is_empty(db):
    conversation(db, "c-1", messages=[(0, "customer", "greet", 0.9, None, None, None)])
    frame = step_features(db)
    assert frame.empty and list(frame.columns) == list(COLUMNS)


def count_statements(db: Session, monkeypatch, batch: int) -> tuple[pd.DataFrame, int]:
    monkeypatch.setattr(steps_job, "BATCH_CONVERSATIONS", batch)
    statements = []
    engine = db.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        frame = step_features(db)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return frame, len(statements)


def test_step_features_queries_per_batch_not_per_conversation(db, monkeypatch):
    for i in range(25):
        conversation(db, f"c-{i:02d}", escalated=10 if i % 3 == 0 else None, messages=[
            (0, "customer", "greet", 0.9, None, None, 0.5),
            (i % 4, "bot", None, None, "utter_greet", None, None),
            (5, "customer", "ask_price", 0.5 + i / 100, None, None, 0.6),
            (6, "bot", None, None, "utter_price" if i % 2 else "utter_default", None, None),
        ] if i % 5 else [(0, "customer", None, None, None, None, None)],  # every 5th: medians filled
            survey=dict(overall=1 + i % 5))
    db.commit()
    whole, queries = count_statements(db, monkeypatch, batch=1000)
    assert len(whole) == 25 and queries == 2  # the conversations, their messages
    batched, queries = count_statements(db, monkeypatch, batch=10)
    assert queries == 1 + 3
    pd.testing.assert_frame_equal(batched, whole)


def test_synthetic_steps_look_like_step_features():
    a, b = make_synthetic_steps(300, seed=1), make_synthetic_steps(300, seed=1)
    assert list(a.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(a, b)
    assert not make_synthetic_steps(300, seed=2)[TARGET].equals(a[TARGET])
    assert set(a[TARGET].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0} and a[TARGET].nunique() >= 4
    waiting = a["handoff_wait__seconds"] > 0
    assert (waiting <= (a["handoff_wait__escalated"] == 1)).all()
    assert (a.loc[a["handoff_wait__escalated"] == 0, "resolution__staff_replies"] == 0).all()
    assert a[list(FEATURES)].notna().all().all()
    with pytest.raises(ValueError):
        make_synthetic_steps(0)


def test_the_hidden_function_punishes_a_wait_after_fallbacks_more():
    base = make_synthetic_steps(1, seed=0).iloc[[0, 0, 0, 0]].reset_index(drop=True)
    base["handoff_wait__escalated"] = 1.0
    base["handoff_wait__seconds"] = [0, 600, 0, 600]
    base["identification__fallbacks"] = 0.0
    base["answer__fallbacks"] = [0, 0, 3, 3]
    e = synthetic_expected_satisfaction(base)
    assert (e[2] - e[3]) > 2 * (e[0] - e[1]) > 0


class Handoff:
    """Satisfaction that only the handoff wait moves."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return 4.5 - 1.0 * X["handoff_wait__escalated"].to_numpy() - X["handoff_wait__seconds"].to_numpy() / 600


class Constant:
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), 4.0)


def test_score_steps_finds_the_only_step_that_matters():
    frame = make_synthetic_steps(400, seed=3)
    scores = score_steps(Handoff(), frame).set_index("step")
    assert list(scores.index) == list(STEPS)
    assert list(scores.columns) == ["label", "score", "impact", "weakest"]
    assert scores.loc["handoff_wait", "label"] == STEP_LABELS["handoff_wait"]
    assert scores["weakest"].tolist() == [step == "handoff_wait" for step in STEPS]
    # Fixing the wait means no escalation and no wait for everyone who had one.
    waited = frame["handoff_wait__escalated"] + frame["handoff_wait__seconds"] / 600
    assert scores.loc["handoff_wait", "impact"] == pytest.approx(waited.mean(), rel=1e-6)
    assert 0 <= scores.loc["handoff_wait", "score"] < 100
    others = scores.drop("handoff_wait")
    assert (others["impact"] == 0).all() and (others["score"] == 100).all()


def test_score_steps_flags_the_step_a_fitted_model_learned_to_matter():
    frame = make_synthetic_steps(800, seed=4)
    rng = np.random.default_rng(0)
    # Shuffle every other feature on its own, so nothing else stands in for the wait
    # (in the synthetic data escalated conversations also have slower replies).
    for column in FEATURES:
        if not column.startswith("handoff_wait__"):
            frame[column] = rng.permutation(frame[column].to_numpy())
    latent = 4.6 - 1.5 * frame["handoff_wait__escalated"] * (1 - np.exp(-frame["handoff_wait__seconds"] / 240))
    frame[TARGET] = np.clip(np.round(latent + rng.normal(0, 0.3, len(frame))), 1, 5)
    model = Pipeline([("log", FunctionTransformer(log_seconds)),
                      ("net", BPRegressor(hidden=(6,), epochs=300, lr=0.02, patience=30))])
    model.fit(frame[list(FEATURES)], frame[TARGET])
    scores = score_steps(model, frame).set_index("step")
    assert scores["impact"].idxmax() == "handoff_wait"
    assert scores.loc["handoff_wait", "weakest"] and scores["weakest"].sum() == 1
    assert scores.loc["handoff_wait", "impact"] > 1.5 * scores.drop("handoff_wait")["impact"].abs().max()


def test_score_steps_flags_nothing_when_nothing_matters():
    scores = score_steps(Constant(), make_synthetic_steps(100, seed=5))
    assert not scores["weakest"].any()
    assert (scores["impact"] == 0).all() and (scores["score"] == 100).all()


def test_score_steps_refuses_an_empty_frame():
    with pytest.raises(ValueError):
        score_steps(Constant(), make_synthetic_steps(10, seed=0).iloc[:0])


def surveyed(db: Session, count: int, seed: int = 0) -> None:
    """``count`` varied surveyed conversations; satisfaction falls with fallbacks and waits."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        fallbacks = int(rng.integers(0, 3))
        escalated = bool(rng.random() < 0.4)
        wait = float(rng.integers(10, 900)) if escalated else None
        msgs = [(0, "customer", "greet", 0.9, None, None, 0.5),
                (float(rng.integers(1, 5)), "bot", None, None, "utter_greet", None if i % 2 else 3, None)]
        t = 10.0
        for _ in range(fallbacks):
            msgs += [(t, "customer", "nlu_fallback", 0.3, None, None, 0.4),
                     (t + 1, "bot", None, None, "utter_default", None, None)]
            t += 10
        msgs += [(t, "customer", "query_order", float(rng.uniform(0.5, 1)), None, None, 0.5),
                 (t + 2, "bot", None, None, "utter_order_status", None, None)]
        if escalated:
            msgs += [(t + 5 + wait, "staff", None, None, None, None, None)]
        overall = int(np.clip(round(5 - fallbacks * 0.8 - (wait or 0) / 400 + rng.normal(0, 0.3)), 1, 5))
        conversation(db, f"job-{seed}-{i}", escalated=t + 4 if escalated else None,
                     claimed=t + 4 + wait if escalated else None, messages=msgs,
                     survey=dict(overall=overall, nps=int(rng.integers(0, 11))))


@pytest.mark.parametrize("linear_below", [LINEAR_BELOW, 0], ids=["few-conversations", "network"])
def test_the_job_scores_every_step_and_reports(db, monkeypatch, linear_below):
    monkeypatch.setattr(steps_module, "LINEAR_BELOW", linear_below)
    surveyed(db, MIN_CONVERSATIONS + 10)
    progress = Recorder()
    counts = step_scoring_job(db, progress)
    assert counts == {"conversations": MIN_CONVERSATIONS + 10, "steps": 6, "reports": 1, "skipped": 0}
    assert progress.total == progress.done == 4

    rows = db.scalars(select(StepScore).order_by(StepScore.id)).all()
    assert [r.step for r in rows] == list(STEPS)
    assert len({r.computed_at for r in rows}) == 1
    assert all(r.model == ("linear" if linear_below else NETWORK_MODEL) for r in rows)
    assert all(r.conversations == MIN_CONVERSATIONS + 10 for r in rows)
    assert all(0 <= r.score <= 100 for r in rows)
    assert any(r.weakest for r in rows) == (max(r.impact for r in rows) > NO_IMPACT)
    assert rows[0].detail["label"] == STEP_LABELS["greeting"] and "features" in rows[0].detail

    report = db.scalars(select(AnalyticsReport)).one()
    assert report.kind == "steps" and report.created_at == rows[0].computed_at
    # Only the model in use is fitted (the four-way comparison is the experiment's), with
    # its held-out fit for the console.
    assert set(report.data["comparison"]) == {rows[0].model}
    assert isinstance(report.data["comparison"][rows[0].model]["rmse"], float)
    assert report.data["model"] == rows[0].model
    assert report.data["features"] == list(FEATURES) and report.data["conversations"] == MIN_CONVERSATIONS + 10
    weakest = [r for r in rows if r.weakest]
    assert report.summary.startswith("服务环节评分")
    if weakest:
        assert STEP_LABELS[weakest[0].step] in report.summary

    db.rollback()  # nothing was committed: the caller commits
    assert db.scalar(select(func.count()).select_from(StepScore)) == 0


def test_the_job_skips_with_too_few_surveys(db):
    surveyed(db, MIN_CONVERSATIONS - 1)
    progress = Recorder()
    counts = step_scoring_job(db, progress)
    assert counts == {"conversations": MIN_CONVERSATIONS - 1, "steps": 0, "reports": 0, "skipped": 1}
    assert db.scalar(select(func.count()).select_from(StepScore)) == 0
    assert db.scalar(select(func.count()).select_from(AnalyticsReport)) == 0
    assert progress.done >= 1


def test_the_job_uses_a_network_only_with_enough_conversations():
    assert chosen_model(MIN_CONVERSATIONS) == chosen_model(LINEAR_BELOW - 1) == "linear"
    assert chosen_model(LINEAR_BELOW) == chosen_model(10 * LINEAR_BELOW) == NETWORK_MODEL
