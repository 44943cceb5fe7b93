"""analytics.association: the five steps on hand-checked examples and synthetic data.
(Long because each of the five steps has its hand-checked examples here.)"""
from __future__ import annotations

import functools
import io
import math

import numpy as np
import pandas as pd
import pytest

from analytics.association import (
    EFFICIENT_APRIORI,
    FPGROWTH,
    METHODS,
    association_rules,
    clean_transactions,
    frequent_itemsets,
    min_count,
    mine_rules,
    recommend,
    tune_min_support,
    useful_rules,
)
from analytics.experiments.association_compare import compare_implementations, same_rules
from bench.association import run as run_bench
from bench.association import synthetic_orders

F = frozenset


def lines(baskets: dict) -> pd.DataFrame:
    """{transaction id: [items]} → long DataFrame[transaction_id, item]."""
    return pd.DataFrame([(t, i) for t, items in baskets.items() for i in items], columns=["transaction_id", "item"])


# Five baskets, checked by hand:
#   茶 in 1,2,3,4 → 0.8   杯 in 1,2,3 → 0.6   壶 in 3,5 → 0.4
#   {茶,杯} 1,2,3 → 0.6   {茶,壶} 3 → 0.2   {杯,壶} 3 → 0.2   {茶,杯,壶} 3 → 0.2
FIVE = lines({1: ["茶", "杯"], 2: ["茶", "杯"], 3: ["茶", "杯", "壶"], 4: ["茶"], 5: ["壶"]})
FIVE_SUPPORT = {
    F({"茶"}): 0.8, F({"杯"}): 0.6, F({"壶"}): 0.4,
    F({"茶", "杯"}): 0.6, F({"茶", "壶"}): 0.2, F({"杯", "壶"}): 0.2, F({"茶", "杯", "壶"}): 0.2,
}


def as_dict(itemsets: pd.DataFrame) -> dict:
    return dict(zip(itemsets["itemsets"], itemsets["support"]))


def rule(rules: pd.DataFrame, antecedent: set, consequent: set) -> pd.Series:
    match = rules[(rules["antecedents"] == F(antecedent)) & (rules["consequents"] == F(consequent))]
    assert len(match) == 1, f"{antecedent} => {consequent} not found once"
    return match.iloc[0]


