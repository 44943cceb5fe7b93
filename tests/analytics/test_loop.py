"""The loop's policy: rewards, weights, pins and vetoes, explanations (analytics/loop.py)."""
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from analytics.loop import (
    OUTPUT_COLUMNS,
    REWARD_WEIGHTS,
    LoopConfig,
    choose_weights,
    outcome_reward,
    summarize_choice,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def frame(rows):
    """rows: (group, arm, n, reward_sum, mode)."""
    return pd.DataFrame(rows, columns=["group", "arm", "n", "reward_sum", "mode"])


def by_arm(out, group):
    g = out[out["group"] == group]
    return dict(zip(g["arm"], g["weight"]))


# ----------------------------------------------------------------- outcome_reward

def test_reward_weights_sum_to_one():
    assert sum(REWARD_WEIGHTS.values()) == pytest.approx(1.0)
    assert REWARD_WEIGHTS == {"survey": 0.5, "repurchase": 0.3, "sentiment": 0.2}


@pytest.mark.parametrize(("overall", "expected"), [(1, 0.0), (2, 0.25), (3, 0.5), (4.5, 0.875), (5, 1.0)])
def test_survey_alone_maps_one_to_five_onto_zero_to_one(overall, expected):
    assert outcome_reward(overall=overall) == pytest.approx(expected)


def test_single_parts():
    assert outcome_reward(sentiment_after=0.3) == pytest.approx(0.3)
    assert outcome_reward(repurchased=True) == 1.0
    assert outcome_reward(repurchased=False) == 0.0


def test_all_parts_weighted_mean():
    r = outcome_reward(overall=4, sentiment_after=0.4, repurchased=True)
    assert r == pytest.approx(0.5 * 0.75 + 0.3 * 1.0 + 0.2 * 0.4)


def test_missing_parts_renormalise():
    # survey and sentiment only: (0.5 * 0.5 + 0.2 * 0.9) / 0.7
    assert outcome_reward(overall=3, sentiment_after=0.9) == pytest.approx((0.25 + 0.18) / 0.7)
    assert outcome_reward(overall=5, repurchased=False) == pytest.approx(0.5 / 0.8)
    assert outcome_reward(sentiment_after=1.0, repurchased=False) == pytest.approx(0.2 / 0.5)


def test_nothing_observed_is_none():
    assert outcome_reward() is None
    assert outcome_reward(None, None, None) is None
    assert outcome_reward(overall=float("nan"), sentiment_after=float("nan")) is None


def test_nan_counts_as_missing():
    assert outcome_reward(overall=float("nan"), sentiment_after=0.6) == pytest.approx(0.6)


def test_reward_always_in_unit_interval():
    for overall in (None, 1, 2.5, 5):
        for s in (None, 0.0, 0.5, 1.0):
            for rep in (None, True, False):
                r = outcome_reward(overall, s, rep)
                assert r is None or 0.0 <= r <= 1.0


def test_numpy_values_accepted():
    assert outcome_reward(np.int64(5), np.float64(0.5), np.bool_(True)) == pytest.approx(0.5 + 0.3 + 0.1)


@pytest.mark.parametrize("kwargs", [
    {"overall": 0}, {"overall": 6}, {"overall": 0.99}, {"overall": "5"}, {"overall": True},
    {"sentiment_after": -0.01}, {"sentiment_after": 1.2}, {"sentiment_after": "0.5"},
    {"repurchased": 2}, {"repurchased": "yes"},
])
def test_out_of_range_raises(kwargs):
    with pytest.raises(ValueError):
        outcome_reward(**kwargs)


# ----------------------------------------------------------------- choose_weights: invariants

def random_frame(seed, groups=5):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        k = int(rng.integers(1, 5))
        modes = rng.choice(["auto", "auto", "auto", "pinned", "vetoed"], size=k)
        if (modes == "pinned").sum() > 1:
            modes[modes == "pinned"] = "auto"
        for a in range(k):
            n = int(rng.integers(0, 200))
            rows.append((f"utter_greet|g{g}|*", 100 * g + a, n, float(rng.uniform(0, n)), str(modes[a])))
    return frame(rows)


@pytest.mark.parametrize("seed", range(6))
def test_weights_sum_to_one_per_group(seed):
    df = random_frame(seed)
    out = choose_weights(df)
    for group, g in out.groupby("group"):
        if (g["mode"] == "vetoed").all():
            assert (g["weight"] == 0).all()
        else:
            assert g["weight"].sum() == pytest.approx(1.0)
        assert (g["weight"] >= 0).all()
        usable = g[g["mode"] != "vetoed"]
        if len(usable):
            assert usable["p_best"].sum() == pytest.approx(1.0)


def test_output_shape_order_and_index():
    df = random_frame(1)
    df.index = [f"r{i}" for i in range(len(df))]
    out = choose_weights(df)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert list(out.index) == list(df.index)
    assert list(out["arm"]) == list(df["arm"])
    assert list(out["group"]) == list(df["group"])
    assert list(out["n"]) == list(df["n"])


def test_input_not_modified():
    df = random_frame(2)
    before = df.copy()
    choose_weights(df)
    pd.testing.assert_frame_equal(df, before)


def test_empty_input_gives_empty_output():
    out = choose_weights(frame([]))
    assert out.empty and list(out.columns) == list(OUTPUT_COLUMNS)


def test_posterior_mean_uses_prior_pseudo_observations():
    out = choose_weights(frame([("g", 1, 10, 7.5, "auto"), ("g", 2, 0, 0.0, "auto")]),
                         LoopConfig(prior_strength=4.0))
    assert out["mean"].tolist() == pytest.approx([(2 + 7.5) / (4 + 10), 0.5])


def test_p_best_matches_exact_two_arm_probability():
    df = frame([("g", 1, 40, 26.0, "auto"), ("g", 2, 30, 18.0, "auto")])
    out = choose_weights(df, LoopConfig(draws=40000))
    a1, b1, a2, b2 = 1 + 26, 1 + 14, 1 + 18, 1 + 12
    exact, _ = integrate.quad(lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a2, b2), 0, 1)
    assert out["p_best"].iloc[0] == pytest.approx(exact, abs=0.01)
    # weight = (1 - 0.1) * p_best + 0.1 / 2
    assert out["weight"].iloc[0] == pytest.approx(0.9 * out["p_best"].iloc[0] + 0.05)


