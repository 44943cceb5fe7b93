"""The loop job: the outcomes of each reply variant and offer → the weights each stage
uses (``analytics.loop``: Thompson sampling with an exploration floor), under admins'
pins and vetoes (``api.services.loop_policy``)."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.loop import LoopConfig, choose_weights, outcome_reward, summarize_choice
from api.core.config import get_settings
from api.db.base import utcnow
from api.jobs.progress import Progress
from api.jobs.purchases import window_outcome
from api.models import AnalyticsReport, Conversation, LoopChoice, Message, Offer, OfferIssuance, ReplyVariant, Survey
from api.models.customer import STAGES
from api.services import loop_policy


def _rewards(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([outcome_reward(o, s, r) for o, s, r in
                      zip(frame["overall"], frame["sentiment_after"], frame["repurchased"])], index=frame.index,
                     dtype="float64")


def variant_outcomes(db: Session, since) -> pd.DataFrame:
    """One row per bot message said with a variant: the survey's overall score of its
    conversation, P(positive) of the customer's next message, repurchase within 30 days."""
    said = pd.read_sql(select(Message.id, Message.conversation_id, Message.variant_id, Message.created_at,
                              Conversation.customer_id, Survey.overall)
                       .join(Conversation, Conversation.id == Message.conversation_id)
                       .outerjoin(Survey, Survey.conversation_id == Message.conversation_id)
                       .where(Message.variant_id.is_not(None), Message.created_at >= since), db.connection())
    if said.empty:
        return said.assign(reward=pd.Series(dtype="float64"))
    answers = pd.read_sql(select(Message.id.label("next_id"), Message.conversation_id,
                                 Message.sentiment_score.label("sentiment_after"))
                          .where(Message.author == "customer", Message.created_at >= since,
                                 Message.sentiment_score.is_not(None)), db.connection())
    said = pd.merge_asof(said.sort_values("id"), answers.sort_values("next_id"), left_on="id", right_on="next_id",
                         by="conversation_id", direction="forward")
    said["repurchased"] = window_outcome(db, said, "created_at", 30)
    said["reward"] = _rewards(said)
    return said


def offer_outcomes(db: Session, since) -> pd.DataFrame:
    given = pd.read_sql(select(OfferIssuance.offer_id, OfferIssuance.stage, OfferIssuance.customer_id,
                               OfferIssuance.issued_at, Offer.priority, Survey.overall)
                        .join(Offer, Offer.id == OfferIssuance.offer_id)
                        .outerjoin(Survey, Survey.conversation_id == OfferIssuance.conversation_id)
                        .where(OfferIssuance.trigger == "chat", OfferIssuance.issued_at >= since), db.connection())
    if given.empty:
        return given.assign(reward=pd.Series(dtype="float64"))
    given["sentiment_after"] = None
    given["repurchased"] = window_outcome(db, given, "issued_at", 30)
    given["reward"] = _rewards(given)
    return given


def _arms(rows: list[tuple[str, int, str]], outcomes: pd.DataFrame) -> pd.DataFrame:
    """(group, arm, mode) rows joined with the n and reward sum observed for them in
    ``outcomes`` (columns group, arm, reward); arms never measured get n = 0."""
    arms = pd.DataFrame(rows, columns=["group", "arm", "mode"])
    seen = (outcomes.dropna(subset=["group", "reward"]).groupby(["group", "arm"])["reward"]
            .agg(n="count", reward_sum="sum").reset_index())
    merged = arms.merge(seen, on=["group", "arm"], how="left")
    return merged.assign(n=merged["n"].fillna(0).astype(int), reward_sum=merged["reward_sum"].fillna(0.0))


