"""When a bot conversation goes to a person (issue: human handoff).

    handoff_requested   the bot said utter_handoff: the customer asked for a person,
                        agreed to one after a complaint, or an action failed
    repeated_fallback   the bot did not understand twice in a row
    priority_complaint  a complaint from an at-risk, stable or high-value customer
    strongly_negative   a complaint whose text is strongly negative
    bot_unavailable     Rasa failed, timed out or said nothing (decided in turns.py)

The negativity score comes from SnowNLP's sentiment model for now; on held-out shop
messages it also scores some neutral questions low, so on its own it only counts for
messages Rasa already took for complaints. The analytics issue compares classifiers and
plugs in the best one here.
"""
from __future__ import annotations

import threading

FALLBACK_TEMPLATES = frozenset({"utter_default"})
HANDOFF_TEMPLATE = "utter_handoff"
PRIORITY_STAGES = frozenset({"at_risk", "stable"})
PRIORITY_PERSONAS = frozenset({"high_value"})
STRONGLY_NEGATIVE = 0.05  # SnowNLP: probability the text is positive

_model_lock = threading.Lock()


def negativity_score(text: str) -> float:
    """Probability that the text is positive (0 = very negative)."""
    with _model_lock:  # SnowNLP loads its model on first use; not thread-safe then
        from snownlp import SnowNLP

        return float(SnowNLP(text).sentiments)


def escalation_reason(*, templates: list[str | None], intent: str | None, previous_bot_template: str | None,
                      stage: str | None, persona: str | None, text: str, scorer=negativity_score) -> str | None:
    """Why this turn should go to a person, or None. Pure apart from ``scorer``."""
    if HANDOFF_TEMPLATE in templates:
        return "handoff_requested"
    if any(t in FALLBACK_TEMPLATES for t in templates) and previous_bot_template in FALLBACK_TEMPLATES:
        return "repeated_fallback"
    if intent == "complain":
        if stage in PRIORITY_STAGES or persona in PRIORITY_PERSONAS:
            return "priority_complaint"
        if scorer(text) < STRONGLY_NEGATIVE:
            return "strongly_negative"
    return None