@functools.lru_cache(maxsize=None)  # the same few frames for several tests; nothing mutates them
def conversations(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Per-conversation facts with two planted drivers: low quality and a negative sentiment
    make detractors; the NEW10 offer makes repurchases."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        quality = rng.choice(["low", "ok", "high"], p=[0.2, 0.5, 0.3])
        sentiment = "negative" if rng.random() < (0.6 if quality == "low" else 0.1) else "neutral"
        offer = rng.choice(["NEW10", "VIP5", "none"], p=[0.25, 0.25, 0.5])
        facts = [f"stage={rng.choice(['new', 'active', 'lapsed'])}",
                 f"persona={rng.choice(['high_value', 'bargain', 'casual'])}",
                 f"quality={quality}", f"service={rng.choice(['low', 'high'])}",
                 f"handoff={rng.choice(['yes', 'no'], p=[0.2, 0.8])}", f"sentiment={sentiment}"]
        if offer != "none":
            facts.append(f"offer={offer}")
        p_detractor = 0.05 + (0.55 if quality == "low" else 0) + (0.3 if sentiment == "negative" else 0)
        facts.append("nps=" + ("detractor" if rng.random() < p_detractor else rng.choice(["passive", "promoter"])))
        facts.append("repurchase=" + ("yes" if rng.random() < (0.7 if offer == "NEW10" else 0.3) else "no"))
        rows += [(f"c{c}", fact) for fact in facts]
    return pd.DataFrame(rows, columns=["transaction_id", "item"])


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return clean_transactions(synthetic_orders(4000, n_items=60, seed=3))


# ---------------------------------------------------------------------------- step 1: clean

def test_clean_normalises_text_and_drops_duplicates_and_empties():
    raw = pd.DataFrame({
        "order": [1, 1, 1, 1, 2, 2, 2, None, 3, 3],
        "sku": ["　龙井茶 ", "龙井茶", "ＧＬＡＳＳ　Cup", "glass   cup", None, "  ", "\u3000", "茶盘", "Stage＝New", float("nan")],
    })
    out = clean_transactions(raw, transaction_col="order", item_col="sku")

    assert list(out.columns) == ["transaction_id", "item"]
    assert sorted(map(tuple, out.values.tolist())) == [(1, "glass cup"), (1, "龙井茶"), (3, "stage=new")]
    report = out.attrs["cleaning"]
    assert report["rows_in"] == 10
    assert report["missing"] == 3          # item None, item NaN, transaction None
    assert report["empty"] == 2            # "  " and the full-width space alone
    assert report["duplicates"] == 2       # the two respellings of 龙井茶 and glass cup
    assert report["rows_out"] == 3 and report["transactions_out"] == 2 and report["items_out"] == 3
    assert report["outlier_transactions"] == 0


def test_clean_drops_transactions_above_max_items():
    raw = lines({1: ["a", "b"], 2: ["a", "b", "c", "d"], 3: ["c"]})
    out = clean_transactions(raw, max_items=3)
    assert set(out["transaction_id"]) == {1, 3}
    assert out.attrs["cleaning"]["outlier_transactions"] == 1
    assert out.attrs["cleaning"]["outlier_rows"] == 4
    assert out.attrs["cleaning"]["max_items"] == 3


def test_clean_default_bound_drops_only_far_out_transactions():
    rng = np.random.default_rng(0)
    baskets = {t: [f"p{j}" for j in rng.choice(50, rng.integers(1, 5), replace=False)] for t in range(3000)}
    baskets["wholesale"] = [f"p{j}" for j in range(45)]
    out = clean_transactions(lines(baskets))
    assert "wholesale" not in set(out["transaction_id"])
    assert out.attrs["cleaning"]["outlier_transactions"] == 1
    assert out.attrs["cleaning"]["transactions_out"] == 3000


def test_clean_default_bound_keeps_small_and_uniform_data():
    assert clean_transactions(FIVE).attrs["cleaning"]["outlier_transactions"] == 0
    facts = clean_transactions(conversations(500))
    assert facts.attrs["cleaning"]["outlier_transactions"] == 0
    assert facts.attrs["cleaning"]["transactions_out"] == 500
    # one conversation with a fact more than 998 others: unusual, not an outlier
    uniform = lines({t: [f"f{j}={t % 2}" for j in range(9 if t == 0 else 8)] for t in range(999)})
    assert clean_transactions(uniform).attrs["cleaning"]["outlier_transactions"] == 0


@pytest.mark.parametrize("call", [
    lambda: clean_transactions([("1", "a")]),
    lambda: clean_transactions(pd.DataFrame({"transaction_id": [1]})),
    lambda: clean_transactions(pd.DataFrame({"order": [1], "item": ["a"]})),
    lambda: clean_transactions(pd.DataFrame({"transaction_id": [], "item": []})),
    lambda: clean_transactions(FIVE, max_items=0),
])
def test_clean_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- step 2: itemsets

@pytest.mark.parametrize("method", METHODS)
def test_supports_of_five_baskets(method):
    itemsets = frequent_itemsets(FIVE, 0.2, method=method)
    got = as_dict(itemsets)
    assert got.keys() == FIVE_SUPPORT.keys()
    for itemset, support in FIVE_SUPPORT.items():
        assert got[itemset] == pytest.approx(support, abs=1e-12)
    assert dict(zip(itemsets["itemsets"], itemsets["count"]))[F({"茶", "杯"})] == 3
    assert itemsets.attrs["n_transactions"] == 5
    assert list(itemsets["support"]) == sorted(itemsets["support"], reverse=True)


@pytest.mark.parametrize("method", METHODS)
def test_min_support_is_inclusive_despite_rounding(method):
    got = as_dict(frequent_itemsets(FIVE, 0.6, method=method))
    assert got.keys() == {F({"茶"}), F({"杯"}), F({"茶", "杯"})}
    # 0.28 * 25 is 7.000000000000001 in floating point; itemsets in exactly 7 of 25 count.
    baskets = lines({t: ["a", "b"] if t < 7 else ["c"] for t in range(25)})
    got = as_dict(frequent_itemsets(baskets, 0.28, method=method))
    assert got == pytest.approx({F({"a"}): 0.28, F({"b"}): 0.28, F({"a", "b"}): 0.28, F({"c"}): 0.72})


@pytest.mark.parametrize("n", [25, 999_983, 12_345_678, 300_000_007])
def test_a_count_as_support_maps_back_to_the_count(n):
    # tune_min_support returns k / N; frequent_itemsets must read that as k again.
    for k in np.random.default_rng(n).integers(1, n, 500).tolist() + [1, n - 1, n]:
        assert min_count(k / n, n) == k


@pytest.mark.parametrize("method", METHODS)
def test_max_len_and_unclean_duplicates(method):
    doubled = pd.concat([FIVE, FIVE], ignore_index=True)  # every line twice: support unchanged
    assert as_dict(frequent_itemsets(doubled, 0.2, method=method)) == pytest.approx(FIVE_SUPPORT)
    pairs = frequent_itemsets(FIVE, 0.2, method=method, max_len=2)
    assert max(map(len, pairs["itemsets"])) == 2
    singles = frequent_itemsets(FIVE, 0.2, method=method, max_len=1)
    assert set(singles["itemsets"]) == {F({"茶"}), F({"杯"}), F({"壶"})}


@pytest.mark.parametrize("method", METHODS)
def test_nothing_frequent_gives_empty_itemsets(method):
    itemsets = frequent_itemsets(FIVE, 1.0, method=method)
    assert len(itemsets) == 0 and list(itemsets.columns) == ["itemsets", "support", "count"]
    assert len(association_rules(itemsets, 0.5)) == 0


@pytest.mark.parametrize("support", [0, -0.1, 1.5, float("nan"), "0.1", True, None])
def test_frequent_itemsets_rejects_support_outside_0_1(support):
    with pytest.raises(ValueError, match="min_support"):
        frequent_itemsets(FIVE, support)


@pytest.mark.parametrize("call", [
    lambda: frequent_itemsets(FIVE, 0.2, method="apriori"),
    lambda: frequent_itemsets(FIVE.rename(columns={"item": "sku"}), 0.2),
    lambda: frequent_itemsets(FIVE.iloc[:0], 0.2),
    lambda: frequent_itemsets(pd.DataFrame({"transaction_id": [1, 2], "item": ["a", None]}), 0.2),
    lambda: frequent_itemsets(FIVE, 0.2, max_len=0),
])
def test_frequent_itemsets_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- step 3: rules

def test_confidence_lift_leverage_conviction_by_hand():
    rules = association_rules(frequent_itemsets(FIVE, 0.2), min_confidence=0.5, min_lift=0)

    cup_tea = rule(rules, {"杯"}, {"茶"})  # 3 of 3 cup baskets have tea
    assert cup_tea["support"] == pytest.approx(0.6)
    assert cup_tea["confidence"] == pytest.approx(1.0)
    assert cup_tea["lift"] == pytest.approx(1.0 / 0.8)
    assert cup_tea["leverage"] == pytest.approx(0.6 - 0.6 * 0.8)
    assert math.isinf(cup_tea["conviction"])
    assert cup_tea["count"] == 3

    tea_cup = rule(rules, {"茶"}, {"杯"})  # 3 of 4 tea baskets have a cup
    assert tea_cup["confidence"] == pytest.approx(0.75)
    assert tea_cup["lift"] == pytest.approx(0.75 / 0.6)
    assert tea_cup["conviction"] == pytest.approx((1 - 0.6) / (1 - 0.75))

    pot_tea = rule(rules, {"壶"}, {"茶"})  # 1 of 2: exactly at the threshold, kept
    assert pot_tea["confidence"] == pytest.approx(0.5) and pot_tea["lift"] == pytest.approx(0.625)

    two = rule(rules, {"杯", "壶"}, {"茶"})
    assert two["confidence"] == pytest.approx(1.0)
    # 茶 ⇒ 壶 has confidence 1/4: below 0.5.
    assert not ((rules["antecedents"] == F({"茶"})) & (rules["consequents"] == F({"壶"}))).any()
    assert (rules["confidence"] >= 0.5).all()


def test_min_lift_filters_rules():
    rules = association_rules(frequent_itemsets(FIVE, 0.2), min_confidence=0.5, min_lift=1.0)
    assert (rules["lift"] >= 1.0).all()
    assert not ((rules["antecedents"] == F({"壶"})) & (rules["consequents"] == F({"茶"}))).any()


def test_rules_agree_with_mlxtend_and_efficient_apriori_rule_generators(orders):
    from efficient_apriori import apriori
    from mlxtend.frequent_patterns import association_rules as mlxtend_rules

    itemsets = frequent_itemsets(orders, 0.01)
    ours = association_rules(itemsets, 0.2, min_lift=0)
    assert len(ours) > 20

    theirs = mlxtend_rules(itemsets[["support", "itemsets"]], num_itemsets=itemsets.attrs["n_transactions"],
                           metric="confidence", min_threshold=0.2)
    assert same_rules(ours, theirs)
    both = ours.merge(theirs, on=["antecedents", "consequents"], suffixes=("", "_m"))
    assert np.allclose(both["lift"], both["lift_m"]) and np.allclose(both["leverage"], both["leverage_m"])

    baskets = [tuple(g) for _, g in orders.groupby("transaction_id")["item"]]
    _, ea_rules = apriori(baskets, min_support=0.01, min_confidence=0.2, max_length=3)
    assert {(F(r.lhs), F(r.rhs)) for r in ea_rules} == set(zip(ours["antecedents"], ours["consequents"]))


@pytest.mark.parametrize("call", [
    lambda: association_rules(frequent_itemsets(FIVE, 0.2), 0),
    lambda: association_rules(frequent_itemsets(FIVE, 0.2), 1.01),
    lambda: association_rules(pd.DataFrame({"itemsets": [F({"a"})]}), 0.5),
    lambda: association_rules(frequent_itemsets(FIVE, 0.2), 0.5, min_lift=-1),
    # {a, b} without {b}: not the output of frequent_itemsets
    lambda: association_rules(pd.DataFrame({"itemsets": [F({"a"}), F({"a", "b"})], "support": [0.5, 0.4]}), 0.5),
])
def test_association_rules_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- implementations

@pytest.mark.parametrize("min_support,min_confidence", [(0.004, 0.1), (0.015, 0.2)])
def test_both_implementations_give_identical_rules(orders, min_support, min_confidence):
    by = {m: frequent_itemsets(orders, min_support, method=m) for m in METHODS}
    a, b = by[FPGROWTH], by[EFFICIENT_APRIORI]
    assert len(a) > 30
    assert as_dict(a).keys() == as_dict(b).keys()
    assert all(abs(as_dict(a)[s] - as_dict(b)[s]) <= 1e-9 for s in as_dict(a))
    rules_a, rules_b = (association_rules(x, min_confidence) for x in (a, b))
    assert len(rules_a) > 3 and same_rules(rules_a, rules_b)


def test_same_rules_notices_differences():
    rules = association_rules(frequent_itemsets(FIVE, 0.2), 0.5, min_lift=0)
    assert same_rules(rules, rules.iloc[::-1])
    assert not same_rules(rules, rules.iloc[1:])
    shifted = rules.assign(confidence=rules["confidence"] + np.where(rules.index == 0, 1e-6, 0))
    assert not same_rules(rules, shifted)


@pytest.mark.parametrize("isolate", [False, True])
def test_compare_implementations(orders, isolate):
    table = compare_implementations(orders, 0.01, 0.2, isolate=isolate)
    assert list(table["impl"]) == [FPGROWTH, EFFICIENT_APRIORI]
    assert {"impl", "seconds", "peak_mb", "n_itemsets", "n_rules", "same_rules"} <= set(table.columns)
    assert table["same_rules"].all()
    assert table["n_rules"].nunique() == 1 and table["n_rules"].iloc[0] > 0
    assert (table["seconds"] > 0).all()


def test_compare_implementations_rejects_bad_input(orders):
    with pytest.raises(ValueError):
        compare_implementations(orders, 0.01, 1.5)
    with pytest.raises(ValueError):
        compare_implementations(orders, 0.01, 0.2, methods=["nope"])


def test_bench_runs_both_on_the_same_data():
    table = run_bench(sizes=(1500,), n_items=40, min_support=0.01, isolate=False, out=io.StringIO())
    assert list(table["impl"]) == [FPGROWTH, EFFICIENT_APRIORI]
    assert table["same_rules"].all() and (table["n_transactions"] > 1400).all()


# ---------------------------------------------------------------------------- step 4: judge

def rules_frame(rows: list[tuple]) -> pd.DataFrame:
    """Hand-made rules: (antecedent, consequent, support, confidence, lift)."""
    return pd.DataFrame([(F(a), F(c), s, conf, lift) for a, c, s, conf, lift in rows],
                        columns=["antecedents", "consequents", "support", "confidence", "lift"])


HANDMADE = rules_frame([
    ({"quality=low"}, {"nps=detractor"}, 0.10, 0.60, 2.0),
    ({"quality=low", "stage=new"}, {"nps=detractor"}, 0.04, 0.55, 1.8),      # explained by the first
    ({"quality=low", "handoff=yes"}, {"nps=detractor"}, 0.03, 0.90, 3.0),    # more sure: kept
    ({"quality=low", "handoff=yes", "stage=new"}, {"nps=detractor"}, 0.01, 0.95, 3.2),  # too long
    ({"offer=new10"}, {"repurchase=yes"}, 0.10, 0.70, 1.6),
    ({"repurchase=no"}, {"nps=detractor"}, 0.12, 0.50, 1.7),                # outcome ⇒ outcome
    ({"quality=low"}, {"sentiment=negative"}, 0.08, 0.50, 2.5),             # not an outcome
    ({"stage=new"}, {"nps=promoter"}, 0.05, 0.40, 1.05),                    # lift too low
    ({"quality=low"}, {"nps=detractor", "sentiment=negative"}, 0.05, 0.40, 3.0),  # mixed consequent
])


def pairs(rules: pd.DataFrame) -> list[tuple[frozenset, frozenset]]:
    return list(zip(rules["antecedents"], rules["consequents"]))


def test_useful_rules_keeps_outcome_consequents_drops_redundant_and_ranks():
    out = useful_rules(HANDMADE, min_lift=1.1, consequent_prefixes=("nps=", "repurchase="))
    assert pairs(out) == [
        (F({"quality=low", "handoff=yes"}), F({"nps=detractor"})),   # 3.0 × 0.9 = 2.7
        (F({"quality=low"}), F({"nps=detractor"})),                  # 2.0 × 0.6 = 1.2
        (F({"offer=new10"}), F({"repurchase=yes"})),                 # 1.6 × 0.7 = 1.12
    ]
    assert out["score"].tolist() == pytest.approx([2.7, 1.2, 1.12])
    assert all(i.startswith(("nps=", "repurchase=")) for c in out["consequents"] for i in c)


def test_useful_rules_options():
    kept = pairs(useful_rules(HANDMADE, consequent_prefixes=["nps="], drop_redundant=False,
                              max_antecedent_len=None, allow_prefixed_antecedents=True))
    assert (F({"quality=low", "stage=new"}), F({"nps=detractor"})) in kept
    assert (F({"quality=low", "handoff=yes", "stage=new"}), F({"nps=detractor"})) in kept
    assert (F({"repurchase=no"}), F({"nps=detractor"})) in kept
    assert all(c == F({"nps=detractor"}) for _, c in kept)

    everything = useful_rules(HANDMADE, min_lift=1.0, drop_redundant=False, max_antecedent_len=None)
    assert len(everything) == len(HANDMADE)
    assert len(useful_rules(HANDMADE, top=2)) == 2
    assert pairs(useful_rules(HANDMADE, consequent_prefixes="repurchase=")) == [
        (F({"offer=new10"}), F({"repurchase=yes"}))]


def test_useful_rules_redundancy_on_mined_rules():
    facts = clean_transactions(conversations())
    rules = association_rules(frequent_itemsets(facts, 0.01), 0.3, min_lift=1.0)
    out = useful_rules(rules, min_lift=1.1, consequent_prefixes=("nps=", "repurchase="))
    confidence = dict(zip(pairs(rules), rules["confidence"]))
    for a, c in pairs(out):
        for item in a:  # no kept rule is as sure as one of its one-item-shorter rules
            shorter = (a - {item}, c)
            if len(a) > 1 and shorter in confidence:
                assert confidence[shorter] < confidence[(a, c)]


@pytest.mark.parametrize("call", [
    lambda: useful_rules(HANDMADE.drop(columns=["lift"])),
    lambda: useful_rules(HANDMADE, consequent_prefixes=[""]),
    lambda: useful_rules(HANDMADE, consequent_prefixes=[]),
    lambda: useful_rules(HANDMADE, top=0),
    lambda: useful_rules(HANDMADE, max_antecedent_len=0),
    lambda: useful_rules("rules"),
])
def test_useful_rules_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


def test_mine_rules_finds_what_drives_detractors():
    facts = clean_transactions(conversations())
    out = mine_rules(facts, min_support=0.01, min_confidence=0.3, min_lift=1.2,
                     consequent_prefixes=("nps=", "repurchase="))
    found = pairs(out)
    assert (F({"quality=low"}), F({"nps=detractor"})) in found
    assert (F({"offer=new10"}), F({"repurchase=yes"})) in found
    assert (F({"quality=low", "sentiment=negative"}), F({"nps=detractor"})) in found
    assert all(len(a) <= 2 for a, _ in found)
    # the consequent prefixes hold: no fact other than an outcome is explained
    assert all(i.split("=")[0] in ("nps", "repurchase") for _, c in found for i in c)


@pytest.mark.parametrize("method", METHODS)
# (20, 60) is met while halving the threshold; halving jumps from 13 to 26 rules over
# (15, 18), which only the bisection, on re-used itemsets, can hit.
@pytest.mark.parametrize("target", [(20, 60), (15, 18)])
def test_tune_min_support_lands_in_target_range(orders, method, target):
    support = tune_min_support(orders, target_rules=target, min_confidence=0.2, min_lift=1.1, method=method)
    assert 0 < support <= 1
    n = len(mine_rules(orders, support, 0.2, min_lift=1.1, method=method))
    assert target[0] <= n <= target[1]


def test_tune_min_support_on_conversation_outcomes():
    facts = clean_transactions(conversations())
    support = tune_min_support(facts, target_rules=(5, 15), min_confidence=0.3, min_lift=1.1,
                               consequent_prefixes=("nps=", "repurchase="))
    n = len(mine_rules(facts, support, 0.3, min_lift=1.1, consequent_prefixes=("nps=", "repurchase=")))
    assert 5 <= n <= 15


def test_tune_min_support_returns_nearest_when_range_is_unreachable():
    # Five baskets never give 50 rules: the search stops at its floor, the threshold with the
    # most rules it was allowed to try (2 baskets by default, 1 when asked).
    assert tune_min_support(FIVE, target_rules=(50, 60), min_confidence=0.5, min_lift=0) == pytest.approx(2 / 5)
    assert tune_min_support(FIVE, target_rules=(50, 60), min_confidence=0.5, min_lift=0,
                            min_count_floor=1) == pytest.approx(1 / 5)


@pytest.mark.parametrize("call", [
    lambda: tune_min_support(FIVE, target_rules=(20, 10)),
    lambda: tune_min_support(FIVE, target_rules=20),
    lambda: tune_min_support(FIVE, min_confidence=0),
    lambda: tune_min_support(FIVE.iloc[:0]),
    lambda: tune_min_support(FIVE, method="x"),
])
def test_tune_min_support_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- step 5: apply

BASKET_RULES = rules_frame([
    ({"龙井茶"}, {"玻璃杯"}, 0.20, 0.50, 2.0),
    ({"龙井茶"}, {"茶叶罐"}, 0.10, 0.30, 3.0),
    ({"龙井茶", "茶盘"}, {"茶叶罐"}, 0.05, 0.60, 4.0),    # a better reason for the same item
    ({"龙井茶"}, {"茶盘"}, 0.15, 0.40, 1.5),
    ({"紫砂壶"}, {"普洱茶"}, 0.10, 0.90, 5.0),           # antecedent not owned
    ({"龙井茶"}, {"保温杯", "茶巾"}, 0.05, 0.35, 1.4),
])


def test_recommend_ranks_by_confidence_and_excludes_owned_items():
    out = recommend(BASKET_RULES, ["龙井茶", "茶盘"], k=3)
    assert list(out.columns[:3]) == ["item", "confidence", "lift"] and "because" in out.columns
    assert out["item"].tolist() == ["茶叶罐", "玻璃杯", "保温杯"]
    assert out["confidence"].tolist() == [0.60, 0.50, 0.35]
    assert out["because"].tolist() == [["茶盘", "龙井茶"], ["龙井茶"], ["龙井茶"]]
    assert "茶盘" not in set(out["item"]) and "普洱茶" not in set(out["item"])


def test_recommend_normalises_items_and_honours_exclude_and_k():
    out = recommend(BASKET_RULES, ["　龙井茶 "], k=10)
    assert out["item"].tolist() == ["玻璃杯", "茶盘", "保温杯", "茶巾", "茶叶罐"]
    assert recommend(BASKET_RULES, "龙井茶", k=1)["item"].tolist() == ["玻璃杯"]
    assert "玻璃杯" not in set(recommend(BASKET_RULES, ["龙井茶"], exclude=["龙井茶", "玻璃杯"])["item"])
    assert recommend(BASKET_RULES, ["没有的商品"]).empty


def test_recommend_from_mined_rules(orders):
    rules = association_rules(frequent_itemsets(orders, 0.005), 0.1)
    basket = list(rules["antecedents"].iloc[0])
    out = recommend(rules, basket, k=3)
    assert 1 <= len(out) <= 3
    assert not set(out["item"]) & set(basket)
    assert out["confidence"].is_monotonic_decreasing


@pytest.mark.parametrize("call", [
    lambda: recommend(BASKET_RULES, ["龙井茶"], k=0),
    lambda: recommend(BASKET_RULES.drop(columns=["confidence"]), ["龙井茶"]),
    lambda: recommend(None, ["龙井茶"]),
])
def test_recommend_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()
