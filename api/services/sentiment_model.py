"""The service's sentiment classifier: ``analytics.sentiment``'s product model, cached in
the settings' model directory (``HX_MODEL_DIR``) and built once per process.

Escalation, surveys and the sentiment job call this; the pure model is in
``analytics/sentiment.py``.
"""
from __future__ import annotations

import threading

from analytics.sentiment import STRONGLY_NEGATIVE, Sentiment, SentimentClassifier, product_classifier
from api.core.config import get_settings

__all__ = ["STRONGLY_NEGATIVE", "Sentiment", "classify_texts", "get_classifier"]

_classifier: SentimentClassifier | None = None
_classifier_lock = threading.Lock()


def get_classifier() -> SentimentClassifier:
    """The product classifier, built once per process (thread-safe); trained on first use
    (about 10 s) when ``HX_MODEL_DIR`` has no current model file."""
    global _classifier
    if _classifier is None:
        with _classifier_lock:
            if _classifier is None:
                _classifier = product_classifier(get_settings().model_dir)
    return _classifier


def classify_texts(texts: list[str]) -> list[Sentiment]:
    return get_classifier().classify(texts)
