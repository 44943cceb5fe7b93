"""The personas job: reads every current customer's behaviour with set-based queries,
clusters and tags them (``analytics.personas``) and writes ``customers.persona`` and
``customers.tags`` and a report."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from analytics.personas import (CONTACT_DAYS, MODEL_FEATURES, PERSONA_LABELS, PERSONAS, RECENT_CONTACT_DAYS,
                                SERVICE_DAYS, TAG_FAMILIES, TREND_DAYS, YEAR_DAYS, PersonaModel,
                                features_from_frames, has_activity, tag_customers)
from api.db.base import utcnow
from api.domain.lifecycle import NOT_PURCHASES
from api.jobs.progress import Progress
from api.models import AnalyticsReport, Conversation, Customer, Message, Order, Survey
from api.services.escalation import FALLBACK_TEMPLATES


def _count(condition) -> object:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a conditional count inside a GROUP BY."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def customer_features(db: Session, now: datetime | None = None) -> pd.DataFrame:
    """One row of behaviour per current customer (not merged into another), indexed by
    customer id, as of ``now`` (naive UTC; default: the present): rows after ``now`` are
    ignored, so a past ``now`` gives what the features were then. The columns are
    defined in ``analytics.personas.features_from_frames``.

    Paid orders are those not in ``NOT_PURCHASES`` (pending payment, cancelled, refunded),
    as for the lifecycle stages. Five grouped queries in all, whatever the number of
    customers.
    """
    now = utcnow() if now is None else now
    ago = {d: now - timedelta(days=d) for d in (YEAR_DAYS, SERVICE_DAYS, 2 * TREND_DAYS, TREND_DAYS,
                                                CONTACT_DAYS, RECENT_CONTACT_DAYS)}
    conn = db.connection()

    customers = pd.read_sql(select(Customer.id, Customer.first_seen_at)
                            .where(Customer.merged_into_id.is_(None)), conn, index_col="id")

    paid, placed = Order.status.not_in(NOT_PURCHASES), Order.placed_at
    in_year = placed >= ago[YEAR_DAYS]
    orders = pd.read_sql(
        select(Order.customer_id.label("id"),
               func.min(placed).label("first_paid"),
               func.max(placed).label("last_paid"),
               _count(in_year).label("orders"),
               func.coalesce(func.sum(case((in_year, Order.amount), else_=0)), 0).label("spend"),
               _count(placed >= ago[TREND_DAYS]).label("orders_recent"),
               _count(and_(placed >= ago[2 * TREND_DAYS], placed < ago[TREND_DAYS])).label("orders_before"),
               _count(and_(in_year, Order.channel == "wechat")).label("wechat_orders"))
        .where(paid, placed <= now).group_by(Order.customer_id), conn, index_col="id")

    started = Conversation.started_at
    conversations = pd.read_sql(
        select(Conversation.customer_id.label("id"),
               _count(started >= ago[CONTACT_DAYS]).label("contacts"),
               _count(started >= ago[RECENT_CONTACT_DAYS]).label("contacts_recent"),
               _count(and_(started >= ago[CONTACT_DAYS], started < ago[RECENT_CONTACT_DAYS]))
               .label("contacts_before"),
               _count(started >= ago[YEAR_DAYS]).label("conversations_year"),
               _count(and_(started >= ago[YEAR_DAYS], Conversation.channel == "wechat"))
               .label("wechat_conversations"),
               _count(and_(started >= ago[SERVICE_DAYS], Conversation.escalated_at.is_not(None)))
               .label("handoffs"))
        .where(started <= now).group_by(Conversation.customer_id), conn, index_col="id")

    from_customer, from_bot = Message.author == "customer", Message.author == "bot"
    messages = pd.read_sql(
        select(Conversation.customer_id.label("id"),
               _count(and_(from_customer, Message.intent == "complain")).label("complaints"),
               _count(and_(from_customer, Message.sentiment == "negative")).label("negative"),
               _count(and_(from_customer, Message.sentiment.is_not(None))).label("scored"),
               _count(and_(from_bot, Message.template.in_(sorted(FALLBACK_TEMPLATES)))).label("fallbacks"),
               _count(from_bot).label("bot_replies"))
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Message.created_at >= ago[SERVICE_DAYS], Message.created_at <= now)
        .group_by(Conversation.customer_id), conn, index_col="id")

    surveys = pd.read_sql(
        select(Survey.customer_id.label("id"),
               func.avg(Survey.overall).label("survey_overall"),
               func.count(Survey.overall).label("survey_count"))
        .where(Survey.overall.is_not(None), Survey.started_at >= ago[YEAR_DAYS], Survey.started_at <= now)
        .group_by(Survey.customer_id), conn, index_col="id")
    return features_from_frames(customers, orders, conversations, messages, surveys, now)


MIN_PER_CLUSTER = 10  # fewer active customers than this × clusters: not enough to cluster
UPDATE_CHUNK = 2000


def _json_number(value: object) -> float | int | None:
    """NaN is no JSON: PostgreSQL refuses it. Round for a readable report."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (np.integer, int)):
        return int(value)
    return round(float(value), 4)


