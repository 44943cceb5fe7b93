"""Personas by K-means and the six-family tag library (analytics/personas.py).
(About 400 lines: one file per module under test, as the suite is laid out.)"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

import api.models  # noqa: F401 - registers every table
from analytics.personas import (
    FEATURES,
    MODEL_FEATURES,
    NO_PURCHASE_RECENCY,
    PERSONA_LABELS,
    PERSONAS,
    PersonaModel,
    tag_customers,
)
from api.jobs.personas import customer_features, persona_job
from api.db.base import Base
from demo.shop import generate_demo_shop
from api.models import AnalyticsReport, Conversation, Customer, Message, Order, Survey
from api.services import escalation

NOW = datetime(2026, 6, 1, 12, 0)

# Five planted kinds of customer: (low, high) of a uniform draw per feature; survey None
# means "never rated". Each is meant to be found again as the persona it is named after.
PLANTED = {
    "high_value": dict(recency_days=(2, 20), orders=(14, 30), spend=(4000, 9000), avg_order=(250, 350),
                       tenure_days=(400, 900), orders_trend=(-0.1, 0.15), contacts=(0, 2),
                       contacts_change=(-0.5, 0.5), complaints=(0, 0), negative_share=(0, 0.1),
                       survey_overall=(4, 5), fallback_share=(0, 0.1), handoffs=(0, 0)),
    "high_potential": dict(recency_days=(1, 15), orders=(1, 3), spend=(300, 900), avg_order=(280, 400),
                           tenure_days=(5, 60), orders_trend=(0.5, 0.75), contacts=(0, 1),
                           contacts_change=(0, 1), complaints=(0, 0), negative_share=(0, 0.1),
                           survey_overall=None, fallback_share=(0, 0.1), handoffs=(0, 0)),
    "business_sensitive": dict(recency_days=(20, 80), orders=(3, 7), spend=(400, 1200), avg_order=(120, 200),
                               tenure_days=(200, 700), orders_trend=(-0.3, 0.1), contacts=(4, 10),
                               contacts_change=(1, 3), complaints=(2, 6), negative_share=(0.4, 0.8),
                               survey_overall=(1, 2.5), fallback_share=(0.05, 0.15), handoffs=(1, 3)),
    "needs_guidance": dict(recency_days=(60, 400), orders=(0, 1), spend=(0, 150), avg_order=(0, 150),
                           tenure_days=(30, 300), orders_trend=(-0.2, 0.2), contacts=(3, 8),
                           contacts_change=(-0.5, 1), complaints=(0, 1), negative_share=(0.05, 0.3),
                           survey_overall=None, fallback_share=(0.4, 0.7), handoffs=(2, 5)),
    "ordinary": dict(recency_days=(60, 200), orders=(2, 5), spend=(200, 700), avg_order=(90, 150),
                     tenure_days=(300, 800), orders_trend=(-0.4, 0.0), contacts=(0, 1),
                     contacts_change=(-0.5, 0.5), complaints=(0, 0), negative_share=(0, 0.1),
                     survey_overall=None, fallback_share=(0, 0.1), handoffs=(0, 0)),
}
COUNTS = ("orders", "contacts", "complaints", "handoffs")


def planted(n_per: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A feature frame of the five planted groups, shuffled, and each row's intended persona."""
    rng = np.random.default_rng(seed)
    frames = []
    for persona, ranges in PLANTED.items():
        rows = {}
        for feature in MODEL_FEATURES:
            bounds = ranges[feature]
            if bounds is None:
                rows[feature] = np.full(n_per, np.nan)
            elif feature in COUNTS:
                rows[feature] = rng.integers(bounds[0], bounds[1] + 1, n_per)
            else:
                rows[feature] = rng.uniform(*bounds, n_per)
        frame = pd.DataFrame(rows)
        frame["truth"] = persona
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True).sample(frac=1, random_state=seed)
    data.index = pd.RangeIndex(1000, 1000 + len(data))  # ids, as customer_features gives them
    return data.drop(columns="truth"), data["truth"]


def agreement(found: pd.Series, truth: pd.Series) -> dict[str, float]:
    return {p: float((found[truth == p] == p).mean()) for p in PERSONAS}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """K-means on a few hundred rows gains nothing from threads, and OpenMP threads that
    spin while waiting make it many times slower on a machine busy with other work."""
    with threadpool_limits(limits=1):
        yield


