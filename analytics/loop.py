"""The loop: how the nightly job turns measured outcomes into reply and offer weights.

Pure functions on pandas frames, no database: the job reads the outcomes, calls
:func:`choose_weights` and writes the weights and explanations back.

The problem
-----------
For one *group* (a response template for one stage and persona, e.g. ``"utter_greet|new|*"``,
or the offers of one priority that fit one stage, ``"offer|new|10"``) admins wrote several alternatives, the
*arms*. The bot picks one per conversation at random by ``weight``. Each time an arm is
used we later observe an outcome and turn it into a reward in [0, 1]
(:func:`outcome_reward`). We want most traffic on the arm that works best, while still
measuring the others, and without trusting a handful of lucky conversations.

The method: Thompson sampling with fractional Beta updates
----------------------------------------------------------
Each arm's mean reward gets a Beta posterior. A reward is a fraction, not a success or
failure, so a conversation with reward r counts as r of a success and 1 - r of a failure
(the "fractional" or Bernoulli-trick update): with ``reward_sum`` the sum of the arm's n
rewards,

    alpha = prior_strength * 0.5 + reward_sum
    beta  = prior_strength * 0.5 + n - reward_sum

The prior is ``prior_strength`` pseudo-observations at 0.5, so a new arm starts at "no
idea, probably average" and two or three conversations cannot swing it far.

From the posteriors we estimate by Monte Carlo ``p_best``: the probability that the arm
is the best of its group (draw every arm's mean ``draws`` times, count how often each
draw is the largest). Thompson sampling sends traffic in proportion to exactly this: an
arm that is clearly best gets nearly all of it, arms that might still be best keep a
share that shrinks as the evidence grows. It needs no tuning beyond the prior, behaves
well with few data and treats a large and a small group alike.

Why an exploration floor
------------------------
Pure Thompson sampling can all but stop using an arm that had an unlucky first week:
with p_best near 0 it gets almost no traffic, so its estimate never recovers, and if the
customers change (a new season, a new campaign) nobody would notice that it became good.
So a share ``exploration`` of the traffic is always spread evenly:

    weight = (1 - exploration) * p_best + exploration / K       (K auto arms)

and an arm with fewer than ``min_observations`` outcomes keeps at least an even share
(1/K) until it has been measured (its explanation says so).

Why admins override
-------------------
The loop only sees the reward. It does not know that a text is about to be legally wrong,
that a coupon's budget ran out, or that a brand tone is required. An admin can **pin** an
arm (the group always uses it; the loop leaves the group alone until the pin is lifted)
or **veto** one (weight 0, never chosen by the loop, even if it scores well). Both are
decisions the loop must respect, not data it may outvote; the outcomes of pinned and
vetoed arms are still reported (``mean``, ``p_best``) so the admin can see what the pin
or veto costs.

Every arm gets a short Chinese explanation for the admin console, e.g.
"平均得分 0.72（48 次），最优概率 83%；另保留 10% 流量探索".
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

# How much each observed part counts in the reward (a weighted mean of the parts present).
# The survey is the customer's own verdict, so it counts most; a repurchase is the outcome
# the shop cares about but depends on much more than one conversation; the sentiment of the
# customer's next message is always at hand but is the noisiest.
REWARD_WEIGHTS: dict[str, float] = {"survey": 0.5, "repurchase": 0.3, "sentiment": 0.2}

MODES = ("auto", "pinned", "vetoed")
INPUT_COLUMNS = ("group", "arm", "n", "reward_sum", "mode")
OUTPUT_COLUMNS = ("group", "arm", "mode", "n", "mean", "p_best", "weight", "explanation")
SUMMARY_COLUMNS = ("group", "chosen", "mode", "n", "weight", "mean", "p_best", "explanation")

# reward_sum may exceed n (or go below 0) by float rounding of a long sum
_TOLERANCE = 1e-9


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def outcome_reward(overall: float | None = None, sentiment_after: float | None = None,
                   repurchased: bool | None = None) -> float | None:
    """The reward in [0, 1] of one conversation, from what was observed after it.

    - ``overall``: the survey's overall score 1–5, mapped to (overall - 1) / 4;
    - ``sentiment_after``: P(positive) of the customer's next message, in [0, 1];
    - ``repurchased``: whether the customer bought again within the window, 1 or 0.

    The reward is the mean of the parts present weighted by :data:`REWARD_WEIGHTS`
    (survey 0.5, repurchase 0.3, sentiment 0.2), so a missing part does not count as
    bad. ``None`` (or NaN) means not observed; with nothing observed the result is None.
    Out-of-range values raise ValueError.
    """
    parts: list[tuple[float, float]] = []
    if not _missing(overall):
        if isinstance(overall, bool) or not isinstance(overall, Real) or not 1 <= overall <= 5:
            raise ValueError(f"overall must be a score from 1 to 5, not {overall!r}")
        parts.append((REWARD_WEIGHTS["survey"], (float(overall) - 1) / 4))
    if not _missing(repurchased):
        if not isinstance(repurchased, (bool, np.bool_)) and repurchased not in (0, 1):
            raise ValueError(f"repurchased must be True or False, not {repurchased!r}")
        parts.append((REWARD_WEIGHTS["repurchase"], 1.0 if repurchased else 0.0))
    if not _missing(sentiment_after):
        if (isinstance(sentiment_after, bool) or not isinstance(sentiment_after, Real)
                or not 0 <= sentiment_after <= 1):
            raise ValueError(f"sentiment_after must be a probability in [0, 1], not {sentiment_after!r}")
        parts.append((REWARD_WEIGHTS["sentiment"], float(sentiment_after)))
    if not parts:
        return None
    return sum(w * x for w, x in parts) / sum(w for w, _ in parts)


@dataclass(frozen=True)
class LoopConfig:
    """The loop's settings (checked by :func:`choose_weights`, like an estimator's ``fit``).

    - ``exploration``: share of each group's traffic spread evenly over its auto arms, in [0, 1].
    - ``prior_strength``: pseudo-observations at the prior mean 0.5 (> 0).
    - ``min_observations``: an arm with fewer outcomes keeps at least an even share.
    - ``draws``: Monte Carlo draws for ``p_best``.
    - ``seed``: for the draws; the same outcomes and seed give the same weights (None: random).
    """

    exploration: float = 0.1
    prior_strength: float = 2.0
    min_observations: int = 10
    draws: int = 4000
    seed: int | None = 0

    def validate(self) -> None:
        if isinstance(self.exploration, bool) or not isinstance(self.exploration, Real) \
                or not 0 <= self.exploration <= 1:
            raise ValueError(f"exploration must be in [0, 1], not {self.exploration!r}")
        if isinstance(self.prior_strength, bool) or not isinstance(self.prior_strength, Real) \
                or not self.prior_strength > 0 or math.isinf(self.prior_strength):
            raise ValueError(f"prior_strength must be a positive number, not {self.prior_strength!r}")
        if not isinstance(self.min_observations, Integral) or self.min_observations < 0:
            raise ValueError(f"min_observations must be an integer >= 0, not {self.min_observations!r}")
        if not isinstance(self.draws, Integral) or self.draws < 1:
            raise ValueError(f"draws must be an integer >= 1, not {self.draws!r}")
        if self.seed is not None and (not isinstance(self.seed, Integral) or self.seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, not {self.seed!r}")


def _check_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(outcomes, pd.DataFrame):
        raise ValueError("outcomes must be a pandas DataFrame")
    missing = [c for c in INPUT_COLUMNS if c not in outcomes.columns]
    if missing:
        raise ValueError(f"outcomes lacks column(s): {', '.join(missing)}")
    df = outcomes.loc[:, list(INPUT_COLUMNS)].copy()
    if df.empty:
        return df
    try:
        n = pd.to_numeric(df["n"]).astype(float)
        reward_sum = pd.to_numeric(df["reward_sum"]).astype(float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"n and reward_sum must be numbers: {e}") from None
    if n.isna().any() or reward_sum.isna().any():
        raise ValueError("n and reward_sum must not be missing")
    if (n < 0).any():
        raise ValueError("n must be >= 0")
    if (n != np.floor(n)).any() or np.isinf(n).any():
        raise ValueError("n must be a whole number of observations")
    if (reward_sum < -_TOLERANCE).any() or (reward_sum > n + _TOLERANCE).any():
        raise ValueError("reward_sum must be within [0, n] (each reward is in [0, 1])")
    bad = sorted({repr(m) for m in df["mode"] if m not in MODES})
    if bad:
        raise ValueError(f"unknown mode(s) {', '.join(bad)}; expected one of {', '.join(MODES)}")
    if df["group"].isna().any() or df["arm"].isna().any():
        raise ValueError("group and arm must not be missing")
    if df.duplicated(["group", "arm"]).any():
        raise ValueError("each (group, arm) must appear once")
    df["n"] = n.astype(int)
    df["reward_sum"] = reward_sum.clip(lower=0.0, upper=n)
    return df


def _group_seed(seed: int, group: object) -> list[int]:
    """A seed for one group: the same whatever other groups are in the frame."""
    return [seed, zlib.crc32(repr(group).encode("utf-8"))]


def _p_best(alpha: np.ndarray, beta: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Monte Carlo probability that each arm has the highest mean."""
    k = len(alpha)
    if k == 0:
        return np.zeros(0)
    if k == 1:
        return np.ones(1)
    samples = rng.beta(alpha, beta, size=(draws, k))
    return np.bincount(samples.argmax(axis=1), minlength=k) / draws


