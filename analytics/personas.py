"""Customer personas by K-means, and the six-family tag library (seed 003).

Seed 003 describes customer portraits for a customer-service desk: a *tag library* of six
families (preferred channel, service ratings, customer attributes, change in contact
volume, complaint risk, cluster) and a K-means model that sorts customers into five kinds,
each served in its own way. This module computes both for every current customer.

It is long because the features, the model and the tag library are one method whose
definitions are documented together.

The steps (the job that runs them, reading the database and writing the results, is
``api.jobs.personas``; this module is pure: frames in, frames out):

1. :func:`features_from_frames`: one row of behaviour per customer, from the per-customer
   aggregates the job reads with set-based queries (``api.jobs.personas.customer_features``).
2. :class:`PersonaModel`: standardise, K-means, then *name* each cluster with one of the
   five kinds by comparing its centre with each kind's definition (``SIGNATURES``).
   K-means only finds groups; which group is "high value" is decided by the centres, so the
   names stay right however the clusters happen to be numbered from one run to the next.
3. :func:`tag_customers`: the six tag families, from documented thresholds
   (``TagThresholds``), plus the cluster's Chinese name as the sixth family.

The five kinds (codes are used elsewhere: reply variants per persona in
``api/services/variants.py``, priority escalation of complaints in
``api/services/escalation.py``, staff routes per persona in ``api/services/handoff.py``):

``high_value`` 高价值型
    Spends much and buys often, and did so recently. Worth protecting: their complaints
    go to a person at once.
``high_potential`` 高潜力型
    New or recently active with orders on the rise, or a high average order but few orders
    so far. Worth growing.
``business_sensitive`` 业务敏感型
    Contacts us a lot, complains, writes negatively, rates the service low. Seed 003's
    complaint-risk customers: contact them early and reassure them before it becomes a
    formal complaint.
``needs_guidance`` 需引导型
    The bot often does not understand them (fallback replies), they are handed to staff,
    they ask a lot and buy little: they need help using the shop and its service.
``ordinary`` 普通型
    Everyone else, including customers with no activity at all.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from analytics.kinds import PERSONA_LABELS, PERSONAS


# --- features ---------------------------------------------------------------------------

# Days since the last purchase of someone who never bought: far beyond any real gap, so
# "never" sorts after "long ago" without being an infinity that breaks the scaling.
NO_PURCHASE_RECENCY = 1000.0
YEAR_DAYS = 365  # orders, spend, channel and ratings look back a year
TREND_DAYS = 90  # orders_trend: the last 90 days against the 90 before
CONTACT_DAYS = 90  # contacts: conversations started in the last 90 days
RECENT_CONTACT_DAYS = 30  # contacts_change: the last 30 days against the 60 before
SERVICE_DAYS = 180  # complaints, sentiment, fallbacks and hand-offs look back half a year

FEATURES = ("recency_days", "orders", "spend", "avg_order", "tenure_days", "orders_trend", "contacts",
            "contacts_change", "complaints", "negative_share", "survey_overall", "survey_count",
            "fallback_share", "wechat_share", "handoffs")


def features_from_frames(customers: pd.DataFrame, orders: pd.DataFrame, conversations: pd.DataFrame,
                         messages: pd.DataFrame, surveys: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """One row per current customer (not merged into another), indexed by customer id.

    From the per-customer aggregates (each frame indexed by customer id; see
    ``api.jobs.personas.customer_features``, which reads them):

    customers       first_seen_at
    orders          first_paid, last_paid, orders, spend, orders_recent, orders_before,
                    wechat_orders (paid orders up to ``now``)
    conversations   contacts, contacts_recent, contacts_before, conversations_year,
                    wechat_conversations, handoffs
    messages        complaints, negative, scored, fallbacks, bot_replies
    surveys         survey_overall, survey_count

    Columns (see ``FEATURES``), all as of ``now`` (naive UTC):

    recency_days     days since the last paid order; ``NO_PURCHASE_RECENCY`` if none
    orders, spend    paid orders and their amount (¥) in the last 365 days
    avg_order        spend / orders (0 without orders)
    tenure_days      days since first seen (or the first paid order, if earlier)
    orders_trend     (a - b) / (a + b + 1) with a, b the paid orders of the last 90 days and
                     of the 90 before: in (-1, 1), 0 when steady, > 0 when buying more
    contacts         conversations started in the last 90 days
    contacts_change  conversations per 30 days: the last 30 days minus the 60 before / 2
    complaints       customer messages with intent ``complain`` in the last 180 days
    negative_share   share of the customer's sentiment-scored messages of the last 180
                     days that are negative (0 without scored messages)
    survey_overall   mean overall rating (1-5) of the last 365 days' surveys; NaN if none
    survey_count     how many surveys gave an overall rating in that year
    fallback_share   bot replies that were a fallback (``utter_default``) / bot replies,
                     last 180 days (0 without bot replies)
    wechat_share     share of the last year's paid orders and conversations on WeChat;
                     NaN with neither
    handoffs         conversations of the last 180 days that were escalated to staff
    """
    def column(frame: pd.DataFrame, name: str, fill: float | None = 0.0) -> pd.Series:
        values = pd.to_numeric(frame[name], errors="coerce").astype(float).reindex(customers.index)
        return values if fill is None else values.fillna(fill)

    def days_since(values: pd.Series) -> pd.Series:
        return (now - pd.to_datetime(values)).dt.total_seconds() / 86400

    first_paid = pd.to_datetime(orders["first_paid"]).reindex(customers.index)
    first_seen = pd.to_datetime(customers["first_seen_at"])
    first = first_seen.where(first_paid.isna() | (first_seen <= first_paid), first_paid)
    last_paid = pd.to_datetime(orders["last_paid"]).reindex(customers.index)

    n_orders, spend = column(orders, "orders"), column(orders, "spend")
    recent, before = column(orders, "orders_recent"), column(orders, "orders_before")
    scored, bot_replies = column(messages, "scored"), column(messages, "bot_replies")
    touches = n_orders + column(conversations, "conversations_year")
    wechat = column(orders, "wechat_orders") + column(conversations, "wechat_conversations")

    out = pd.DataFrame(index=customers.index)
    out["recency_days"] = days_since(last_paid).clip(lower=0).fillna(NO_PURCHASE_RECENCY).clip(
        upper=NO_PURCHASE_RECENCY)
    out["orders"] = n_orders.astype(np.int64)
    out["spend"] = spend.round(2)
    out["avg_order"] = (spend / n_orders.where(n_orders > 0)).fillna(0.0).round(2)
    out["tenure_days"] = days_since(first).clip(lower=0).fillna(0.0)
    out["orders_trend"] = (recent - before) / (recent + before + 1)
    out["contacts"] = column(conversations, "contacts").astype(np.int64)
    out["contacts_change"] = column(conversations, "contacts_recent") - column(conversations, "contacts_before") / 2
    out["complaints"] = column(messages, "complaints").astype(np.int64)
    out["negative_share"] = (column(messages, "negative") / scored.where(scored > 0)).fillna(0.0)
    out["survey_overall"] = column(surveys, "survey_overall", fill=None)
    out["survey_count"] = column(surveys, "survey_count").astype(np.int64)
    out["fallback_share"] = (column(messages, "fallbacks") / bot_replies.where(bot_replies > 0)).fillna(0.0)
    out["wechat_share"] = wechat / touches.where(touches > 0)
    out["handoffs"] = column(conversations, "handoffs").astype(np.int64)
    out.index.name = "customer_id"
    return out


def has_activity(features: pd.DataFrame) -> pd.Series:
    """Customers with anything to cluster on: a paid order ever, or any contact with us.

    The others (visitors who never bought nor talked to us) would only form a cluster of
    zeros; they are ``ordinary`` without being clustered.
    """
    service = features[["contacts", "complaints", "survey_count", "handoffs"]].sum(axis=1) > 0
    return (features["recency_days"] < NO_PURCHASE_RECENCY) | service | features["wechat_share"].notna()


# --- the model --------------------------------------------------------------------------

# What K-means sees. Channel and the survey count describe, they do not set a kind apart.
MODEL_FEATURES = ("recency_days", "orders", "spend", "avg_order", "tenure_days", "orders_trend", "contacts",
                  "contacts_change", "complaints", "negative_share", "survey_overall", "fallback_share",
                  "handoffs")
# Money, counts and durations are skewed (a few customers with 50 orders); log1p keeps
# them from pulling every centre. contacts_change can be negative: a signed log1p.
LOG_FEATURES = ("recency_days", "orders", "spend", "avg_order", "tenure_days", "contacts", "complaints",
                "handoffs")
SIGNED_LOG_FEATURES = ("contacts_change",)

# Each kind's definition as the direction its cluster centre should lean, in standard
# deviations of the (log-)features: a cluster's score for a kind is the weighted mean of
# its centre along these weights.
SIGNATURES: dict[str, dict[str, float]] = {
    "high_value": {"spend": 1.0, "orders": 1.0, "recency_days": -0.5, "avg_order": 0.25},
    "high_potential": {"tenure_days": -1.0, "orders_trend": 0.75, "recency_days": -0.5, "avg_order": 0.5,
                       "orders": -0.25},
    "business_sensitive": {"complaints": 1.0, "negative_share": 1.0, "survey_overall": -0.75, "contacts": 0.5,
                           "contacts_change": 0.25},
    "needs_guidance": {"fallback_share": 1.0, "handoffs": 0.75, "contacts": 0.5, "orders": -0.25},
}
# "ordinary" has no direction: its score is minus the mean distance of the centre from the
# average customer, so the most unremarkable cluster gets it.

# A cluster whose centre leans less than this towards the kind it was matched with is
# named ordinary instead. Matching gives every kind to some cluster, but when nobody
# complains (no conversations recorded yet) no cluster is complaint-prone, and naming one
# so would send those customers the wrong replies.
MIN_MATCH = 0.25
# A feature that is the same for everyone (sentiment before the sentiment job has run,
# ratings before any survey) says nothing: it leaves the weighted mean, so the kind is
# judged on the rest. A kind left with less than this share of its weight cannot be
# judged at all and names no cluster (a few orders alone do not make anyone "needs
# guidance").
MIN_EVIDENCE = 0.5


def _signature_matrix(informative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights (kinds × MODEL_FEATURES) on the informative features, each row summing to 1
    in absolute value, and the share of each kind's weight that is informative."""
    weights = np.zeros((len(PERSONAS), len(MODEL_FEATURES)))
    for k, persona in enumerate(PERSONAS):
        for feature, w in SIGNATURES.get(persona, {}).items():
            weights[k, MODEL_FEATURES.index(feature)] = w
    full = np.abs(weights).sum(axis=1)
    weights *= informative
    kept = np.abs(weights).sum(axis=1)
    weights /= np.where(kept > 0, kept, 1.0)[:, None]
    return weights, np.divide(kept, full, out=np.ones_like(kept), where=full > 0)