# --- the model ---------------------------------------------------------------------------

def test_persona_codes_are_the_ones_the_service_uses():
    assert escalation.PRIORITY_PERSONAS <= set(PERSONAS)
    assert set(PERSONA_LABELS) == set(PERSONAS)
    assert PERSONA_LABELS["business_sensitive"] == "业务敏感型" and PERSONA_LABELS["high_value"] == "高价值型"


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, pd.Series, PersonaModel]:
    X, truth = planted()
    return X, truth, PersonaModel(n_clusters=5, seed=0).fit(X)


def test_planted_groups_are_found_and_named_after_their_kind(fitted):
    X, truth, model = fitted
    found = pd.Series([model.persona_of_cluster_[c] for c in model.labels_], index=X.index)
    assert min(agreement(found, truth).values()) >= 0.9, agreement(found, truth)
    assert sorted(model.persona_of_cluster_.values()) == sorted(PERSONAS)  # each kind once
    assert model.cluster_centers_.shape == (5, len(MODEL_FEATURES))
    assert 0.3 < model.silhouette_ <= 1
    profile = model.profile_
    assert profile["size"].sum() == len(X) and set(profile["persona"]) == set(PERSONAS)
    by_persona = profile.set_index("persona")
    # The profile reads in raw units: the high-value cluster spends the most, and the
    # business-sensitive one complains the most and rates lowest.
    assert by_persona["spend"].idxmax() == "high_value"
    assert by_persona["complaints"].idxmax() == "business_sensitive"
    assert by_persona["survey_overall"].idxmin() == "business_sensitive"
    assert by_persona["fallback_share"].idxmax() == "needs_guidance"
    assert (profile["match"] > 0).sum() >= 4
    assert profile["label"].tolist() == [PERSONA_LABELS[p] for p in profile["persona"]]


def test_names_do_not_depend_on_the_seed_or_the_row_order(fitted):
    X, _, model = fitted
    first = model.predict(X)
    shuffled = X.sample(frac=1, random_state=3)
    second = PersonaModel(seed=11).fit_predict(shuffled)
    assert (first == second.reindex(first.index)).mean() >= 0.97


def test_predict_names_new_customers_like_the_training_ones(fitted):
    model = fitted[2]
    new, truth = planted(n_per=20, seed=5)
    new.index = truth.index = new.index + 10_000
    predicted = model.predict(new)
    assert predicted.index.equals(new.index) and predicted.name == "persona"
    assert min(agreement(predicted, truth).values()) >= 0.9
    # Columns the model does not use are ignored; their order does not matter either.
    extra = new.assign(wechat_share=0.5)[list(reversed(new.columns)) + ["wechat_share"]]
    assert model.predict(extra).equals(predicted)


def test_a_kind_no_cluster_shows_is_not_forced_on_anyone():
    """Without conversations nobody complains: no cluster may be called complaint-prone."""
    X, _ = planted()
    quiet = X.assign(contacts=0, contacts_change=0.0, complaints=0, negative_share=0.0, survey_overall=np.nan,
                     fallback_share=0.0, handoffs=0)
    model = PersonaModel().fit(quiet)
    named = set(model.persona_of_cluster_.values())
    assert not named & {"business_sensitive", "needs_guidance"}
    assert {"high_value", "high_potential", "ordinary"} <= named
    assert model.evidence_["business_sensitive"] == 0 and model.evidence_["high_value"] == 1
    assert np.isnan(model.scores_[:, PERSONAS.index("needs_guidance")]).all()  # orders alone: no verdict


def test_a_feature_nobody_has_yet_does_not_dilute_a_kind():
    """Before the sentiment job has run every negative share is 0; complaints still tell."""
    X, truth = planted()
    model = PersonaModel().fit(X.assign(negative_share=0.0))
    found = pd.Series([model.persona_of_cluster_[c] for c in model.labels_], index=X.index)
    assert min(agreement(found, truth).values()) >= 0.9
    assert model.evidence_["business_sensitive"] == pytest.approx(2.5 / 3.5)


def test_more_or_fewer_clusters_than_kinds():
    X, _ = planted()
    three = PersonaModel(n_clusters=3).fit(X)
    assert len(set(three.persona_of_cluster_.values())) == 3  # each kind at most once
    seven = PersonaModel(n_clusters=7).fit(X)
    assert set(seven.persona_of_cluster_) == set(range(7))
    assert set(seven.persona_of_cluster_.values()) <= set(PERSONAS)