def _floor_for_unmeasured(p: np.ndarray, unmeasured: np.ndarray) -> np.ndarray:
    """Raise arms with too few observations to an even share, the rest share what is left.

    Water-filling: an unmeasured arm below 1/K is set to 1/K; the others are scaled to fill
    the remainder, which may push another unmeasured arm below 1/K, so repeat (at most K times).
    """
    k = len(p)
    q = p.astype(float).copy()
    fixed = np.zeros(k, dtype=bool)
    for _ in range(k):
        low = unmeasured & ~fixed & (q < 1 / k - 1e-12)
        if not low.any():
            break
        fixed |= low
        q[fixed] = 1 / k
        rest = ~fixed
        left = 1 - fixed.sum() / k
        total = q[rest].sum()
        if rest.any():
            q[rest] = q[rest] / total * left if total > 0 else left / rest.sum()
    return q


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def choose_weights(outcomes: pd.DataFrame, config: LoopConfig = LoopConfig()) -> pd.DataFrame:
    """Each arm's weight for the next period, from the outcomes so far.

    ``outcomes`` has one row per arm: ``group`` (hashable), ``arm`` (id), ``n`` (number of
    outcomes, >= 0), ``reward_sum`` (sum of their rewards, in [0, n]) and ``mode``
    (``"auto"``, ``"pinned"`` or ``"vetoed"``).

    Returns one row per input row (same order and index) with ``group, arm, mode, n, mean,
    p_best, weight, explanation``:

    - ``mean``: the posterior mean reward;
    - ``p_best``: probability that the arm is the best of the arms of its group that are not
      vetoed (vetoed arms: 0);
    - ``weight``: sums to 1 within each group. Vetoed arms get 0. If a group has a pinned
      arm, it gets 1 and the others 0 (several pinned arms share evenly). Otherwise
      ``(1 - exploration) * p_best + exploration / K`` over the K auto arms, where arms
      with fewer than ``min_observations`` outcomes first get at least 1/K of ``p_best``
      (so at least an even share of the traffic). A group whose arms are all vetoed gets
      weights 0 (the only group whose weights do not sum to 1: nothing may be said).
    - ``explanation``: why, in Chinese, for the admin console.

    Raises ValueError for missing columns, negative or fractional ``n``, ``reward_sum``
    outside [0, n], an unknown mode, a repeated (group, arm) or an invalid config.
    """
    if not isinstance(config, LoopConfig):
        raise ValueError("config must be a LoopConfig")
    config.validate()
    df = _check_outcomes(outcomes)
    out = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                        zip(OUTPUT_COLUMNS, (object, object, object, int, float, float, float, object))})
    if df.empty:
        return out

    half = config.prior_strength * 0.5
    alpha = half + df["reward_sum"].to_numpy(float)
    beta = half + df["n"].to_numpy(float) - df["reward_sum"].to_numpy(float)
    mean = alpha / (alpha + beta)
    p_best = np.zeros(len(df))
    weight = np.zeros(len(df))
    explanation = np.empty(len(df), dtype=object)
    n_all = df["n"].to_numpy(int)
    modes = df["mode"].to_numpy(object)
    arms = df["arm"].to_numpy(object)
    eps = float(config.exploration)

    for group, pos in df.groupby("group", sort=False).indices.items():
        # a fixed order inside the group, so the input's row order does not matter
        pos = np.array(sorted(pos, key=lambda i: _sort_key(arms[i])), dtype=int)
        rng = np.random.default_rng(None if config.seed is None else _group_seed(config.seed, group))
        usable = pos[modes[pos] != "vetoed"]
        p_best[usable] = _p_best(alpha[usable], beta[usable], config.draws, rng)
        pinned = pos[modes[pos] == "pinned"]
        auto = pos[modes[pos] == "auto"]

        for i in pos[modes[pos] == "vetoed"]:
            explanation[i] = "管理员否决，不再使用"
        if len(pinned):
            weight[pinned] = 1 / len(pinned)
            names = "、".join(str(a) for a in arms[pinned])
            for i in pinned:
                stats = _stats(mean[i], n_all[i])
                also = f"（本组共 {len(pinned)} 个固定项，平均分配）" if len(pinned) > 1 else ""
                explanation[i] = f"管理员固定使用{also}；{stats}"
            for i in auto:
                explanation[i] = (f"本组已由管理员固定（使用编号 {names}），循环暂不调整；"
                                  f"{_stats(mean[i], n_all[i])}")
            continue
        k = len(auto)
        if k == 0:
            continue
        if k == 1:
            i = auto[0]
            weight[i] = 1.0
            explanation[i] = f"本组唯一可用的一项，使用全部流量；{_stats(mean[i], n_all[i])}"
            continue
        # p_best among the auto arms (here: all usable arms, as none is pinned)
        unmeasured = n_all[auto] < config.min_observations
        q = _floor_for_unmeasured(p_best[auto], unmeasured)
        w = (1 - eps) * q + eps / k
        weight[auto] = w / w.sum()
        explore = f"；另保留 {_pct(eps)} 流量探索" if eps > 0 else ""
        for i, few in zip(auto, unmeasured):
            if few:
                explanation[i] = f"数据不足（{n_all[i]} 次），继续探索"
            else:
                explanation[i] = (f"平均得分 {mean[i]:.2f}（{n_all[i]} 次），"
                                  f"最优概率 {_pct(p_best[i])}{explore}")

    out = pd.DataFrame({
        "group": df["group"].to_numpy(object),
        "arm": df["arm"].to_numpy(),
        "mode": modes,
        "n": n_all,
        "mean": mean,
        "p_best": p_best,
        "weight": weight,
        "explanation": explanation,
    }, index=df.index)
    return out


