"""When a bot conversation goes to a person (issue: human handoff).

    handoff_requested   the bot said utter_handoff: the customer asked for a person,
                        agreed to one after a complaint, or an action failed
    repeated_fallback   the bot did not understand twice in a row
    priority_complaint  a complaint from an at-risk, stable or high-value customer
    strongly_negative   a complaint whose text is strongly negative
    bot_unavailable     Rasa failed, timed out or said nothing (decided in turns.py)

The negativity score is P(positive) from the sentiment classifier the analytics chose
(analytics/sentiment.py; the comparison is in docs/sentiment-report.md). It was trained
on product reviews and reads some neutral shop questions as negative, so on its own it
only counts for messages Rasa already took for complaints.
"""
from __future__ import annotations

from api.services.sentiment_model import STRONGLY_NEGATIVE, get_classifier

FALLBACK_TEMPLATES = frozenset({"utter_default"})
HANDOFF_TEMPLATE = "utter_handoff"
PRIORITY_STAGES = frozenset({"at_risk", "stable"})
PRIORITY_PERSONAS = frozenset({"high_value"})


def negativity_score(text: str) -> float:
    """Probability that the text is positive (0 = very negative)."""
    return float(get_classifier().score([text])[0])


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