def test_bad_input_is_refused():
    X, _ = planted(n_per=4)
    with pytest.raises(ValueError, match="no rows"):
        PersonaModel().fit(X.iloc[:0])
    with pytest.raises(ValueError, match="complaints"):
        PersonaModel().fit(X.drop(columns="complaints"))
    with pytest.raises(ValueError, match="at least 2"):
        PersonaModel(n_clusters=1).fit(X)
    with pytest.raises(ValueError, match="4 rows"):
        PersonaModel(n_clusters=5).fit(X.iloc[:4])
    with pytest.raises(ValueError, match="infinite"):
        PersonaModel().fit(X.assign(spend=np.inf))
    with pytest.raises(ValueError, match="DataFrame"):
        PersonaModel().fit(X.to_numpy())
    with pytest.raises(ValueError, match="not fitted"):
        PersonaModel().predict(X)


# --- tags --------------------------------------------------------------------------------

def one_customer(**values) -> dict:
    """An unremarkable customer's features, with ``values`` changed."""
    base = dict(recency_days=30.0, orders=3, spend=500.0, avg_order=166.67, tenure_days=200.0, orders_trend=0.0,
                contacts=1, contacts_change=0.0, complaints=0, negative_share=0.0, survey_overall=np.nan,
                survey_count=0, fallback_share=0.0, wechat_share=0.0, handoffs=0)
    assert set(base) == set(FEATURES)
    return {**base, **values}


@pytest.mark.parametrize("values, family, expected", [
    ({}, "complaint_risk", "低"),
    ({"complaints": 3}, "complaint_risk", "高"),
    ({"complaints": 1, "negative_share": 0.6}, "complaint_risk", "高"),
    ({"complaints": 1, "survey_overall": 2.0}, "complaint_risk", "高"),
    ({"complaints": 1}, "complaint_risk", "中"),
    ({"survey_overall": 2.5}, "complaint_risk", "中"),
    ({"negative_share": 0.3}, "complaint_risk", "中"),
    ({"wechat_share": 0.5}, "channel", "多渠道"),
    ({"wechat_share": 0.8}, "channel", "微信"),
    ({"wechat_share": 0.2}, "channel", "网页"),
    ({"wechat_share": np.nan}, "channel", "未知"),
    ({"survey_overall": 4.0}, "rating", "好评"),
    ({"survey_overall": 3.0}, "rating", "中评"),
    ({"survey_overall": 2.9}, "rating", "差评"),
    ({}, "rating", "未评价"),
    ({"contacts_change": 1.0}, "contact_change", "上升"),
    ({"contacts_change": 0.5}, "contact_change", "平稳"),
    ({"contacts_change": -1.5}, "contact_change", "下降"),
    ({}, "attributes", []),
    ({"spend": 2400.0, "orders": 12, "avg_order": 200.0, "tenure_days": 500.0}, "attributes",
     ["高消费", "高频", "老客"]),
    ({"tenure_days": 20.0, "orders": 1, "avg_order": 320.0, "spend": 320.0}, "attributes", ["高客单", "新客"]),
    ({"recency_days": 250.0, "orders": 0, "spend": 0.0, "avg_order": 0.0, "tenure_days": 400.0},
     "attributes", ["沉睡"]),
    ({"recency_days": NO_PURCHASE_RECENCY, "orders": 0, "handoffs": 2}, "attributes", ["未购买", "常转人工"]),
])
def test_tag_thresholds(values, family, expected):
    tags = tag_customers(pd.DataFrame([one_customer(**values)], index=[7]), ["ordinary"])
    assert tags.loc[7, family] == expected


def test_tags_have_six_families_follow_the_index_and_are_json():
    features = pd.DataFrame([one_customer(complaints=4, wechat_share=0.5), one_customer()], index=[5, 9])
    tags = tag_customers(features, pd.Series({9: "high_value", 5: "business_sensitive"}))
    assert list(tags.columns) == ["channel", "rating", "attributes", "contact_change", "complaint_risk", "cluster"]
    assert tags.loc[5, "cluster"] == "业务敏感型" and tags.loc[9, "cluster"] == "高价值型"
    as_dicts = tags.to_dict("index")
    assert json.loads(json.dumps(as_dicts, ensure_ascii=False))["5"]["complaint_risk"] == "高"
    assert tag_customers(features, [None, "ordinary"])["cluster"].tolist() == ["未分群", "普通型"]
    with pytest.raises(ValueError):
        tag_customers(features, ["ordinary"])