class PersonaModel:
    """K-means on standardised behaviour, each cluster named with one of the five kinds.

    ``fit(X)`` takes a frame with the ``MODEL_FEATURES`` columns (as from
    :func:`customer_features`) and learns:

    ``cluster_centers_``    centres in the standardised space (n_clusters × features)
    ``labels_``             each training row's cluster
    ``scores_``             clusters × PERSONAS: how well each centre fits each kind
                            (NaN for a kind the data cannot show, see MIN_EVIDENCE)
    ``evidence_``           {persona: share of its signature's weight on features
                            that vary in the data}
    ``persona_of_cluster_`` {cluster: persona}
    ``profile_``            per cluster: size, share, persona, label, match and the mean
                            of each raw feature, the table staff read to trust the names
    ``silhouette_``         silhouette of the clustering on a sample of at most
                            ``silhouette_sample`` rows (NaN when it is undefined)

    Naming: ``scores_`` holds each centre's lean towards each kind's ``SIGNATURES``,
    on the features that vary (ordinary: minus its mean distance from the average).
    The Hungarian method (``linear_sum_assignment``) picks the naming with the highest
    total score in which each kind names at most one cluster, so with five clusters
    each kind is used once. Clusters left over when there are more than five take their
    best-fitting kind; a cluster that fits its kind less than ``min_match`` (or whose
    kind the data cannot show) becomes ordinary.
    """

    def __init__(self, n_clusters: int = 5, seed: int = 0, *, n_init: int = 10,
                 min_match: float = MIN_MATCH, silhouette_sample: int = 3000) -> None:
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init
        self.min_match = min_match
        self.silhouette_sample = silhouette_sample

    # The same preparation for fit and predict: check, impute, log (then standardise).
    def _raw(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise ValueError("X must be a pandas DataFrame with the feature columns")
        missing = [c for c in MODEL_FEATURES if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature columns {missing}")
        if X.empty:
            raise ValueError("X has no rows")
        raw = X[list(MODEL_FEATURES)].apply(pd.to_numeric, errors="coerce").astype(float)
        if np.isinf(raw.to_numpy()).any():
            raise ValueError("X holds infinite values")
        return raw

    def _prepare(self, raw: pd.DataFrame) -> np.ndarray:
        filled = raw.fillna(self.fill_)
        for c in LOG_FEATURES:
            filled[c] = np.log1p(filled[c].clip(lower=0))
        for c in SIGNED_LOG_FEATURES:
            filled[c] = np.sign(filled[c]) * np.log1p(filled[c].abs())
        return filled.to_numpy()

    def fit(self, X: pd.DataFrame) -> PersonaModel:
        if self.n_clusters < 2:
            raise ValueError("n_clusters must be at least 2")
        raw = self._raw(X)
        if len(raw) < self.n_clusters:
            raise ValueError(f"{len(raw)} rows cannot make {self.n_clusters} clusters")
        # A missing value (no survey rating) counts as the average of those who have one:
        # no evidence either way. A column with no values at all gets a neutral 0. The
        # same values fill gaps in the rows given to predict.
        self.fill_ = raw.mean().fillna(0.0)
        self.scaler_ = StandardScaler()
        Z = self.scaler_.fit_transform(self._prepare(raw))

        self.kmeans_ = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.seed).fit(Z)
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.labels_ = self.kmeans_.labels_
        self.scores_ = self._scores(self.cluster_centers_)
        self.persona_of_cluster_ = self._name(self.scores_)

        self.silhouette_ = float("nan")
        if len(np.unique(self.labels_)) > 1 and len(Z) > len(np.unique(self.labels_)):
            self.silhouette_ = float(silhouette_score(
                Z, self.labels_, sample_size=min(len(Z), self.silhouette_sample), random_state=self.seed))

        profile = raw.groupby(self.labels_).mean().reindex(range(self.n_clusters))
        sizes = np.bincount(self.labels_, minlength=self.n_clusters)
        profile.insert(0, "size", sizes)
        profile.insert(1, "share", sizes / len(raw))
        profile.insert(2, "persona", [self.persona_of_cluster_[c] for c in range(self.n_clusters)])
        profile.insert(3, "label", profile["persona"].map(PERSONA_LABELS))
        profile.insert(4, "match", [self.scores_[c, PERSONAS.index(self.persona_of_cluster_[c])]
                                    for c in range(self.n_clusters)])
        profile.index.name = "cluster"
        self.profile_ = profile
        return self

    def _scores(self, centers: np.ndarray) -> np.ndarray:
        weights, evidence = _signature_matrix(self.scaler_.var_ > 0)
        self.evidence_ = dict(zip(PERSONAS, evidence.tolist()))
        scores = centers @ weights.T
        scores[:, evidence < MIN_EVIDENCE] = np.nan
        scores[:, PERSONAS.index("ordinary")] = -np.abs(centers).mean(axis=1)
        return scores

    def _name(self, scores: np.ndarray) -> dict[int, str]:
        # A kind that cannot be judged (NaN) scores so low that it takes a cluster only
        # when nothing else is left, and that cluster then falls to ordinary below.
        usable = np.nan_to_num(scores, nan=-1e6)
        rows, cols = linear_sum_assignment(usable, maximize=True)
        named = {int(r): PERSONAS[c] for r, c in zip(rows, cols)}
        for cluster in range(len(scores)):  # more clusters than kinds: the best fit
            named.setdefault(cluster, PERSONAS[int(np.argmax(usable[cluster]))])
        ordinary = PERSONAS.index("ordinary")
        for cluster, persona in named.items():
            k = PERSONAS.index(persona)
            if k != ordinary and not scores[cluster, k] >= self.min_match:  # NaN too
                named[cluster] = "ordinary"
        return named

    def predict_clusters(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "kmeans_"):
            raise ValueError("the model is not fitted yet")
        return self.kmeans_.predict(self.scaler_.transform(self._prepare(self._raw(X))))

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """The persona code of each row, indexed like X."""
        clusters = self.predict_clusters(X)
        return pd.Series([self.persona_of_cluster_[int(c)] for c in clusters], index=X.index, name="persona")

    def fit_predict(self, X: pd.DataFrame) -> pd.Series:
        self.fit(X)
        return pd.Series([self.persona_of_cluster_[int(c)] for c in self.labels_], index=X.index, name="persona")


# --- the tag library --------------------------------------------------------------------

@dataclass(frozen=True)
class TagThresholds:
    """The lines the tags are drawn at; amounts in ¥, durations in days."""

    # channel: share of orders and conversations on WeChat
    wechat_only: float = 0.8  # ≥ this: 微信
    web_only: float = 0.2  # ≤ this: 网页; between the two: 多渠道
    # rating: mean overall survey score (1-5)
    good_rating: float = 4.0  # ≥ this: 好评
    poor_rating: float = 3.0  # < this: 差评; between: 中评
    # attributes
    high_spend: float = 2000.0  # 高消费: spent at least this in the last year
    frequent_orders: int = 12  # 高频: at least this many paid orders in the last year
    high_avg_order: float = 300.0  # 高客单: average order at least this
    new_days: float = 90.0  # 新客: first seen at most this long ago
    loyal_days: float = 365.0  # 老客: first seen at least this long ago, and bought in the last year
    dormant_days: float = 180.0  # 沉睡: bought before, but not in this many days
    frequent_handoffs: int = 2  # 常转人工: at least this many escalated conversations
    # contact_change: conversations per 30 days, the last 30 against the 60 before
    contact_rise: float = 1.0  # ≥ +this: 上升; ≤ -this: 下降; between: 平稳
    # complaint_risk
    high_risk_complaints: int = 3  # 高 with this many complaints in half a year
    negative_share: float = 0.5  # 高 with any complaint and this negative share or a poor rating
    medium_negative_share: float = 0.3  # 中 with any complaint, a poor rating or this negative share


TAG_THRESHOLDS = TagThresholds()
TAG_FAMILIES = ("channel", "rating", "attributes", "contact_change", "complaint_risk", "cluster")
ATTRIBUTE_ORDER = ("高消费", "高频", "高客单", "新客", "老客", "沉睡", "未购买", "常转人工")


def tag_customers(features: pd.DataFrame, personas: pd.Series | Iterable[str],
                  thresholds: TagThresholds = TAG_THRESHOLDS) -> pd.DataFrame:
    """Seed 003's six tag families for each customer, one column each, indexed like ``features``.

    ``channel``         微信 | 网页 | 多渠道 | 未知 (no order nor conversation in a year)
    ``rating``          好评 | 中评 | 差评 | 未评价
    ``attributes``      list, in ``ATTRIBUTE_ORDER``: 高消费 高频 高客单 新客 老客 沉睡 未购买 常转人工
    ``contact_change``  上升 | 平稳 | 下降
    ``complaint_risk``  高 | 中 | 低
    ``cluster``         the persona's Chinese name (PERSONA_LABELS); 未分群 without one

    All values are strings or lists of strings, so ``tags.to_dict("index")`` gives JSON.
    """
    t = thresholds
    f = features
    if isinstance(personas, pd.Series):
        personas = personas.reindex(f.index)
    else:
        personas = list(personas)
        if len(personas) != len(f):
            raise ValueError("one persona per row of features is needed")

    share = f["wechat_share"]
    channel = np.select([share.isna(), share >= t.wechat_only, share <= t.web_only],
                        ["未知", "微信", "网页"], "多渠道")
    rating = f["survey_overall"]
    rating_tag = np.select([rating.isna(), rating >= t.good_rating, rating < t.poor_rating],
                           ["未评价", "好评", "差评"], "中评")
    change = f["contacts_change"]
    change_tag = np.select([change >= t.contact_rise, change <= -t.contact_rise], ["上升", "下降"], "平稳")

    complained = f["complaints"] >= 1
    poor = rating < t.poor_rating  # False for NaN
    negative = f["negative_share"]
    high = (f["complaints"] >= t.high_risk_complaints) | (complained & ((negative >= t.negative_share) | poor))
    medium = complained | poor | (negative >= t.medium_negative_share)
    risk = np.select([high, medium], ["高", "中"], "低")

    bought = f["recency_days"] < NO_PURCHASE_RECENCY
    flags = {
        "高消费": f["spend"] >= t.high_spend,
        "高频": f["orders"] >= t.frequent_orders,
        "高客单": (f["orders"] > 0) & (f["avg_order"] >= t.high_avg_order),
        "新客": f["tenure_days"] <= t.new_days,
        "老客": (f["tenure_days"] >= t.loyal_days) & (f["orders"] > 0),
        "沉睡": bought & (f["recency_days"] > t.dormant_days),
        "未购买": ~bought,
        "常转人工": f["handoffs"] >= t.frequent_handoffs,
    }
    matrix = np.column_stack([flags[name].to_numpy(dtype=bool) for name in ATTRIBUTE_ORDER])
    attributes = [[ATTRIBUTE_ORDER[j] for j in np.flatnonzero(row)] for row in matrix]

    cluster = [PERSONA_LABELS.get(p, "未分群") if isinstance(p, str) else "未分群" for p in personas]
    return pd.DataFrame({"channel": channel, "rating": rating_tag, "attributes": attributes,
                         "contact_change": change_tag, "complaint_risk": risk, "cluster": cluster},
                        index=f.index)