def _sort_key(arm: object) -> tuple[int, object]:
    # ints (and numpy ints) sort numerically, anything else by its text, never mixed up
    if isinstance(arm, Integral):
        return (0, int(arm))
    return (1, str(arm))


def _stats(mean: float, n: int) -> str:
    if n == 0:
        return "尚无数据"
    return f"平均得分 {mean:.2f}（{n} 次）"


def summarize_choice(weights_df: pd.DataFrame) -> pd.DataFrame:
    """One row per group for the admin console: the arm with the largest weight.

    Columns ``group, chosen, mode, n, weight, mean, p_best, explanation`` (the chosen arm's
    values; on a tie the smallest arm id). A group whose arms are all vetoed has
    ``chosen`` None, weight 0 and says so.
    """
    missing = [c for c in OUTPUT_COLUMNS if c not in weights_df.columns]
    if missing:
        raise ValueError(f"weights_df lacks column(s): {', '.join(missing)} (pass choose_weights' result)")
    rows = []
    for group, g in weights_df.groupby("group", sort=False):
        order = sorted(range(len(g)), key=lambda j: (-g["weight"].iloc[j], _sort_key(g["arm"].iloc[j])))
        best = g.iloc[order[0]]
        if best["weight"] <= 0:
            rows.append({"group": group, "chosen": None, "mode": "vetoed", "n": int(g["n"].sum()),
                         "weight": 0.0, "mean": float("nan"), "p_best": 0.0,
                         "explanation": "本组全部被管理员否决，其中任何一项都不再使用"})
            continue
        rows.append({"group": group, "chosen": best["arm"], "mode": best["mode"], "n": int(best["n"]),
                     "weight": float(best["weight"]), "mean": float(best["mean"]),
                     "p_best": float(best["p_best"]), "explanation": best["explanation"]})
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    # ids stay ids (not floats) even when a group has none chosen
    out["chosen"] = pd.Series([r["chosen"] for r in rows], index=out.index, dtype=object)
    return out
