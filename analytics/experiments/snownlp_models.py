"""SnowNLP's sentiment models, only for the comparison in ``sentiment_report``.

The product classifier (``analytics.sentiment``) was chosen over these; they stay here so
the report can be rerun.
"""
from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError

from analytics.sentiment import BinarySentimentModel, check_training_data


class SnowNLPBayes(BinarySentimentModel):
    """SnowNLP's own naive-Bayes sentiment model, retrained on the texts given to ``fit``.

    Uses ``snownlp.sentiment.Sentiment`` (its segmenter and stop words) but never loads
    or writes the packaged model file.
    """

    def fit(self, X, y):
        texts, labels = check_training_data(X, y)
        from snownlp.sentiment import Sentiment as SnowSentiment

        model = SnowSentiment()  # an empty Bayes model; load() is never called
        model.train([t for t, l in zip(texts, labels) if l == 0], [t for t, l in zip(texts, labels) if l == 1])
        self.model_ = model
        self.classes_ = np.array([0, 1])
        return self

    def _positive_proba(self, texts):
        if not hasattr(self, "model_"):
            raise NotFittedError("SnowNLPBayes is not fitted yet")
        return np.array([self.model_.classify(t) for t in texts], dtype=float)


class ShippedSnowNLP(BinarySentimentModel):
    """SnowNLP's sentiment model exactly as the package ships it (``fit`` trains nothing).

    Only for comparison: it was trained on the same reviews, test split included.
    """

    def fit(self, X=None, y=None):
        from snownlp import sentiment

        self.model_ = sentiment.classifier
        self.classes_ = np.array([0, 1])
        return self

    def _positive_proba(self, texts):
        if not hasattr(self, "model_"):
            self.fit()
        return np.array([self.model_.classify(t) for t in texts], dtype=float)
