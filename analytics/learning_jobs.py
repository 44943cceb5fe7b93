"""The analytics jobs that close the loop (patent step 5), in the order they run at night:

    sentiment       new customer messages and survey comments → positive/neutral/negative
    personas        K-means personas and the six tag families (analytics/personas.py)
    association     product rules ("also bought") and conversation facts → NPS / repurchase
    step-scores     a network (or linear model) predicting satisfaction scores each service
                    step; PSO-BP was compared and did not earn its place (analytics/steps.py)
    loop            outcomes of each reply variant and offer → the weights each stage uses

Each reads with set-based queries into DataFrames, calls the pure functions of its
module and writes results back; the numbers it returns are recorded in ``job_runs``.
"""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from analytics import association as assoc
from analytics.jobs import Progress, job
from analytics.loop import LoopConfig, choose_weights, outcome_reward, summarize_choice
from api.core.config import get_settings
from api.db.base import utcnow
from api.models import (
    AnalyticsReport,
    AssociationRule,
    Conversation,
    LoopChoice,
    Message,
    Offer,
    OfferIssuance,
    Order,
    OrderItem,
    Product,
    ReplyVariant,
    Survey,
)
from api.models.customer import STAGES
from api.services.lifecycle import NOT_PURCHASES
from api.services.survey_questions import nps_class

# The order of the night (their crontabs follow it): each job reads what the one before wrote.
ANALYTICS_ORDER = ("sentiment", "personas", "association", "step-scores", "loop")
SENTIMENT_CHUNK = 2000


@job("sentiment", schedule=lambda s: s.sentiment_cron,
     description="classify the sentiment of new customer messages and survey comments")
def sentiment(db: Session, progress: Progress) -> dict[str, int]:
    """Only rows not classified yet, so an hourly run costs what arrived in the hour.
    Survey answers typed in chat ("5", "跳过") are not opinions and are skipped."""
    from analytics.sentiment import get_classifier

    classifier = get_classifier()
    todo_messages = (Message.author == "customer", Message.sentiment.is_(None),
                     Message.intent.is_distinct_from("survey_answer"))
    todo_comments = (Survey.comment.is_not(None), Survey.comment_sentiment.is_(None))
    progress.set_total((db.scalar(select(func.count()).select_from(Message).where(*todo_messages)) or 0)
                       + (db.scalar(select(func.count()).select_from(Survey).where(*todo_comments)) or 0))
    counts = {"messages": 0, "comments": 0, "negative": 0}
    for model, text_col, label_col, score_col, where, key in (
            (Message, Message.text, "sentiment", "sentiment_score", todo_messages, "messages"),
            (Survey, Survey.comment, "comment_sentiment", "comment_score", todo_comments, "comments")):
        last_id = 0
        while True:
            rows = db.execute(select(model.id, text_col).where(*where, model.id > last_id)
                              .order_by(model.id).limit(SENTIMENT_CHUNK)).all()
            if not rows:
                break
            last_id = rows[-1][0]
            verdicts = classifier.classify([text for _, text in rows])
            db.execute(update(model), [{"id": row_id, label_col: v.label, score_col: float(v.score)}
                                       for (row_id, _), v in zip(rows, verdicts)])
            db.commit()
            counts[key] += len(rows)
            counts["negative"] += sum(v.label == "negative" for v in verdicts)
            progress.advance(len(rows))
    return counts


# personas and steps import scikit-learn and torch: only when they run, so the web
# process, which reads this registry for the console, does not load them.
@job("personas", schedule=lambda s: s.personas_cron,
     description="cluster customers into five personas and tag them (six tag families)")
def personas(db: Session, progress: Progress) -> dict[str, int]:
    from analytics.personas import persona_job

    return persona_job(db, progress)


@job("step-scores", schedule=lambda s: s.step_scores_cron,
     description="score each service step from a satisfaction model (PSO-BP compared); flag the weakest")
def step_scores(db: Session, progress: Progress) -> dict[str, int]:
    from analytics.steps import step_scoring_job

    return step_scoring_job(db, progress)


# --- association rules ------------------------------------------------------------------

def _buckets(score: float | None) -> str | None:
    if score is None or pd.isna(score):
        return None
    return "low" if score <= 2 else "mid" if score == 3 else "high"


def order_baskets(db: Session) -> pd.DataFrame:
    """One row per (paid order, product name)."""
    query = (select(OrderItem.order_id.label("transaction_id"), Product.name.label("item"))
             .join(Order, Order.id == OrderItem.order_id).join(Product, Product.id == OrderItem.product_id)
             .where(Order.status.not_in(NOT_PURCHASES)))
    return pd.read_sql(query, db.connection())