# --- from the database -------------------------------------------------------------------

@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def add_orders(db, customer, *orders) -> None:
    for status, amount, channel, days in orders:
        n = db.scalar(select(Order.id).order_by(Order.id.desc()).limit(1)) or 0
        db.add(Order(order_no=f"T{n + 1:08d}", customer_id=customer.id, status=status, amount=Decimal(amount),
                     channel=channel, placed_at=ago(days)))
        db.flush()


def add_conversation(db, customer, cid, channel, days, *, escalated=False, messages=()) -> None:
    db.add(Conversation(id=cid, customer_id=customer.id, channel=channel, started_at=ago(days),
                        last_activity_at=ago(days), escalated_at=ago(days) if escalated else None))
    for author, intent, template, sentiment in messages:
        db.add(Message(conversation_id=cid, direction="inbound" if author == "customer" else "outbound",
                       author=author, text="…", intent=intent, template=template, sentiment=sentiment,
                       created_at=ago(days)))
    db.flush()


def test_customer_features_from_orders_conversations_messages_and_surveys(db):
    a = Customer(display_name="甲", first_seen_at=ago(400))
    c = Customer(display_name="丙", first_seen_at=ago(3))
    db.add_all([a, c])
    db.flush()
    b = Customer(display_name="乙（已合并）", first_seen_at=ago(50), merged_into_id=a.id)
    db.add(b)
    db.flush()
    add_orders(db, a,
               ("paid", "100.00", "web", 10),  # last 90 days
               ("completed", "200.00", "wechat", 100),  # the 90 before
               ("delivered", "20.00", "web", 30),  # last 90 days
               ("delivered", "300.00", "wechat", 420),  # before the year; the first purchase
               ("cancelled", "999.00", "web", 5), ("refunded", "50.00", "wechat", 20),
               ("pending_payment", "70.00", "web", 1),  # none of these three is a purchase
               ("paid", "80.00", "web", -1))  # after ``now``: not yet
    add_orders(db, b, ("paid", "500.00", "web", 3))
    add_conversation(db, a, "c1", "wechat", 5, escalated=True, messages=[
        ("customer", "complain", None, "negative"), ("bot", None, "utter_default", None),
        ("bot", None, "utter_complain_noted", None), ("customer", "complain", None, "neutral"),
        ("staff", None, None, None)])
    add_conversation(db, a, "c2", "web", 40, messages=[
        ("customer", "greet", None, "positive"), ("bot", None, "utter_greet", None),
        ("customer", "greet", None, None)])
    add_conversation(db, a, "c3", "web", 80, escalated=True)
    add_conversation(db, a, "c4", "wechat", 200, escalated=True, messages=[  # beyond 180 days
        ("customer", "complain", None, "negative"), ("bot", None, "utter_default", None)])
    add_conversation(db, a, "c5", "web", 2)
    for cid, overall, days in (("c1", 2, 5), ("c2", 5, 40), ("c3", None, 80), ("c4", 1, 400)):
        db.add(Survey(conversation_id=cid, customer_id=a.id, channel="web", stage="new", trigger="goodbye",
                      status="completed", overall=overall, started_at=ago(days)))
    db.commit()

    f = customer_features(db, now=NOW)
    assert list(f.columns) == list(FEATURES)
    assert sorted(f.index) == sorted([a.id, c.id])  # the merged customer is left out
    got = f.loc[a.id].to_dict()
    assert got == pytest.approx(dict(
        recency_days=10, orders=3, spend=320, avg_order=106.67, tenure_days=420,
        orders_trend=(2 - 1) / (2 + 1 + 1),  # two in the last 90 days, one in the 90 before
        contacts=4,  # c1 c2 c3 c5
        contacts_change=2 - 2 / 2,  # c1 c5 in the last 30 days, c2 c3 in the 60 before
        complaints=2, negative_share=1 / 3,  # of three scored customer messages, one negative
        survey_overall=3.5, survey_count=2,  # 2 and 5; no answer and the old one don't count
        fallback_share=1 / 3,  # of the three bot replies in 180 days, one utter_default
        wechat_share=3 / 8,  # one of 3 orders and two of 5 conversations in the year
        handoffs=2), abs=0.01)
    empty = f.loc[c.id]
    assert empty["recency_days"] == NO_PURCHASE_RECENCY and empty["tenure_days"] == pytest.approx(3)
    assert empty[["orders", "spend", "avg_order", "orders_trend", "contacts", "contacts_change", "complaints",
                  "negative_share", "survey_count", "fallback_share", "handoffs"]].sum() == 0
    assert np.isnan(empty["survey_overall"]) and np.isnan(empty["wechat_share"])
    # A month earlier the same rows look different: the order of 10 days ago is still to come.
    earlier = customer_features(db, now=NOW - timedelta(days=15)).loc[a.id]
    assert earlier["orders"] == 2 and earlier["recency_days"] == pytest.approx(15)