def loop(db: Session, progress: Progress) -> dict[str, int]:
    """Reads ``HX_LOOP_WINDOW_DAYS`` of outcomes, lets analytics/loop.py weigh every group's alternatives
    (Thompson sampling with an exploration floor; admins' pins and vetoes respected),
    writes the weights the bot uses and what was chosen and why."""
    settings = get_settings()
    now = utcnow()
    since = now - timedelta(days=settings.loop_window_days)
    config = LoopConfig(exploration=settings.loop_exploration)
    progress.set_total(3)

    variants = db.scalars(select(ReplyVariant).where(ReplyVariant.enabled.is_(True))).all()
    group_of = {v.id: loop_policy.variant_group(v.template, v.stage, v.persona) for v in variants}
    outcomes = variant_outcomes(db, since).rename(columns={"variant_id": "arm"})
    outcomes["group"] = outcomes["arm"].map(group_of)  # NaN: a variant disabled since
    arms = _arms([(group_of[v.id], v.id, v.loop_mode) for v in variants], outcomes)
    variant_weights = choose_weights(arms, config) if not arms.empty else arms
    progress.advance()

    offers = db.scalars(select(Offer).where(Offer.enabled.is_(True), Offer.trigger == "chat")).all()
    # Only offers of one priority compete (offers.choose_offer): one group per stage and priority.
    offer_rows = [(loop_policy.offer_group(stage, o.priority), o.id, o.loop_mode)
                  for o in offers for stage in (o.stages or STAGES)]
    given = offer_outcomes(db, since)
    given["group"] = [loop_policy.offer_group(stage, priority)
                      for stage, priority in zip(given["stage"], given["priority"])]
    arms = _arms(offer_rows, given.rename(columns={"offer_id": "arm"}))
    offer_weights = choose_weights(arms, config) if not arms.empty else arms
    progress.advance()

    by_id = {v.id: v for v in variants}
    changed = 0
    for row in variant_weights[loop_policy.loop_may_write(variant_weights)].itertuples(index=False):
        variant = by_id[row.arm]
        if abs(variant.weight - row.weight) > 1e-6:
            # The bot ignores weight 0; an arm the loop starves (no exploration) stays barely alive.
            variant.weight, changed = max(float(row.weight), 1e-4), changed + 1
    offer_by_id = {o.id: o for o in offers}
    for row in offer_weights[loop_policy.loop_may_write(offer_weights)].itertuples(index=False):
        offer, stage = offer_by_id[row.arm], loop_policy.group_stage(row.group)
        weights = dict(offer.stage_weights or {})
        if abs(weights.get(stage, 1.0) - row.weight) > 1e-6:
            weights[stage] = float(row.weight)
            offer.stage_weights, changed = weights, changed + 1
    for kind, frame in (("variant", variant_weights), ("offer", offer_weights)):
        db.add_all(LoopChoice(kind=kind, group_key=r.group, stage=loop_policy.group_stage(r.group),
                              arm_id=int(r.arm),
                              mode=r.mode, observations=int(r.n), mean_reward=float(r.mean), p_best=float(r.p_best),
                              weight=float(r.weight), explanation=r.explanation, computed_at=now)
                   for r in frame.itertuples(index=False))
    groups = pd.concat([summarize_choice(f) for f in (variant_weights, offer_weights) if not f.empty]) \
        if not (variant_weights.empty and offer_weights.empty) else pd.DataFrame()
    db.add(AnalyticsReport(kind="loop", created_at=now,
                           data={"groups": len(groups), "changed": changed, "window_days": settings.loop_window_days,
                                 "exploration": config.exploration,
                                 "outcomes": {"variants": int(outcomes["reward"].notna().sum()),
                                              "offers": int(given["reward"].notna().sum())}},
                           summary=f"{len(groups)} 个分组，按近 {settings.loop_window_days} 天的结果调整了 {changed} 个权重"))
    progress.advance()
    return {"groups": len(groups), "arms": len(variant_weights) + len(offer_weights), "changed": changed,
            "outcomes": int(outcomes["reward"].notna().sum() + given["reward"].notna().sum())}