def conversation_facts(db: Session, repurchase_days: int = 60) -> pd.DataFrame:
    """One row per (surveyed conversation, fact): stage, persona, indicator buckets, offer
    made, handoff, comment sentiment; outcomes NPS class and repurchase within the window."""
    surveys = pd.read_sql(
        select(Survey.conversation_id, Survey.customer_id, Survey.stage, Survey.persona, Survey.quality,
               Survey.service, Survey.value, Survey.innovation, Survey.nps, Survey.comment_sentiment,
               Survey.started_at, Conversation.escalated_at)
        .join(Conversation, Conversation.id == Survey.conversation_id)
        .where(Survey.status != "declined"), db.connection())
    if surveys.empty:
        return pd.DataFrame(columns=["transaction_id", "item"])
    offers = pd.read_sql(select(OfferIssuance.conversation_id, Offer.code)
                         .join(Offer, Offer.id == OfferIssuance.offer_id)
                         .where(OfferIssuance.conversation_id.is_not(None)), db.connection())
    offer_of = offers.drop_duplicates("conversation_id").set_index("conversation_id")["code"]
    surveys["offer"] = surveys["conversation_id"].map(offer_of).fillna("none")
    surveys["repurchased"] = _bought_within(db, surveys, "started_at", repurchase_days)
    now = utcnow()
    facts = {
        "stage": surveys["stage"], "persona": surveys["persona"],
        **{k: surveys[k].map(_buckets) for k in ("quality", "service", "value", "innovation")},
        "offer": surveys["offer"], "handoff": surveys["escalated_at"].notna().map({True: "yes", False: "no"}),
        "sentiment": surveys["comment_sentiment"], "nps": surveys["nps"].map(
            lambda x: None if pd.isna(x) else nps_class(int(x))),
        # Unknown until the window has passed, unless the customer already came back.
        "repurchase": surveys["repurchased"].where(
            surveys["repurchased"] | (surveys["started_at"] + timedelta(days=repurchase_days) <= now))
        .map({True: "yes", False: "no"}),
    }
    long = pd.concat([pd.DataFrame({"transaction_id": surveys["conversation_id"],
                                    "item": name + "=" + values.astype("string")})
                      for name, values in facts.items()])
    return long.dropna()


def _bought_within(db: Session, frame: pd.DataFrame, at_col: str, days: int) -> pd.Series:
    """For each row (customer_id, at_col): a paid order within ``days`` after it."""
    orders = pd.read_sql(select(Order.customer_id, Order.placed_at)
                         .where(Order.status.not_in(NOT_PURCHASES),
                                Order.placed_at >= frame[at_col].min().to_pydatetime()),
                         db.connection()).sort_values("placed_at")
    left = frame[["customer_id", at_col]].reset_index().sort_values(at_col)
    if orders.empty:
        return pd.Series(False, index=frame.index)
    matched = pd.merge_asof(left, orders, left_on=at_col, right_on="placed_at", by="customer_id",
                            direction="forward", allow_exact_matches=False)
    within = matched["placed_at"].notna() & (matched["placed_at"] - matched[at_col] <= timedelta(days=days))
    return pd.Series(within.to_numpy(), index=matched["index"]).reindex(frame.index).astype(bool)


def _store_rules(db: Session, kind: str, rules: pd.DataFrame, now) -> None:
    db.execute(delete(AssociationRule).where(AssociationRule.kind == kind))
    db.add_all(AssociationRule(kind=kind, rank=i, antecedents=sorted(r.antecedents), consequents=sorted(r.consequents),
                               support=float(r.support), confidence=float(r.confidence), lift=float(r.lift),
                               computed_at=now)
               for i, r in enumerate(rules.itertuples(index=False), start=1))


@job("association", schedule=lambda s: s.association_cron,
     description="mine association rules: products bought together, conversation facts → NPS / repurchase")
def association(db: Session, progress: Progress) -> dict[str, int]:
    settings = get_settings()
    progress.set_total(4)
    now = utcnow()
    baskets = assoc.clean_transactions(order_baskets(db))
    progress.advance()
    counts = {"orders": int(baskets["transaction_id"].nunique()), "basket_rules": 0,
              "conversations": 0, "conversation_rules": 0}
    report: dict = {"cleaning": {"baskets": baskets.attrs.get("cleaning", {})}}
    if counts["orders"]:
        support = settings.rules_min_support
        rules = assoc.mine_rules(baskets, support, settings.rules_min_confidence, settings.rules_min_lift,
                                 max_antecedent_len=2, top=settings.rules_keep)
        _store_rules(db, "basket", rules, now)
        counts["basket_rules"] = len(rules)
        report["basket"] = {"min_support": support, "min_confidence": settings.rules_min_confidence,
                            "min_lift": settings.rules_min_lift}
    progress.advance()
    facts = assoc.clean_transactions(conversation_facts(db)) if db.scalar(select(func.count(Survey.id))) else None
    progress.advance()
    if facts is not None and not facts.empty:
        counts["conversations"] = int(facts["transaction_id"].nunique())
        outcome = dict(consequent_prefixes=("nps=", "repurchase="), max_antecedent_len=2, top=settings.rules_keep)
        support = assoc.tune_min_support(facts, target_rules=(10, settings.rules_keep), min_confidence=0.3,
                                          min_lift=1.1, **outcome)
        rules = assoc.mine_rules(facts, support, 0.3, 1.1, **outcome)
        _store_rules(db, "conversation", rules, now)
        counts["conversation_rules"] = len(rules)
        report["cleaning"]["conversations"] = facts.attrs.get("cleaning", {})
        report["conversation"] = {"min_support": support, "min_confidence": 0.3, "min_lift": 1.1}
    progress.advance()
    db.add(AnalyticsReport(kind="rules", data=report, created_at=now,
                           summary=f"{counts['orders']} 笔订单得出 {counts['basket_rules']} 条商品关联规则；"
                                   f"{counts['conversations']} 次会话得出 {counts['conversation_rules']} 条满意度规则"))
    return counts