# ----------------------------------------------------------------- behaviour

def test_clearly_better_arm_gets_most_weight():
    df = frame([("g", 1, 200, 160.0, "auto"), ("g", 2, 200, 100.0, "auto"), ("g", 3, 200, 90.0, "auto")])
    out = choose_weights(df)
    w = by_arm(out, "g")
    assert w[1] > 0.9
    assert out.loc[out["arm"] == 1, "p_best"].item() > 0.99
    assert out["mean"].iloc[0] > out["mean"].iloc[1] > out["mean"].iloc[2]


def test_exploration_floor_respected():
    df = frame([("g", 1, 500, 450.0, "auto"), ("g", 2, 500, 50.0, "auto"),
                ("g", 3, 500, 40.0, "auto"), ("g", 4, 500, 30.0, "auto")])
    for eps in (0.0, 0.1, 0.3, 1.0):
        w = by_arm(choose_weights(df, LoopConfig(exploration=eps)), "g")
        assert min(w.values()) >= eps / 4 - 1e-12
        assert sum(w.values()) == pytest.approx(1.0)
    assert by_arm(choose_weights(df, LoopConfig(exploration=0.3)), "g")[2] == pytest.approx(0.3 / 4, abs=1e-3)
    assert set(by_arm(choose_weights(df, LoopConfig(exploration=1.0)), "g").values()) == {0.25}


def test_few_observations_gives_even_weights():
    df = frame([("g", 1, 3, 3.0, "auto"), ("g", 2, 4, 0.0, "auto"), ("g", 3, 0, 0.0, "auto")])
    out = choose_weights(df)
    assert out["weight"].tolist() == pytest.approx([1 / 3] * 3)
    assert out["explanation"].tolist() == [
        "数据不足（3 次），继续探索", "数据不足（4 次），继续探索", "数据不足（0 次），继续探索"]


def test_unmeasured_arm_keeps_at_least_an_even_share():
    # arm 3 is new; arms 1 and 2 are measured and 1 is clearly better
    df = frame([("g", 1, 300, 240.0, "auto"), ("g", 2, 300, 120.0, "auto"), ("g", 3, 2, 0.0, "auto")])
    out = choose_weights(df)
    w = by_arm(out, "g")
    assert w[3] >= 1 / 3 - 1e-12
    assert w[1] > w[2] >= 0.1 / 3 - 1e-12
    assert sum(w.values()) == pytest.approx(1.0)
    assert out.loc[out["arm"] == 3, "explanation"].item() == "数据不足（2 次），继续探索"


