"""Scoring the service steps (patent seed 000): which part of the conversation costs
the most satisfaction?

A conversation is cut into six steps — greeting, identification (finding out what the
customer wants), answer, handoff_wait (queueing for a person), resolution and the
survey itself — and each step is described by a few numbers (``STEP_FEATURES``). A
regression model learns how those numbers predict the overall satisfaction the
customer gave in the survey (1–5); ``score_steps`` then asks the model what each step
is worth, and the step that would gain the most when brought up to its good reference
is the weakest.

The model is chosen by ``python -m analytics.experiments.steps_report``
(``docs/step-scoring.md``): the patent's PSO-optimised BP network competes there with a
linear model, plain BP and BP with random restarts on the same evaluation budget.
``chosen_model`` records the outcome and the nightly job (``api/jobs/steps.py``, which
reads the features from the database) fits only that model.

Pure: frames in, frames out; the networks (``analytics.pso``, torch) are imported only
when one is built, so fitting the linear model never loads torch.

This module is long because the features, the synthetic data with a known answer and
the counterfactual scoring are one method whose parts are documented together.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from analytics.kinds import STEP_LABELS, STEPS

log = logging.getLogger(__name__)

STEP_FEATURES: dict[str, tuple[str, ...]] = {
    "greeting": ("seconds", "personal"),
    "identification": ("turns", "fallbacks"),
    "answer": ("fallbacks", "confidence", "reply_seconds"),
    "handoff_wait": ("escalated", "seconds"),
    "resolution": ("seconds", "staff_replies", "sentiment_change"),
    "survey": ("answered",),
}
FEATURES = tuple(f"{step}__{name}" for step in STEPS for name in STEP_FEATURES[step])
TARGET = "overall"
COLUMNS = ("conversation_id", "stage", *FEATURES, TARGET)

# Customer intents that do not yet say what the customer wants.
UNIDENTIFIED_INTENTS = ("greet", "nlu_fallback")
FALLBACK_TEMPLATE = "utter_default"
SURVEY_ANSWERS = 7  # overall, quality, service, value, innovation, nps, comment

MIN_CONVERSATIONS = 30  # fewer surveyed conversations: the job stores nothing new
MAX_FIT_ROWS = 50_000  # the job fits and scores on a random sample of at most this many
MAX_SCORE_ROWS = 2_000  # score_steps scores a random sample of at most this many conversations
BACKGROUND_ROWS = 200  # conversations a step version is tried on to value it
REFERENCES = 50  # best-quartile versions of a step tried on each conversation to fix it
# Satisfaction points: a step whose best and worst quartile differ by less than this is
# scored 100 with impact 0 (a model always sees some difference, if only noise), and no
# step is called the weakest unless its impact exceeds it.
NO_IMPACT = 0.01

MODEL_NAMES = {"linear": "Ridge 线性回归", "bp": "BP 神经网络", "bp_restarts": "BP（多次随机初始化）",
               "pso_bp": "PSO-BP 神经网络"}
# Decided by analytics.experiments.steps_report on held-out synthetic data (docs/step-scoring.md):
# below LINEAR_BELOW conversations the linear model, from there on NETWORK_MODEL. See
# chosen_model.
LINEAR_BELOW = 2000
NETWORK_MODEL = "bp_restarts"

# The budget: PSO spends PSO_PARTICLES × (PSO_ITERATIONS + 1) network evaluations and
# fine-tuning at most 3 × EPOCHS; one BP run at most 3 × EPOCHS. RESTARTS gives random
# restarts the same ceiling: 3 × 1500 = 4500 ≈ 30 × 101 + 1500 = 4530.
HIDDEN = (8,)
EPOCHS = 500
PSO_PARTICLES = 30
PSO_ITERATIONS = 100
RESTARTS = 3


# --- features from the conversations' frames --------------------------------------------------


def _seconds(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds().clip(lower=0)


def features_from_frames(conversations: pd.DataFrame, messages: pd.DataFrame) -> pd.DataFrame:
    """The ``COLUMNS`` of each surveyed conversation (definitions: ``api.jobs.steps.step_features``)
    from its row (conversation_id, stage, started_at, escalated_at, claimed_at, overall,
    quality, service, value, innovation, nps, has_comment) and its messages
    (conversation_id, id, author, intent, intent_confidence, template, variant_id,
    sentiment_score, created_at; in id order). Missing values stay NaN here."""
    conv = conversations.set_index("conversation_id")
    for column in ("started_at", "escalated_at", "claimed_at"):
        conv[column] = pd.to_datetime(conv[column])
    m = messages.copy()
    m["created_at"] = pd.to_datetime(m["created_at"])
    key = m["conversation_id"]
    out = pd.DataFrame(index=conv.index)

    def per_conversation(mask: pd.Series) -> pd.Series:
        """How many messages of each conversation match ``mask`` (0 for none)."""
        return mask.groupby(key).sum().reindex(out.index, fill_value=0).astype(float)

    is_customer = m["author"] == "customer"
    is_bot = m["author"] == "bot"

    # greeting: the first bot message
    first_bot = m[is_bot].drop_duplicates("conversation_id").set_index("conversation_id")
    out["greeting__seconds"] = _seconds(first_bot["created_at"].reindex(out.index) - conv["started_at"])
    out["greeting__personal"] = first_bot["variant_id"].notna().reindex(out.index, fill_value=False).astype(float)

    # identification: up to the first customer message that says what they want
    intent = m["intent"]
    identified = is_customer & intent.notna() & ~intent.isin(UNIDENTIFIED_INTENTS)
    first_identified = m.loc[identified].drop_duplicates("conversation_id").set_index("conversation_id")["id"]
    before = m["id"] < key.map(first_identified).fillna(np.inf)
    fallback = is_bot & (m["template"] == FALLBACK_TEMPLATE)
    out["identification__turns"] = per_conversation(is_customer & before)
    out["identification__fallbacks"] = per_conversation(fallback & before)

    # answer
    out["answer__fallbacks"] = per_conversation(fallback & ~before)
    confidence = m.loc[is_customer, "intent_confidence"].groupby(key[is_customer]).mean()
    out["answer__confidence"] = confidence.reindex(out.index)
    # Each customer message's delay to the next bot/staff message: carry reply times
    # backwards within the conversation (rows are in id order).
    reply_at = m["created_at"].where(m["author"].isin(("bot", "staff")))
    next_reply = reply_at.groupby(key).bfill()
    delay = (next_reply - m["created_at"]).dt.total_seconds()[is_customer]
    out["answer__reply_seconds"] = delay.groupby(key[is_customer]).mean().reindex(out.index)

    # handoff wait
    last_message = m.groupby(key)["created_at"].max().reindex(out.index)
    escalated = conv["escalated_at"].notna()
    waited_until = conv["claimed_at"].fillna(last_message)
    out["handoff_wait__escalated"] = escalated.astype(float)
    out["handoff_wait__seconds"] = _seconds(waited_until - conv["escalated_at"]).where(escalated, 0.0).fillna(0.0)

    # resolution
    out["resolution__seconds"] = _seconds(last_message - conv["started_at"]).fillna(0.0)
    out["resolution__staff_replies"] = per_conversation(m["author"] == "staff")
    scored = m.loc[is_customer & m["sentiment_score"].notna(), ["conversation_id", "sentiment_score"]]
    first_score = scored.drop_duplicates("conversation_id", keep="first").set_index("conversation_id")
    last_score = scored.drop_duplicates("conversation_id", keep="last").set_index("conversation_id")
    change = last_score["sentiment_score"] - first_score["sentiment_score"]
    out["resolution__sentiment_change"] = change.reindex(out.index).fillna(0.0)

    # survey
    answers = conv[["overall", "quality", "service", "value", "innovation", "nps"]].notna().sum(axis=1)
    out["survey__answered"] = (answers + conv["has_comment"].fillna(0).astype(int)) / SURVEY_ANSWERS

    out["stage"] = conv["stage"]
    out[TARGET] = conv["overall"].astype(float)
    out = out.reset_index()
    return out[list(COLUMNS)].astype({f: float for f in FEATURES})


# --- synthetic data with a known answer ----------------------------------------------------


SYNTHETIC_NOISE = 0.5  # sd of the noise added to the latent satisfaction before rounding


def _latent_satisfaction(f: pd.DataFrame) -> np.ndarray:
    """The hidden satisfaction function of ``make_synthetic_steps`` (see there)."""
    fallbacks = np.minimum(f["identification__fallbacks"] + f["answer__fallbacks"], 3)
    wait_minutes = f["handoff_wait__seconds"] / 60
    handoff = f["handoff_wait__escalated"] * (
        0.3 + 2.0 * (1 - np.exp(-wait_minutes / 4)) * (0.25 + 0.4 * fallbacks))
    s = (4.6
         - 0.4 * np.maximum(0, np.log(f["greeting__seconds"] / 5)) + 0.15 * f["greeting__personal"]
         - 0.2 * f["identification__turns"] - 0.25 * f["identification__fallbacks"]
         - 0.35 * f["answer__fallbacks"] - 2.0 * np.maximum(0, 0.7 - f["answer__confidence"])
         - 0.25 * np.log1p(f["answer__reply_seconds"] / 5)
         - handoff
         + 0.08 * np.minimum(f["resolution__staff_replies"], 5) * f["handoff_wait__escalated"]
         - 0.3 * np.maximum(0, np.log(np.maximum(f["resolution__seconds"], 1) / 600))
         + 0.9 * np.tanh(3 * f["resolution__sentiment_change"]))
    return np.asarray(s, dtype=float)


def synthetic_expected_satisfaction(frame: pd.DataFrame) -> np.ndarray:
    """E[overall | features] under ``make_synthetic_steps``'s hidden function: the best
    any model can predict (its RMSE on the data is the noise floor). With s the latent
    value and σ the noise, overall = clip(round(s + ε), 1, 5), so
    E = 1 + Σ_{k=1..4} P(s + ε ≥ k + ½) = 1 + Σ Φ((s − k − ½)/σ)."""
    s = _latent_satisfaction(frame)
    return 1 + sum(ndtr((s - k - 0.5) / SYNTHETIC_NOISE) for k in range(1, 5))


def make_synthetic_steps(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` made-up surveyed conversations with the columns of ``step_features`` and a
    satisfaction from a hidden nonlinear function, for tests and the model comparison.

    The features are drawn to hang together like real ones: a low intent confidence
    brings more identification turns and fallbacks, fallbacks make escalation likelier,
    only escalated conversations wait and get staff replies, and long waits and many
    turns make the whole conversation long.

    Hidden satisfaction (latent s, then overall = clip(round(s + N(0, 0.5²)), 1, 5)):

        F = min(identification__fallbacks + answer__fallbacks, 3),  W = wait in minutes
        s = 4.6 − 0.4·max(0, log(greeting_s/5)) + 0.15·personal
            − 0.2·identification_turns − 0.25·identification_fallbacks
            − 0.35·answer_fallbacks − 2·max(0, 0.7 − confidence) − 0.25·log(1 + reply_s/5)
            − escalated·(0.3 + 2·(1 − e^(−W/4))·(0.25 + 0.4·F))      ← interaction
            + 0.08·min(staff_replies, 5)·escalated
            − 0.3·max(0, log(resolution_s/600)) + 0.9·tanh(3·sentiment_change)

    so a long wait hurts much more after fallbacks (a 10-minute wait costs 0.8 points
    without a fallback, 3.0 after three), waiting saturates, a greeting hurts only once
    it takes over 5 s, confidence only below 0.7, conversations only beyond 10 minutes,
    staff replies help only those who were handed over, and survey__answered does not
    matter at all (a
    nuisance feature a good model must learn to ignore).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    rng = np.random.default_rng(seed)
    confidence = rng.beta(9, 2.5, n)
    weak = np.maximum(0, 0.85 - confidence)
    greeting_seconds = np.clip(rng.lognormal(np.log(1.5), 0.6, n) * np.where(rng.random(n) < 0.05, 10, 1),
                               0.2, 120)
    personal = (rng.random(n) < 0.35).astype(float)
    id_turns = np.minimum(rng.poisson(0.3 + 3 * weak), 6).astype(float)
    id_fallbacks = rng.binomial(id_turns.astype(int), 0.5).astype(float)
    answer_fallbacks = np.minimum(rng.poisson(0.2 + 2.5 * weak), 6).astype(float)
    all_fallbacks = id_fallbacks + answer_fallbacks
    p_escalate = 1 / (1 + np.exp(-(-2.2 + 0.7 * all_fallbacks + 1.0 * (confidence < 0.6))))
    escalated = (rng.random(n) < p_escalate).astype(float)
    wait = escalated * np.clip(rng.lognormal(np.log(150), 1.0, n), 5, 3600)
    staff_replies = escalated * rng.poisson(3, n)
    reply_seconds = rng.lognormal(np.log(1.2), 0.4, n) + escalated * rng.lognormal(np.log(15), 0.6, n)
    turns = 1 + id_turns + rng.poisson(3, n)
    resolution_seconds = (greeting_seconds + turns * rng.lognormal(np.log(25), 0.5, n) + wait
                          + staff_replies * rng.lognormal(np.log(45), 0.5, n))
    sentiment_change = np.clip(rng.normal(0, 0.18, n) - 0.05 * all_fallbacks, -1, 1)
    answered = (1 + rng.binomial(6, 0.6, n)) / SURVEY_ANSWERS
    frame = pd.DataFrame({
        "conversation_id": [f"syn-{seed}-{i}" for i in range(n)],
        "stage": rng.choice(["new", "growing", "stable", "at_risk"], n),
        "greeting__seconds": greeting_seconds, "greeting__personal": personal,
        "identification__turns": id_turns, "identification__fallbacks": id_fallbacks,
        "answer__fallbacks": answer_fallbacks, "answer__confidence": confidence,
        "answer__reply_seconds": reply_seconds,
        "handoff_wait__escalated": escalated, "handoff_wait__seconds": wait,
        "resolution__seconds": resolution_seconds, "resolution__staff_replies": staff_replies.astype(float),
        "resolution__sentiment_change": sentiment_change,
        "survey__answered": answered,
    })
    latent = _latent_satisfaction(frame) + rng.normal(0, SYNTHETIC_NOISE, n)
    frame[TARGET] = np.clip(np.round(latent), 1, 5)
    return frame[list(COLUMNS)]


# --- the candidate models --------------------------------------------------------------------


def log_seconds(X: Any) -> Any:
    """log(1 + s) of the ``*seconds`` columns: durations are heavy-tailed (a 30-minute
    wait would otherwise dominate the standardised inputs). Other input passes unchanged."""
    if not isinstance(X, pd.DataFrame):
        return X
    X = X.copy()
    for column in X.columns:
        if str(column).endswith("seconds"):
            X[column] = np.log1p(X[column].clip(lower=0))
    return X


def chosen_model(n: int) -> str:
    """The candidate the job fits to ``n`` surveyed conversations: Ridge below
    ``LINEAR_BELOW``, ``NETWORK_MODEL`` from there on. See step_scoring_job for why."""
    return "linear" if n < LINEAR_BELOW else NETWORK_MODEL


def build_model(name: str, seed: int = 0) -> Pipeline:
    """One of the four candidates (``MODEL_NAMES``), a pipeline from the raw ``FEATURES`` frame.

    All networks share the architecture (one tanh layer of 8), Adam at lr 0.01, weight
    decay 1e-3, at most ``EPOCHS`` epochs with early stopping on 20 % of the training
    rows. Budgets in network evaluations (see analytics.pso): bp ≤ 1500; bp_restarts
    ≤ 3 × 1500 = 4500; pso_bp 30 particles × 101 = 3030 for PSO + ≤ 1500 fine-tuning.
    The networks (torch) are imported only here, for a network.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; candidates: {', '.join(MODEL_NAMES)}")
    log_step = ("log_seconds", FunctionTransformer(log_seconds))
    if name == "linear":
        return Pipeline([log_step, ("scale", StandardScaler()), ("model", Ridge(alpha=1.0))])
    from analytics.pso import BPRegressor, PSOBPRegressor, RestartsBPRegressor

    bp = dict(hidden=HIDDEN, epochs=EPOCHS, lr=0.01, weight_decay=1e-3, patience=50, seed=seed)
    if name == "bp":
        return Pipeline([log_step, ("model", BPRegressor(**bp))])
    if name == "bp_restarts":
        return Pipeline([log_step, ("model", RestartsBPRegressor(n_restarts=RESTARTS, **bp))])
    return Pipeline([log_step, ("model", PSOBPRegressor(n_particles=PSO_PARTICLES, iterations=PSO_ITERATIONS,
                                                         **bp))])


