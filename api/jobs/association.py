"""The association job: product rules ("also bought", read by ``api.services.recommendations``)
and conversation facts → NPS / repurchase rules, mined by ``analytics.association``."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from analytics import association as assoc
from api.core.config import get_settings
from api.db.base import utcnow
from api.jobs.progress import Progress
from api.jobs.purchases import bought_within
from api.models import (AnalyticsReport, AssociationRule, Conversation, Offer, OfferIssuance, Order, OrderItem, Product,
                        Survey)
from api.domain.lifecycle import NOT_PURCHASES
from api.domain.survey_questions import nps_class


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
    surveys["repurchased"] = bought_within(db, surveys, "started_at", repurchase_days)
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


def _store_rules(db: Session, kind: str, rules: pd.DataFrame, now) -> None:
    db.execute(delete(AssociationRule).where(AssociationRule.kind == kind))
    db.add_all(AssociationRule(kind=kind, rank=i, antecedents=sorted(r.antecedents), consequents=sorted(r.consequents),
                               support=float(r.support), confidence=float(r.confidence), lift=float(r.lift),
                               computed_at=now)
               for i, r in enumerate(rules.itertuples(index=False), start=1))


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