class Recorder:
    def __init__(self) -> None:
        self.total: int | None = None
        self.steps: list[int] = []

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.steps.append(n)


def test_persona_job_writes_personas_tags_and_a_report(db):
    generate_demo_shop(db, customers=150, seed=3, now=NOW)
    buyers = db.scalars(select(Customer).where(Customer.stage.in_(("growing", "stable")))
                        .order_by(Customer.id)).all()
    complainers, lost = buyers[:12], db.scalars(select(Customer).where(Customer.stage == "new")
                                                .order_by(Customer.id)).all()[:12]
    for k, customer in enumerate(complainers):
        for j in range(3):
            add_conversation(db, customer, f"k{k}-{j}", "web", 3 + 8 * j, escalated=j == 0, messages=[
                ("customer", "complain", None, "negative"), ("bot", None, "utter_complain_noted", None)])
    for k, customer in enumerate(lost):
        for j in range(3):
            add_conversation(db, customer, f"g{k}-{j}", "wechat", 5 + 20 * j, escalated=True, messages=[
                ("customer", "nlu_fallback", None, "neutral"), ("bot", None, "utter_default", None),
                ("customer", "nlu_fallback", None, "neutral"), ("bot", None, "utter_default", None)])
    db.commit()

    progress = Recorder()
    counts = persona_job(db, progress, now=NOW)
    assert counts["customers"] == 150 and counts["clusters"] == 5 and counts["changed"] == 150
    assert progress.total == 150 and sum(progress.steps) == 150

    db.expire_all()
    customers = {c.id: c for c in db.scalars(select(Customer))}
    assert all(c.persona in PERSONAS and set(c.tags) == {"channel", "rating", "attributes", "contact_change",
                                                         "complaint_risk", "cluster"} for c in customers.values())
    assert all(customers[c.id].tags["cluster"] == PERSONA_LABELS[customers[c.id].persona] for c in buyers)
    assert all(customers[c.id].tags["complaint_risk"] == "高" for c in complainers)
    assert all("常转人工" in customers[c.id].tags["attributes"] for c in lost)
    assert sum(customers[c.id].persona == "business_sensitive" for c in complainers) >= 10
    assert sum(customers[c.id].persona == "needs_guidance" for c in lost) >= 10
    prospects = [c for c in customers.values() if c.stage == "prospect"]
    assert prospects and all(c.persona == "ordinary" and "未购买" in c.tags["attributes"] for c in prospects)

    report = db.scalars(select(AnalyticsReport).where(AnalyticsReport.kind == "personas")).one()
    assert sum(report.data["counts"].values()) == 150
    assert sum(p["size"] for p in report.data["profile"]) == counts["clustered"]
    assert 0 < report.data["silhouette"] <= 1
    assert "高价值型" in report.summary and "轮廓系数" in report.summary
    json.dumps(report.data, allow_nan=False)

    # A second run over the same data changes nothing, but reports again.
    assert persona_job(db, Recorder(), now=NOW)["changed"] == 0
    assert len(db.scalars(select(AnalyticsReport)).all()) == 2


def test_persona_job_skips_a_shop_too_small_to_cluster(db):
    generate_demo_shop(db, customers=30, seed=3, now=NOW)
    assert persona_job(db, Recorder(), now=NOW)["skipped"] == 1
    assert db.scalars(select(AnalyticsReport)).all() == []
    assert all(c.persona is None for c in db.scalars(select(Customer)))