def test_min_observations_zero_uses_thompson_alone():
    df = frame([("g", 1, 3, 3.0, "auto"), ("g", 2, 3, 0.0, "auto")])
    w = by_arm(choose_weights(df, LoopConfig(min_observations=0)), "g")
    assert w[1] > 0.8


def test_single_auto_arm_gets_everything():
    out = choose_weights(frame([("g", 7, 12, 3.0, "auto"), ("g", 8, 50, 45.0, "vetoed")]))
    assert by_arm(out, "g") == {7: 1.0, 8: 0.0}
    assert CJK.search(out["explanation"].iloc[0])


def test_vetoed_arm_gets_zero_even_if_best():
    df = frame([("g", 1, 300, 290.0, "vetoed"), ("g", 2, 300, 150.0, "auto"), ("g", 3, 300, 100.0, "auto")])
    out = choose_weights(df)
    w = by_arm(out, "g")
    assert w[1] == 0.0
    assert w[2] + w[3] == pytest.approx(1.0)
    assert w[2] > 0.9
    row = out[out["arm"] == 1].iloc[0]
    assert row["p_best"] == 0.0
    assert row["explanation"] == "管理员否决，不再使用"
    assert row["mean"] > 0.9  # still reported, so the admin sees what the veto costs


def test_all_vetoed_group_gets_zero_weights():
    out = choose_weights(frame([("g", 1, 10, 5.0, "vetoed"), ("g", 2, 10, 5.0, "vetoed"),
                                ("h", 1, 10, 5.0, "auto")]))
    assert by_arm(out, "g") == {1: 0.0, 2: 0.0}
    assert by_arm(out, "h") == {1: 1.0}


def test_pinned_group_ignores_the_data():
    df = frame([("g", 1, 300, 30.0, "pinned"), ("g", 2, 300, 280.0, "auto"), ("g", 3, 5, 1.0, "vetoed"),
                ("h", 1, 300, 280.0, "auto"), ("h", 2, 300, 30.0, "auto")])
    out = choose_weights(df)
    assert by_arm(out, "g") == {1: 1.0, 2: 0.0, 3: 0.0}
    g = out[out["group"] == "g"].set_index("arm")
    assert g.loc[1, "explanation"].startswith("管理员固定使用")
    assert "管理员固定" in g.loc[2, "explanation"]
    assert g.loc[3, "explanation"] == "管理员否决，不再使用"
    # the data is still reported: the pinned arm is unlikely to be the best
    assert g.loc[1, "p_best"] < 0.01 and g.loc[2, "p_best"] > 0.99
    # the other group is not affected by the pin
    assert by_arm(out, "h")[1] > 0.9


def test_two_pinned_arms_share_evenly():
    out = choose_weights(frame([("g", 1, 0, 0.0, "pinned"), ("g", 2, 0, 0.0, "pinned"), ("g", 3, 0, 0.0, "auto")]))
    assert by_arm(out, "g") == {1: 0.5, 2: 0.5, 3: 0.0}


# ----------------------------------------------------------------- explanations

def test_explanations_present_and_chinese():
    out = choose_weights(random_frame(3, groups=8))
    assert out["explanation"].map(lambda s: isinstance(s, str) and bool(CJK.search(s))).all()


def test_measured_explanation_format():
    df = frame([("g", 1, 48, 34.0, "auto"), ("g", 2, 52, 20.0, "auto")])
    out = choose_weights(df)
    e = out["explanation"].iloc[0]
    assert re.fullmatch(r"平均得分 0\.\d\d（48 次），最优概率 \d{1,3}%；另保留 10% 流量探索", e), e
    assert f"{out['mean'].iloc[0]:.2f}" in e
    assert f"{round(out['p_best'].iloc[0] * 100)}%" in e
    no_explore = choose_weights(df, LoopConfig(exploration=0.0))["explanation"].iloc[0]
    assert "探索" not in no_explore and no_explore.startswith("平均得分")


# ----------------------------------------------------------------- determinism and grouping

def test_deterministic_for_a_seed():
    df = random_frame(4)
    pd.testing.assert_frame_equal(choose_weights(df, LoopConfig(seed=7)), choose_weights(df, LoopConfig(seed=7)))
    close = frame([("g", 1, 30, 15.0, "auto"), ("g", 2, 30, 16.0, "auto"), ("g", 3, 30, 14.0, "auto")])
    a = choose_weights(close, LoopConfig(seed=1))["p_best"]
    b = choose_weights(close, LoopConfig(seed=2))["p_best"]
    assert not np.allclose(a, b)  # the seed matters (Monte Carlo)...
    assert np.allclose(a, b, atol=0.05)  # ...but only a little