def candidate_models(seed: int = 0) -> dict[str, Pipeline]:
    """The four models compared by the report (``build_model`` of each of ``MODEL_NAMES``)."""
    return {name: build_model(name, seed) for name in MODEL_NAMES}


# --- what each step is worth -------------------------------------------------------------------


def _predictions_with(model: Any, rows: pd.DataFrame, columns: list[str], vectors: np.ndarray,
                      chunk_rows: int = 50_000) -> np.ndarray:
    """(len(vectors), len(rows)): the predictions for ``rows`` with ``columns`` set to each
    vector in turn, in chunks of about ``chunk_rows`` rows."""
    base = rows[list(FEATURES)].to_numpy(dtype=float)
    where = [FEATURES.index(c) for c in columns]
    per_chunk = max(1, chunk_rows // max(len(base), 1))
    out = []
    for start in range(0, len(vectors), per_chunk):
        block = vectors[start:start + per_chunk]
        tiled = np.tile(base, (len(block), 1))
        tiled[:, where] = np.repeat(block, len(base), axis=0)
        predicted = np.asarray(model.predict(pd.DataFrame(tiled, columns=list(FEATURES))), dtype=float)
        out.append(predicted.reshape(len(block), len(base)))
    return np.concatenate(out) if out else np.empty((0, len(base)))


def step_effects(model: Any, X: pd.DataFrame, *, max_rows: int = MAX_SCORE_ROWS,
                 background_rows: int = BACKGROUND_ROWS, references: int = REFERENCES,
                 seed: int = 0) -> list[dict]:
    """``score_steps`` with the details: per step, besides score, impact and weakest, the
    mean predicted satisfaction as is and fixed, the step values (see score_steps) of
    the average, best-quartile and worst-quartile conversation, and per feature its
    mean overall, in the best and in the worst quartile of the step."""
    data = X[list(FEATURES)].astype(float)
    if len(data) == 0:
        raise ValueError("no conversations to score")
    if data.isna().any().any():
        raise ValueError("features contain missing values")
    rng = np.random.default_rng(seed)
    if len(data) > max_rows:
        data = data.iloc[rng.choice(len(data), max_rows, replace=False)]
    data = data.reset_index(drop=True)
    background = data.iloc[rng.choice(len(data), min(background_rows, len(data)), replace=False)]
    baseline = np.asarray(model.predict(data), dtype=float)
    quartile = max(1, len(data) // 4)

    effects = []
    for step in STEPS:
        columns = [f"{step}__{name}" for name in STEP_FEATURES[step]]
        own = data[columns].to_numpy()
        vectors, inverse = np.unique(own, axis=0, return_inverse=True)
        value = _predictions_with(model, background, columns, vectors).mean(axis=1)[inverse.reshape(-1)]
        order = np.argsort(value, kind="stable")
        worst_rows, best_rows = order[:quartile], order[-quartile:]
        good_value, bad_value = float(value[best_rows].mean()), float(value[worst_rows].mean())
        fixed = baseline.copy()
        if good_value - bad_value >= NO_IMPACT:
            # Conversations below the best quartile get best-quartile versions of the step.
            needs = value < value[best_rows].min() - 1e-12
            chosen = rng.choice(best_rows, min(references, len(best_rows)), replace=False)
            if needs.any():
                fixed[needs] = _predictions_with(model, data[needs], columns, own[chosen]).mean(axis=0)
            score = float(np.clip(100 * (value.mean() - bad_value) / (good_value - bad_value), 0, 100))
        else:
            score = 100.0  # the model sees no difference between a good and a bad step
        features = {c: {"mean": float(data[c].mean()), "best_quartile": float(data[c].iloc[best_rows].mean()),
                        "worst_quartile": float(data[c].iloc[worst_rows].mean())} for c in columns}
        effects.append({"step": step, "label": STEP_LABELS[step], "score": score,
                        "impact": float(np.mean(fixed - baseline)),
                        "predicted": float(baseline.mean()), "fixed_predicted": float(fixed.mean()),
                        "step_value": float(value.mean()), "best_value": good_value, "worst_value": bad_value,
                        "features": features})
    top = max(e["impact"] for e in effects)
    for e in effects:
        e["weakest"] = bool(top > NO_IMPACT and e["impact"] >= top - 1e-9)
    return effects


def score_steps(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Score each service step with a fitted ``model`` (``predict`` on a ``FEATURES`` frame).

    Method — counterfactual predictions, asking the model "what if this step had gone
    like it does in the good conversations". A step is moved as a whole, to versions
    that really occurred: moving its features one by one would create combinations
    that never happen (escalated but no wait at all), where a model's answer means
    nothing — a linear model, for one, then prefers escalation.

    1. The step value of a conversation: the mean prediction over a background sample
       of conversations (``BACKGROUND_ROWS``) when their step is replaced by this
       conversation's version of it — how satisfied customers are, on average, after
       a step like this one, whatever else happened.
    2. The best and worst quartile: the quarter of conversations with the highest and
       the lowest step value.
    3. ``impact``: every conversation whose step value is below the best quartile gets,
       in turn, the step of ``REFERENCES`` random best-quartile conversations; the mean
       gain of its prediction, averaged over all conversations (those already in the
       best quartile gain 0) — the satisfaction points fixing the step is worth.
    4. ``score`` = 100 · (mean step value − worst quartile's) / (best quartile's −
       worst quartile's): where the average conversation stands between a bad and a
       good version of the step (100 when the model sees no difference, i.e. nothing
       to fix).
    5. ``weakest`` marks the step(s) with the largest impact, when it exceeds
       ``NO_IMPACT`` (0.01 points).

    The other steps stay as observed, so interactions count where they occur (a wait
    matters more in the conversations that also had fallbacks). Steps depend on each
    other in reality (fewer fallbacks, fewer escalations), which this does not model:
    the impact of a step is what fixing it alone is worth. Large frames are scored on
    a random sample of ``MAX_SCORE_ROWS`` conversations (deterministic).
    """
    effects = step_effects(model, X)
    return pd.DataFrame([{k: e[k] for k in ("step", "label", "score", "impact", "weakest")} for e in effects])


def holdout_metrics(model: Any, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float | None]:
    """Fit ``model`` on ``train``, measure it on ``test``: RMSE, MAE, R² and fit seconds."""
    started = time.perf_counter()
    model.fit(train[list(FEATURES)], train[TARGET])
    seconds = time.perf_counter() - started
    predicted = model.predict(test[list(FEATURES)])
    truth = test[TARGET].to_numpy()
    inner = model[-1] if isinstance(model, Pipeline) else model
    return {"rmse": _finite(math.sqrt(mean_squared_error(truth, predicted))),
            "mae": _finite(mean_absolute_error(truth, predicted)),
            "r2": _finite(r2_score(truth, predicted)) if len(truth) > 1 else None,
            "fit_seconds": round(seconds, 3),
            "evaluations": getattr(inner, "n_evaluations_", None)}


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