def persona_job(db: Session, progress: Progress, *, now: datetime | None = None, n_clusters: int = 5,
                seed: int = 0) -> dict[str, int]:
    """Recompute every current customer's persona and tags, and report the clusters.

    Customers with any activity are clustered; the others are ``ordinary``. Only rows
    whose persona or tags change are written, by primary key in chunks of
    ``UPDATE_CHUNK``, one commit per chunk. One ``AnalyticsReport`` of kind ``personas``
    keeps the cluster profiles, the silhouette and the counts per persona.

    Skipped (nothing written) with fewer than ``MIN_PER_CLUSTER × n_clusters`` active
    customers: K-means on a handful of people names noise.
    """
    features = customer_features(db, now)
    active = has_activity(features)
    if int(active.sum()) < MIN_PER_CLUSTER * n_clusters:
        return {"skipped": 1, "active": int(active.sum())}

    model = PersonaModel(n_clusters=n_clusters, seed=seed).fit(features[active])
    personas = pd.Series("ordinary", index=features.index, dtype=object)
    personas[active] = [model.persona_of_cluster_[int(c)] for c in model.labels_]
    tags = tag_customers(features, personas)
    tag_dicts, persona_of = tags.to_dict("index"), personas.to_dict()

    current = {row.id: (row.persona, row.tags or {}) for row in db.execute(
        select(Customer.id, Customer.persona, Customer.tags).where(Customer.merged_into_id.is_(None)))}
    ids = features.index.tolist()
    progress.set_total(len(ids))
    changed = 0
    for start in range(0, len(ids), UPDATE_CHUNK):
        chunk = ids[start:start + UPDATE_CHUNK]
        rows = [{"id": int(i), "persona": persona_of[i], "tags": tag_dicts[i]} for i in chunk
                if current.get(i) != (persona_of[i], tag_dicts[i])]
        if rows:
            db.execute(update(Customer), rows)
        db.commit()
        changed += len(rows)
        progress.advance(len(chunk))

    counts = {p: int((personas == p).sum()) for p in PERSONAS}
    profile = [{"cluster": int(c), "persona": r["persona"], "label": r["label"], "size": int(r["size"]),
                "share": _json_number(r["share"]), "match": _json_number(r["match"]),
                "means": {f: _json_number(r[f]) for f in MODEL_FEATURES}}
               for c, r in model.profile_.iterrows()]
    total = len(ids)
    shares = "、".join(f"{PERSONA_LABELS[p]} {counts[p] / total:.0%}" for p in PERSONAS if counts[p])
    silhouette = _json_number(model.silhouette_)
    summary = (f"{total} 位客户分为 {n_clusters} 群（{int(active.sum())} 位有行为数据参与聚类，"
               f"轮廓系数 {model.silhouette_:.2f}）：{shares}")
    db.add(AnalyticsReport(kind="personas", summary=summary, data={
        "profile": profile, "silhouette": silhouette, "counts": counts,
        "evidence": {p: round(v, 3) for p, v in model.evidence_.items()},
        "customers": total, "clustered": int(active.sum()),
        "tags": {family: _tag_counts(tags[family]) for family in TAG_FAMILIES}}))
    db.commit()
    return {"customers": total, "changed": changed, "clusters": n_clusters, "clustered": int(active.sum())}


def _tag_counts(column: pd.Series) -> dict[str, int]:
    """How many customers carry each value of one tag family (attributes: each attribute)."""
    values = column.explode() if column.map(lambda v: isinstance(v, list)).any() else column
    return {str(k): int(v) for k, v in values.dropna().value_counts().items()}