# --- the loop ---------------------------------------------------------------------------

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
    said["repurchased"] = _window_outcome(db, said, "created_at", 30)
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
    given["repurchased"] = _window_outcome(db, given, "issued_at", 30)
    given["reward"] = _rewards(given)
    return given


def _window_outcome(db: Session, frame: pd.DataFrame, at_col: str, days: int) -> pd.Series:
    """Bought within ``days``: True/False, or None while the window is still open."""
    bought = _bought_within(db, frame, at_col, days)
    closed = frame[at_col] + timedelta(days=days) <= utcnow()
    return bought.where(bought | closed, None).astype(object)


def _arms(rows: list[tuple[str, int, str]], outcomes: pd.DataFrame) -> pd.DataFrame:
    """(group, arm, mode) rows joined with the n and reward sum observed for them in
    ``outcomes`` (columns group, arm, reward); arms never measured get n = 0."""
    arms = pd.DataFrame(rows, columns=["group", "arm", "mode"])
    seen = (outcomes.dropna(subset=["group", "reward"]).groupby(["group", "arm"])["reward"]
            .agg(n="count", reward_sum="sum").reset_index())
    merged = arms.merge(seen, on=["group", "arm"], how="left")
    return merged.assign(n=merged["n"].fillna(0).astype(int), reward_sum=merged["reward_sum"].fillna(0.0))


def _offer_group(stage: str, priority: int) -> str:
    return f"offer|{stage}|{priority}"


def _loop_decides(weights: pd.DataFrame) -> pd.Series:
    """Rows whose weight the loop may write: auto arms of groups no admin pinned."""
    pinned = weights.loc[weights["mode"] == "pinned", "group"]
    return (weights["mode"] == "auto") & ~weights["group"].isin(pinned)


@job("loop", schedule=lambda s: s.loop_cron,
     description="choose each stage's reply variants and offers from measured outcomes")
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
    group_of = {v.id: f"{v.template}|{v.stage}|{v.persona or '*'}" for v in variants}
    outcomes = variant_outcomes(db, since).rename(columns={"variant_id": "arm"})
    outcomes["group"] = outcomes["arm"].map(group_of)  # NaN: a variant disabled since
    arms = _arms([(group_of[v.id], v.id, v.loop_mode) for v in variants], outcomes)
    variant_weights = choose_weights(arms, config) if not arms.empty else arms
    progress.advance()

    offers = db.scalars(select(Offer).where(Offer.enabled.is_(True), Offer.trigger == "chat")).all()
    # Only offers of one priority compete (offers.choose_offer): one group per stage and priority.
    offer_rows = [(_offer_group(stage, o.priority), o.id, o.loop_mode) for o in offers for stage in (o.stages or STAGES)]
    given = offer_outcomes(db, since)
    given["group"] = [_offer_group(stage, priority) for stage, priority in zip(given["stage"], given["priority"])]
    arms = _arms(offer_rows, given.rename(columns={"offer_id": "arm"}))
    offer_weights = choose_weights(arms, config) if not arms.empty else arms
    progress.advance()

    by_id = {v.id: v for v in variants}
    changed = 0
    for row in variant_weights[_loop_decides(variant_weights)].itertuples(index=False):
        variant = by_id[row.arm]
        if abs(variant.weight - row.weight) > 1e-6:
            # The bot ignores weight 0; an arm the loop starves (no exploration) stays barely alive.
            variant.weight, changed = max(float(row.weight), 1e-4), changed + 1
    offer_by_id = {o.id: o for o in offers}
    for row in offer_weights[_loop_decides(offer_weights)].itertuples(index=False):
        offer, stage = offer_by_id[row.arm], row.group.split("|")[1]
        weights = dict(offer.stage_weights or {})
        if abs(weights.get(stage, 1.0) - row.weight) > 1e-6:
            weights[stage] = float(row.weight)
            offer.stage_weights, changed = weights, changed + 1
    for kind, frame in (("variant", variant_weights), ("offer", offer_weights)):
        db.add_all(LoopChoice(kind=kind, group_key=r.group, stage=r.group.split("|")[1], arm_id=int(r.arm),
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
