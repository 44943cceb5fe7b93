"""The step-scores job: reads the surveyed conversations' steps from the database, fits
the model the comparison chose (``analytics.steps.chosen_model``) and writes a score per
service step (``step_scores``) and a report.

The features and the scoring are pure (``analytics/steps.py``); this module holds the
set-based queries and the writes.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select
from sklearn.model_selection import train_test_split
from sqlalchemy.orm import Session

from analytics import steps as step_model
from analytics.steps import (FEATURES, MAX_FIT_ROWS, MIN_CONVERSATIONS, MODEL_NAMES, TARGET, build_model,
                             chosen_model, features_from_frames, holdout_metrics, step_effects)
from api.db.base import utcnow
from api.jobs.progress import Progress
from api.models import AnalyticsReport, Conversation, Message, StepScore, Survey

log = logging.getLogger(__name__)

TEST_SIZE = 0.25  # the share held out to measure the model in use

BATCH_CONVERSATIONS = 20_000  # step_features reads the messages of this many at a time


def step_features(db: Session) -> pd.DataFrame:
    """One row per conversation whose survey has an ``overall`` answer.

    Columns: ``conversation_id``, ``stage`` (the customer's, from the survey), the
    ``FEATURES`` below and ``overall`` (the target). Message order is by id.

    - greeting__seconds: conversation start → first bot reply.
    - greeting__personal: 1 when that first bot reply was a stage variant (variant_id set).
    - identification__turns: customer messages before the first one whose intent says
      what they want (an intent other than greet / nlu_fallback / none); all customer
      messages when none ever did.
    - identification__fallbacks: bot ``utter_default`` replies before that message.
    - answer__fallbacks: ``utter_default`` replies after it.
    - answer__confidence: mean intent confidence of the customer's messages.
    - answer__reply_seconds: mean delay from a customer message to the next bot or staff
      message (system notices do not count as an answer).
    - handoff_wait__escalated: 1 when the conversation was ever escalated.
    - handoff_wait__seconds: escalated_at → claimed_at; when escalated and never
      claimed, escalated_at → the last message (the customer waited all that time and
      nobody came, which must not look like a zero wait); 0 when not escalated.
    - resolution__seconds: start → last message.
    - resolution__staff_replies: messages written by staff.
    - resolution__sentiment_change: last scored customer message's P(positive) minus
      the first one's; 0 when no message is scored yet (no evidence either way).
    - survey__answered: share of the 7 survey answers given (overall, quality,
      service, value, innovation, nps, a non-empty comment).

    Missing values get a neutral fill, one that neither helps nor hurts the
    conversation relative to the others: counts, flags and the sentiment change 0;
    greeting__seconds (no bot reply at all), answer__confidence (no classified
    message) and answer__reply_seconds (nothing answered) the median of the
    conversations that have one (0, 1.0 and 0 when none has).

    Set-based queries, then pandas group-bys, never a query per conversation: one for
    the surveyed conversations, then one for the messages of each batch of
    ``BATCH_CONVERSATIONS`` of them (a range of conversation ids, only the columns
    needed), so memory stays bounded at 100k+ conversations: about 1 GB per million
    messages while a batch is read, hence batches of 20 000 conversations.
    """
    has_comment = case((func.length(func.trim(func.coalesce(Survey.comment, ""))) > 0, 1), else_=0)
    conversations = pd.read_sql(
        select(Conversation.id.label("conversation_id"), Survey.stage, Conversation.started_at,
               Conversation.escalated_at, Conversation.claimed_at, Survey.overall, Survey.quality,
               Survey.service, Survey.value, Survey.innovation, Survey.nps, has_comment.label("has_comment"))
        .join(Survey, Survey.conversation_id == Conversation.id)
        .where(Survey.overall.is_not(None))
        .order_by(Conversation.id),
        db.connection())
    messages = (select(Message.conversation_id, Message.id, Message.author, Message.intent,
                       Message.intent_confidence, Message.template, Message.variant_id, Message.sentiment_score,
                       Message.created_at)
                .join(Survey, Survey.conversation_id == Message.conversation_id)
                .where(Survey.overall.is_not(None))
                .order_by(Message.conversation_id, Message.id))
    parts = []
    # Batches are ranges of ids in the database's own order (the query above sorted them).
    for start in range(0, max(len(conversations), 1), BATCH_CONVERSATIONS):
        batch = conversations.iloc[start:start + BATCH_CONVERSATIONS]
        query = messages
        if len(batch):
            query = query.where(Message.conversation_id.between(batch["conversation_id"].iloc[0],
                                                                batch["conversation_id"].iloc[-1]))
        parts.append(features_from_frames(batch, pd.read_sql(query, db.connection())))
    frame = pd.concat(parts, ignore_index=True)
    for column, default in (("greeting__seconds", 0.0), ("answer__confidence", 1.0),
                            ("answer__reply_seconds", 0.0)):
        median = frame[column].median()
        frame[column] = frame[column].fillna(default if pd.isna(median) else median)
    return frame


def _json_effects(effects: list[dict]) -> list[dict]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (float, np.floating)):
            return round(float(value), 4) if math.isfinite(value) else None
        return value
    return [clean(e) for e in effects]


DETAIL_KEYS = ("label", "predicted", "fixed_predicted", "step_value", "best_value", "worst_value", "features")


def step_scoring_job(db: Session, progress: Progress) -> dict[str, int]:
    """Score the service steps from the surveyed conversations.

    With fewer than ``MIN_CONVERSATIONS`` surveys with an ``overall`` answer nothing new
    is stored (the previous scores stay what the console shows) and the counts say
    ``skipped`` 1. Otherwise:

    1. fit ``chosen_model(n)`` on all conversations (a random sample of ``MAX_FIT_ROWS``
       when there are more) and score the steps with ``step_effects``;
    2. write one ``StepScore`` per step, sharing one ``computed_at``, and one
       ``AnalyticsReport(kind="steps")`` whose summary names the weakest step.

    Only the chosen model is fitted. Why not PSO-BP, the patent's model: it did not earn
    its place in ``analytics.experiments.steps_report`` (docs/step-scoring.md, 10 seeds
    at 300, 1000, 2000 and 10 000 conversations), which compares all four candidates.
    PSO does find far better starting weights than random ones, but after BP fine-tuning
    the held-out error of PSO-BP is never significantly better than that of three random
    restarts given the same budget of network evaluations, and at 1000 conversations it
    is significantly worse (PSO drives the training loss lower and overfits). Below 2000
    conversations Ridge is as good as any network or better (at 300, clearly), so the job
    uses Ridge there and BP with random restarts from 2000 on (``chosen_model``; torch
    is loaded only then). The choice is fixed rather than re-made from each run's noisy
    hold-out, so successive runs score with the same kind of model.

    Nothing is committed here; run_job commits when the job returns.
    """
    progress.set_total(4)
    frame = step_features(db)
    progress.advance()
    n = len(frame)
    if n < MIN_CONVERSATIONS:
        log.info("step scoring skipped: %d surveyed conversations, need %d", n, MIN_CONVERSATIONS)
        return {"conversations": n, "steps": 0, "reports": 0, "skipped": 1}
    if n > MAX_FIT_ROWS:
        frame = frame.sample(MAX_FIT_ROWS, random_state=0)

    chosen = chosen_model(n)
    # How well the model in use predicts conversations it did not see (the console shows
    # it): drift in real data shows here first. Then the same model on every conversation.
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=0)
    fit = {chosen: holdout_metrics(build_model(chosen, seed=0), train, test)}
    progress.advance()
    model = build_model(chosen, seed=0)
    model.fit(frame[list(FEATURES)], frame[TARGET])
    progress.advance()

    effects = _json_effects(step_effects(model, frame))
    computed_at = utcnow()
    for e in effects:
        db.add(StepScore(step=e["step"], score=e["score"], impact=e["impact"], weakest=e["weakest"],
                         conversations=n, model=chosen, computed_at=computed_at,
                         detail={k: e[k] for k in DETAIL_KEYS}))
    weakest = [e for e in effects if e["weakest"]]
    if weakest:
        labels = "、".join(f"「{e['label']}」" for e in weakest)
        summary = (f"服务环节评分（{n} 个会话，{MODEL_NAMES[chosen]}）：最薄弱的环节是{labels}，"
                   f"改善后满意度预计可提升 {weakest[0]['impact']:.2f} 分")
    else:
        summary = (f"服务环节评分（{n} 个会话，{MODEL_NAMES[chosen]}）："
                   "各环节对满意度的影响都很小，没有明显的薄弱环节")
    db.add(AnalyticsReport(kind="steps", summary=summary, created_at=computed_at, data={
        "conversations": n,
        "fitted_rows": len(frame),
        "features": list(FEATURES),
        "model": chosen,
        "model_rule": {"linear_below": step_model.LINEAR_BELOW, "network": step_model.NETWORK_MODEL},
        "test_size": TEST_SIZE,
        "comparison": fit,
        "satisfaction_mean": round(float(frame[TARGET].mean()), 4),
        "steps": [{k: e[k] for k in ("step", "label", "score", "impact", "weakest")} for e in effects],
    }))
    db.flush()
    progress.advance()
    return {"conversations": n, "steps": len(effects), "reports": 1, "skipped": 0}