def test_row_order_and_other_groups_do_not_matter():
    df = random_frame(5)
    out = choose_weights(df).set_index(["group", "arm"]).sort_index()
    shuffled = choose_weights(df.sample(frac=1.0, random_state=1)).set_index(["group", "arm"]).sort_index()
    pd.testing.assert_frame_equal(out, shuffled)
    one = df[df["group"] == df["group"].iloc[0]]
    alone = choose_weights(one).set_index(["group", "arm"]).sort_index()
    pd.testing.assert_frame_equal(alone, out.loc[alone.index])


def test_tuple_groups_and_sparse_arm_ids():
    df = frame([(("utter_greet", "new", None), 1042, 100, 80.0, "auto"),
                (("utter_greet", "new", None), 7, 100, 40.0, "auto"),
                (("offer", "new"), 3, 0, 0.0, "auto")])
    out = choose_weights(df)
    assert by_arm(out, ("utter_greet", "new", None))[1042] > 0.9
    assert by_arm(out, ("offer", "new")) == {3: 1.0}


# ----------------------------------------------------------------- validation

GOOD = [("g", 1, 10, 5.0, "auto"), ("g", 2, 10, 5.0, "auto")]


@pytest.mark.parametrize("column", ["group", "arm", "n", "reward_sum", "mode"])
def test_missing_column_raises(column):
    with pytest.raises(ValueError, match=column):
        choose_weights(frame(GOOD).drop(columns=[column]))


@pytest.mark.parametrize("row", [
    ("g", 2, -1, 0.0, "auto"),      # negative n
    ("g", 2, 2.5, 1.0, "auto"),     # fractional n
    ("g", 2, 10, 10.5, "auto"),     # reward_sum > n
    ("g", 2, 10, -0.5, "auto"),     # reward_sum < 0
    ("g", 2, 10, float("nan"), "auto"),
    ("g", 2, 10, 5.0, "paused"),    # unknown mode
    ("g", 2, 10, 5.0, None),
    ("g", 1, 10, 5.0, "auto"),      # repeated arm
])
def test_bad_rows_raise(row):
    with pytest.raises(ValueError):
        choose_weights(frame([GOOD[0], row]))


@pytest.mark.parametrize("config", [
    LoopConfig(exploration=-0.1), LoopConfig(exploration=1.1), LoopConfig(exploration=float("nan")),
    LoopConfig(prior_strength=0), LoopConfig(min_observations=-1), LoopConfig(draws=0),
])
def test_bad_config_raises(config):
    with pytest.raises(ValueError):
        choose_weights(frame(GOOD), config)


def test_not_a_frame_raises():
    with pytest.raises(ValueError):
        choose_weights([{"group": "g"}])


def test_reward_sum_rounding_is_tolerated():
    out = choose_weights(frame([("g", 1, 10, 10 + 1e-12, "auto"), ("g", 2, 10, 0.0, "auto")]))
    assert math.isclose(out["weight"].sum(), 1.0)


# ----------------------------------------------------------------- summarize_choice

def test_summarize_choice_one_row_per_group():
    df = frame([("g", 1, 200, 60.0, "auto"), ("g", 2, 200, 160.0, "auto"),
                ("p", 1, 10, 1.0, "pinned"), ("p", 2, 10, 9.0, "auto"),
                ("v", 1, 10, 5.0, "vetoed"),
                ("n", 5, 0, 0.0, "auto"), ("n", 4, 0, 0.0, "auto")])
    weights = choose_weights(df)
    s = summarize_choice(weights).set_index("group")
    assert list(s.index) == ["g", "p", "v", "n"]
    assert s.loc["g", "chosen"] == 2 and s.loc["g", "weight"] > 0.9
    assert s.loc["g", "mean"] == pytest.approx(weights.loc[1, "mean"])
    assert s.loc["g", "explanation"] == weights.loc[1, "explanation"]
    assert s.loc["p", "chosen"] == 1 and s.loc["p", "weight"] == 1.0
    assert "管理员固定" in s.loc["p", "explanation"]
    assert s.loc["v", "chosen"] is None and s.loc["v", "weight"] == 0.0
    assert CJK.search(s.loc["v", "explanation"])
    assert s.loc["n", "chosen"] == 4  # a tie: the smallest id
    assert s.loc["n", "explanation"] == "数据不足（0 次），继续探索"


def test_summarize_choice_needs_choose_weights_output():
    with pytest.raises(ValueError):
        summarize_choice(frame(GOOD))
