"""Association-rule mining in the patent's five steps, on pandas DataFrames.

Transactions are a long DataFrame with one row per (transaction, item):

* order baskets: ``transaction_id`` = order, ``item`` = product name or SKU ("龙井茶");
* conversation facts: ``transaction_id`` = conversation, ``item`` = a fact such as
  ``"stage=new"``, ``"quality=low"``, ``"offer=new10"`` and outcome items
  ``"nps=detractor"``, ``"repurchase=no"``.

The five steps and the function for each:

1. **Clean** — :func:`clean_transactions`: normalise item text (NFKC, so full-width spaces,
   letters and "＝" become their ASCII forms; whitespace collapsed; lower case), drop
   missing and empty items, drop duplicate (transaction, item) rows, drop outlier
   transactions with far more distinct items than the rest. What was dropped is counted in
   ``result.attrs["cleaning"]``.
2. **Frequent itemsets** — :func:`frequent_itemsets`: every itemset (up to ``max_len``
   items) in at least ``min_support`` of the transactions, by FP-growth (mlxtend, on a
   sparse one-hot matrix) or Apriori (efficient-apriori). Both give the same itemsets
   (``analytics.experiments.association_compare`` checks it and measures time and memory).
3. **Rules** — :func:`association_rules`: every rule ``antecedents ⇒ consequents`` from the
   itemsets with confidence ≥ ``min_confidence`` and lift ≥ ``min_lift``, with support,
   confidence, lift, leverage and conviction.
4. **Judge and tune** — :func:`useful_rules` keeps the rules worth acting on (lift above a
   threshold, short antecedents, only outcome consequents if asked, no rule that a simpler
   rule already explains) and ranks them by lift × confidence;
   :func:`tune_min_support` searches the support threshold that yields a workable number of
   rules. :func:`mine_rules` runs steps 2–4 in one call.
5. **Apply** — :func:`recommend`: related products for what a customer has bought. For
   what drives dissatisfaction, ``useful_rules(rules, consequent_prefixes=("nps=",
   "repurchase="))`` on conversation facts lists the antecedents behind each outcome.

Definitions, for a rule A ⇒ C over N transactions: support(X) = share of transactions
containing every item of X; support of the rule = support(A ∪ C); confidence =
support(A ∪ C) / support(A); lift = confidence / support(C); leverage = support(A ∪ C) −
support(A)·support(C); conviction = (1 − support(C)) / (1 − confidence), infinite when the
confidence is 1.

"At least ``min_support``" means at least ``ceil(min_support · N)`` transactions (with a
relative tolerance of 1e-9, so 0.28 of 25 transactions is 7 even though 0.28 · 25 is
7.000000000000001 in floating point). Both implementations are given the same whole-number threshold, which
is why their results agree exactly.

Every function raises ``ValueError`` for bad input: not a DataFrame, missing columns, no
rows, a support or confidence outside (0, 1], an unknown method.

The module is long because the five steps share their checks and encodings; each step is
a section below.
"""
from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable, Iterable
from itertools import combinations
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)

TRANSACTION = "transaction_id"
ITEM = "item"

FPGROWTH = "fpgrowth"
EFFICIENT_APRIORI = "efficient_apriori"
METHODS = (FPGROWTH, EFFICIENT_APRIORI)
# Measured with bench/association.py (CPU seconds, 1M synthetic orders, 200 items at support
# 0.001: 4.4 FP-growth against 5.5 Apriori; 400 items at 0.0005: 6.0 against 9.0; at 100k
# orders both under a second). FP-growth uses more memory (464 against 285 MiB in the second
# case); the table is in bench.association's docstring.
DEFAULT_METHOD = FPGROWTH

# Outlier transactions (step 1): a transaction is dropped when it has more distinct items
# than BOTH the 99.9th percentile of transaction sizes and Tukey's "far out" fence
# Q3 + 3·IQR. Either test alone is too eager: the percentile alone would cut the largest
# ordinary baskets of every data set, and with many equal sizes (conversation facts: every
# conversation has the same fields, an offer sometimes one more) the IQR is 0 and the fence
# alone would cut every conversation with that one extra fact.
OUTLIER_QUANTILE = 0.999
OUTLIER_IQR_FACTOR = 3.0

# Comparisons of computed ratios with thresholds allow for floating-point rounding, so a
# rule exactly at the threshold (confidence 2/4 against 0.5) is never lost to it.
_EPS = 1e-12
_SUPPORT_COUNT_RTOL = 1e-9

ITEMSET_COLUMNS = ["itemsets", "support", "count"]
RULE_COLUMNS = [
    "antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction",
    "antecedent_support", "consequent_support", "count",
]
RECOMMEND_COLUMNS = ["item", "confidence", "lift", "support", "because"]


# ---------------------------------------------------------------------------- checks

def _require_frame(df: Any, columns: Iterable[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")


def _require_fraction(name: str, value: Any) -> float:
    """A support or confidence: a real number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return float(value)


def _require_non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _require_positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _require_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


# ---------------------------------------------------------------------------- step 1: clean

def normalise_item(value: Any) -> str | None:
    """The canonical text of one item, or None when there is none.

    NFKC turns full-width forms into ASCII ("ＳＴＡＧＥ＝ＮＥＷ" → "STAGE=NEW", the ideographic
    space U+3000 → " "); whitespace runs become one space and the ends are stripped; lower
    case, so "iPhone" and "IPHONE" are one product. Chinese text is unchanged by the last two.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a SKU number read as float: 1001.0 is the item "1001"
    text = " ".join(unicodedata.normalize("NFKC", str(value)).split()).lower()
    return text or None


def _outlier_bound(sizes: pd.Series) -> int:
    """Largest number of distinct items a transaction may have before it is an outlier."""
    # "higher": observed sizes, not values between them, so with fewer than 1000
    # transactions the percentile is the largest size and cuts nothing on its own.
    q1, q3, high = sizes.quantile([0.25, 0.75, OUTLIER_QUANTILE], interpolation="higher").tolist()
    fence = q3 + OUTLIER_IQR_FACTOR * (q3 - q1)
    return int(math.floor(max(high, fence)))


def clean_transactions(
    df: pd.DataFrame,
    transaction_col: str = TRANSACTION,
    item_col: str = ITEM,
    max_items: int | None = None,
) -> pd.DataFrame:
    """Step 1: the rows worth mining, as DataFrame[transaction_id, item].

    * rows without a transaction id or item are dropped (``missing``), and rows whose item is
      empty after normalisation (``empty``): see :func:`normalise_item`;
    * repeated (transaction, item) rows are kept once (``duplicates``): a basket with two
      cups contains "cup" once, as support counts transactions;
    * transactions with more than ``max_items`` distinct items are dropped
      (``outlier_transactions``, ``outlier_rows``): a wholesale order with 150 products
      would add thousands of co-occurrences that say nothing about customers. By default the
      bound is the larger of the 99.9th percentile of transaction sizes (an observed size)
      and Q3 + 3·IQR (rounded down), so at most about 0.1 % of transactions, and only
      far-out ones, go.

    The counts, the bound used and the sizes before and after are in
    ``result.attrs["cleaning"]``. Rows keep their first-seen order; the transaction ids keep
    their values and type.
    """
    _require_frame(df, [transaction_col, item_col], "df")
    if max_items is not None:
        max_items = _require_positive_int("max_items", max_items)
    if len(df) == 0:
        raise ValueError("df has no rows")

    work = pd.DataFrame({TRANSACTION: df[transaction_col].to_numpy(), "_raw": df[item_col].to_numpy()})
    rows_in = len(work)

    missing = work[TRANSACTION].isna() | work["_raw"].isna()
    work = work[~missing]

    # Normalise each distinct spelling once, not each of millions of rows.
    codes, uniques = pd.factorize(work["_raw"])
    normalised = np.array([normalise_item(u) for u in uniques], dtype=object)
    items = normalised[codes] if len(codes) else np.array([], dtype=object)
    empty = pd.isna(items) if len(items) else np.zeros(0, dtype=bool)
    work = pd.DataFrame({TRANSACTION: work[TRANSACTION].to_numpy()[~empty], ITEM: items[~empty]})
    work[ITEM] = work[ITEM].astype(str)

    before_dedupe = len(work)
    work = work.drop_duplicates([TRANSACTION, ITEM], keep="first")
    duplicates = before_dedupe - len(work)

    outlier_transactions = outlier_rows = 0
    bound = max_items
    if len(work):
        sizes = work.groupby(TRANSACTION, sort=False).size()
        if bound is None:
            bound = _outlier_bound(sizes)
        too_big = sizes.index[sizes > bound]
        if len(too_big):
            drop = work[TRANSACTION].isin(too_big)
            outlier_transactions, outlier_rows = len(too_big), int(drop.sum())
            work = work[~drop]

    result = work.reset_index(drop=True)
    result.attrs["cleaning"] = {
        "rows_in": rows_in,
        "missing": int(missing.sum()),
        "empty": int(empty.sum()),
        "duplicates": int(duplicates),
        "outlier_transactions": int(outlier_transactions),
        "outlier_rows": int(outlier_rows),
        "max_items": bound,
        "rows_out": len(result),
        "transactions_out": int(result[TRANSACTION].nunique()),
        "items_out": int(result[ITEM].nunique()),
    }
    return result


# ---------------------------------------------------------------------------- step 2: itemsets

def min_count(min_support: float, n_transactions: int) -> int:
    """The number of transactions "at least ``min_support``" of ``n_transactions`` means.

    The tolerance is relative so that k / N, computed by a caller from a count k, maps back
    to k for any N (an absolute one would fail once N · ulp outgrows it).
    """
    return max(1, math.ceil(min_support * n_transactions * (1 - _SUPPORT_COUNT_RTOL)))


class _Encoded:
    """Transactions as integer codes, reduced to what can matter for the threshold.

    * An item in fewer than ``min_count`` transactions cannot be in any frequent itemset, so
      it is dropped before either algorithm sees it (both would drop it in their first pass
      anyway).
    * The single items' counts are known from that count already, and a transaction with
      fewer than two of the remaining items contains no itemset of two or more, so only the
      others (``matrix``, rows = those transactions) go to the algorithms. A quarter to a
      third of real orders are one-product orders: that much less tree to build and fewer
      transaction ids to intersect. N stays the number of all transactions.
    """

    def __init__(self, transactions: pd.DataFrame, min_support: float):
        _require_frame(transactions, [TRANSACTION, ITEM], "transactions")
        if len(transactions) == 0:
            raise ValueError("transactions has no rows")
        if transactions[TRANSACTION].isna().any() or transactions[ITEM].isna().any():
            raise ValueError("transactions has missing ids or items; run clean_transactions first")
        t_codes, t_uniques = pd.factorize(transactions[TRANSACTION])
        i_codes, i_uniques = pd.factorize(transactions[ITEM].astype(str))
        self.n_transactions = len(t_uniques)
        self.min_count = min_count(min_support, self.n_transactions)

        # One row per (transaction, item) even if the caller did not clean: a CSR matrix
        # would otherwise sum repeats, and Apriori would count them twice. (A sort and a
        # neighbour comparison: several times faster than np.unique, which hashes first in
        # numpy 2.x.) Sorted pairs are sorted by transaction, as CSR wants.
        pairs = t_codes.astype(np.int64) * len(i_uniques) + i_codes
        pairs.sort()
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        t_codes, i_codes = pairs // len(i_uniques), pairs % len(i_uniques)

        item_counts = np.bincount(i_codes, minlength=len(i_uniques))
        frequent = np.flatnonzero(item_counts >= self.min_count)
        self.items = np.asarray(i_uniques, dtype=object)[frequent]
        self.item_counts = item_counts[frequent]
        new_code = np.full(len(i_uniques), -1, dtype=np.int64)
        new_code[frequent] = np.arange(len(frequent))
        keep = new_code[i_codes] >= 0
        t_codes, i_codes = t_codes[keep], new_code[i_codes[keep]]

        per_transaction = np.bincount(t_codes, minlength=self.n_transactions)
        multi = per_transaction >= 2
        row = np.cumsum(multi) - 1  # new row number of each kept transaction
        keep = multi[t_codes]
        self.matrix = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=bool), (row[t_codes[keep]], i_codes[keep])),
            shape=(int(multi.sum()), len(frequent)),
        )

    def singletons(self) -> dict[frozenset, int]:
        return {frozenset([item]): int(c) for item, c in zip(self.items, self.item_counts)}

    def minable(self, max_len: int | None) -> bool:
        """Whether any itemset of two or more items can reach the threshold."""
        rows = self.matrix.shape[0]
        return rows >= self.min_count and rows > 0 and (max_len is None or max_len >= 2)

    def support_threshold(self) -> float:
        """A fractional min_support over the matrix's rows that both libraries turn into
        exactly ``min_count`` transactions.

        mlxtend keeps ``count / rows >= s`` and efficient-apriori the same; halfway between
        two whole counts no rounding can move a count across the line.
        """
        return (self.min_count - 0.5) / self.matrix.shape[0]


def _fpgrowth_counts(enc: _Encoded, max_len: int | None) -> dict[frozenset, int]:
    """Counts of the itemsets of two or more items, by mlxtend's FP-growth."""
    from mlxtend.frequent_patterns import fpgrowth

    # Sparse one-hot: only the stored True values take memory. (mlxtend 0.25 still makes one
    # dense bool copy, rows × frequent items bytes, to sum item supports; the reductions
    # in _Encoded keep that down.)
    onehot = pd.DataFrame.sparse.from_spmatrix(enc.matrix, columns=[str(i) for i in range(enc.matrix.shape[1])])
    found = fpgrowth(onehot, min_support=enc.support_threshold(), use_colnames=False, max_len=max_len)
    counts = np.rint(found["support"].to_numpy() * enc.matrix.shape[0]).astype(np.int64)
    return {frozenset(enc.items[list(s)]): int(c) for s, c in zip(found["itemsets"], counts) if len(s) > 1}


def _apriori_counts(enc: _Encoded, max_len: int | None) -> dict[frozenset, int]:
    """Counts of the itemsets of two or more items, by efficient-apriori."""
    from efficient_apriori import itemsets_from_transactions

    # Integer codes as items: cheaper to hash and sort than the names.
    indices, indptr = enc.matrix.indices.tolist(), enc.matrix.indptr.tolist()
    baskets = [tuple(indices[a:b]) for a, b in zip(indptr[:-1], indptr[1:])]
    # itemsets_from_transactions rather than apriori(): the latter also keeps every
    # itemset's transaction ids and builds its own rules, neither of which is needed here.
    found, _ = itemsets_from_transactions(
        baskets, min_support=enc.support_threshold(), max_length=max_len or enc.matrix.shape[1]
    )
    return {
        frozenset(enc.items[list(codes)]): int(count)
        for size, level in found.items() if size > 1 for codes, count in level.items()
    }


_MINERS: dict[str, Callable[[_Encoded, int | None], dict[frozenset, int]]] = {
    FPGROWTH: _fpgrowth_counts,
    EFFICIENT_APRIORI: _apriori_counts,
}


def _sort_key(itemset: frozenset) -> str:
    return "\x1f".join(sorted(itemset))


def _itemsets_frame(counts: dict[frozenset, int], n_transactions: int, min_support: float,
                    method: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "itemsets": pd.Series(list(counts.keys()), dtype=object),
        "support": np.array(list(counts.values()), dtype=np.int64) / n_transactions,
        "count": np.array(list(counts.values()), dtype=np.int64),
    }, columns=ITEMSET_COLUMNS)
    if len(frame):
        frame["_len"] = frame["itemsets"].map(len)
        frame["_key"] = frame["itemsets"].map(_sort_key)
        frame = frame.sort_values(["count", "_len", "_key"], ascending=[False, True, True])
        frame = frame.drop(columns=["_len", "_key"]).reset_index(drop=True)
    frame.attrs.update(n_transactions=n_transactions, min_support=min_support, method=method)
    return frame


def frequent_itemsets(
    transactions: pd.DataFrame,
    min_support: float,
    method: str = DEFAULT_METHOD,
    max_len: int | None = 3,
) -> pd.DataFrame:
    """Step 2: DataFrame[itemsets (frozenset of str), support (float), count (int)].

    Every itemset of at most ``max_len`` items (None: any size) contained in at least
    ``min_support`` of the transactions, most frequent first. ``transactions`` is
    DataFrame[transaction_id, item] as from :func:`clean_transactions`. ``attrs`` records
    ``n_transactions``, ``min_support`` and ``method``.

    ``method="fpgrowth"``: mlxtend's FP-growth on a sparse one-hot DataFrame built from a
    CSR matrix (never a dense transactions × items matrix). ``method="efficient_apriori"``:
    efficient-apriori's Apriori on a list of tuples. Same result, different cost.
    """
    min_support = _require_fraction("min_support", min_support)
    _require_method(method)
    max_len = _require_positive_int("max_len", max_len, allow_none=True)
    enc = _Encoded(transactions, min_support)
    counts = enc.singletons()
    if enc.minable(max_len):
        # Belt and braces: only what meets the whole-number threshold.
        counts.update((s, c) for s, c in _MINERS[method](enc, max_len).items() if c >= enc.min_count)
    return _itemsets_frame(counts, enc.n_transactions, min_support, method)


# ---------------------------------------------------------------------------- step 3: rules

def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object if c in ("antecedents", "consequents") else float)
                          for c in RULE_COLUMNS})
    return frame


def association_rules(
    itemsets: pd.DataFrame,
    min_confidence: float,
    min_lift: float = 1.0,
    n_transactions: int | None = None,
) -> pd.DataFrame:
    """Step 3: every rule A ⇒ C (A, C non-empty, disjoint, A ∪ C a frequent itemset) with
    confidence ≥ ``min_confidence`` and lift ≥ ``min_lift``.

    Columns: antecedents, consequents (frozensets), support, confidence, lift, leverage,
    conviction, antecedent_support, consequent_support, count (transactions containing
    A ∪ C; NaN when N is unknown). Sorted by lift, then confidence, descending.

    ``itemsets`` is the output of :func:`frequent_itemsets` (or any DataFrame with
    ``itemsets`` and ``support`` that contains every subset of each itemset, as frequent
    itemsets always do). ``n_transactions`` (default: ``itemsets.attrs["n_transactions"]``)
    is only used for ``count``.
    """
    _require_frame(itemsets, ["itemsets", "support"], "itemsets")
    min_confidence = _require_fraction("min_confidence", min_confidence)
    min_lift = _require_non_negative("min_lift", min_lift)
    if n_transactions is None:
        n_transactions = itemsets.attrs.get("n_transactions")
    if n_transactions is not None:
        n_transactions = _require_positive_int("n_transactions", n_transactions)

    support = {}
    for itemset, value in zip(itemsets["itemsets"], itemsets["support"]):
        if not isinstance(itemset, (frozenset, set)) or not itemset:
            raise ValueError(f"itemsets must hold non-empty frozensets, got {itemset!r}")
        support[frozenset(itemset)] = float(value)

    rows = []
    for itemset, s_ac in support.items():
        if len(itemset) < 2:
            continue
        ordered = sorted(itemset)
        for size in range(1, len(ordered)):
            for antecedent in map(frozenset, combinations(ordered, size)):
                consequent = itemset - antecedent
                try:
                    s_a, s_c = support[antecedent], support[consequent]
                except KeyError:
                    raise ValueError(
                        f"itemsets lacks a subset of {sorted(itemset)}; pass all frequent itemsets"
                    ) from None
                confidence = s_ac / s_a
                if confidence < min_confidence - _EPS:
                    continue
                lift = confidence / s_c
                if lift < min_lift - _EPS:
                    continue
                leverage = s_ac - s_a * s_c
                conviction = math.inf if confidence >= 1 - _EPS else (1 - s_c) / (1 - confidence)
                rows.append((antecedent, consequent, s_ac, confidence, lift, leverage, conviction, s_a, s_c))

    if not rows:
        rules = _empty_rules()
    else:
        rules = pd.DataFrame(rows, columns=RULE_COLUMNS[:-1])
        rules["count"] = np.rint(rules["support"] * n_transactions) if n_transactions else np.nan
        rules = _sort_rules(rules, ["lift", "confidence", "support"])
    rules.attrs.update(itemsets.attrs)
    rules.attrs.update(min_confidence=min_confidence, min_lift=min_lift)
    if n_transactions:
        rules.attrs["n_transactions"] = n_transactions
    return rules


def _sort_rules(rules: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Descending by ``by``, ties broken by the item names so the order is reproducible."""
    keyed = rules.assign(_a=rules["antecedents"].map(_sort_key), _c=rules["consequents"].map(_sort_key))
    keyed = keyed.sort_values([*by, "_a", "_c"], ascending=[False] * len(by) + [True, True])
    return keyed.drop(columns=["_a", "_c"]).reset_index(drop=True)


# ---------------------------------------------------------------------------- step 4: judge

def _has_prefix(item: str, prefixes: tuple[str, ...]) -> bool:
    return item.startswith(prefixes)


def useful_rules(
    rules: pd.DataFrame,
    min_lift: float = 1.1,
    consequent_prefixes: Iterable[str] | None = None,
    max_antecedent_len: int | None = 2,
    drop_redundant: bool = True,
    top: int | None = None,
    allow_prefixed_antecedents: bool = False,
) -> pd.DataFrame:
    """Step 4: the rules worth acting on, best first (by lift × confidence, in ``score``).

    * lift ≥ ``min_lift``: a lift near 1 means A tells nothing about C;
    * ``consequent_prefixes`` (e.g. ``("nps=", "repurchase=")``): keep only rules whose
      consequent items all start with one of them, i.e. rules that explain an outcome. An
      antecedent that itself holds such an item (``repurchase=no ⇒ nps=detractor``: one
      outcome "explaining" another) is dropped too, unless ``allow_prefixed_antecedents``;
    * at most ``max_antecedent_len`` antecedent items (None: any): longer rules are rarely
      actionable and mostly restate shorter ones;
    * ``drop_redundant``: a rule is dropped when a rule with a proper subset of its
      antecedent and the same consequent has at least its confidence (``{A, B} ⇒ C`` adds
      nothing when ``A ⇒ C`` is as sure);
    * ``top``: only the first ``top`` rules.
    """
    _require_frame(rules, ["antecedents", "consequents", "confidence", "lift"], "rules")
    min_lift = _require_non_negative("min_lift", min_lift)
    max_antecedent_len = _require_positive_int("max_antecedent_len", max_antecedent_len, allow_none=True)
    top = _require_positive_int("top", top, allow_none=True)
    prefixes: tuple[str, ...] | None = None
    if consequent_prefixes is not None:
        if isinstance(consequent_prefixes, str):
            consequent_prefixes = (consequent_prefixes,)  # one prefix, not its characters
        prefixes = tuple(consequent_prefixes)
        if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
            raise ValueError(f"consequent_prefixes must be non-empty strings, got {consequent_prefixes!r}")

    def mask(column: str, test: Callable[[frozenset], bool]) -> np.ndarray:
        return np.fromiter(map(test, rules[column]), dtype=bool, count=len(rules))

    keep = np.array(rules["lift"] >= min_lift - _EPS, dtype=bool)  # a writable copy
    if max_antecedent_len is not None:
        keep &= mask("antecedents", lambda a: len(a) <= max_antecedent_len)
    if prefixes is not None:
        keep &= mask("consequents", lambda c: all(_has_prefix(i, prefixes) for i in c))
        if not allow_prefixed_antecedents:
            keep &= ~mask("antecedents", lambda a: any(_has_prefix(i, prefixes) for i in a))
    kept = rules[keep]

    if drop_redundant and len(kept):
        # Within one consequent, lift is confidence / support(C), so a subset rule with at
        # least the confidence also passes every filter above; comparing among the kept
        # rules is therefore the same as comparing among all.
        confidence = {(a, c): conf for a, c, conf in zip(kept["antecedents"], kept["consequents"], kept["confidence"])}

        def explained(a: frozenset, c: frozenset, conf: float) -> bool:
            return any(
                confidence.get((frozenset(sub), c), -1.0) >= conf - _EPS
                for size in range(1, len(a)) for sub in combinations(sorted(a), size)
            )

        redundant = [len(a) > 1 and explained(a, c, conf)
                     for a, c, conf in zip(kept["antecedents"], kept["consequents"], kept["confidence"])]
        kept = kept[~np.array(redundant, dtype=bool)]

    result = kept.assign(score=kept["lift"] * kept["confidence"])
    sort_by = ["score", "support"] if "support" in result.columns else ["score"]
    result = _sort_rules(result, sort_by) if len(result) else result.reset_index(drop=True)
    if top is not None:
        result = result.head(top)
    return result


def mine_rules(
    transactions: pd.DataFrame,
    min_support: float,
    min_confidence: float,
    min_lift: float = 1.1,
    method: str = DEFAULT_METHOD,
    max_len: int | None = 3,
    **useful_kwargs: Any,
) -> pd.DataFrame:
    """Steps 2–4 in one call: frequent itemsets, rules, then :func:`useful_rules` (to which
    ``min_lift`` and ``useful_kwargs`` go: consequent_prefixes, max_antecedent_len,
    drop_redundant, top, allow_prefixed_antecedents)."""
    itemsets = frequent_itemsets(transactions, min_support, method=method, max_len=max_len)
    rules = association_rules(itemsets, min_confidence, min_lift=min_lift)
    return useful_rules(rules, min_lift=min_lift, **useful_kwargs)


def tune_min_support(
    transactions: pd.DataFrame,
    target_rules: tuple[int, int] = (20, 200),
    min_confidence: float = 0.3,
    min_lift: float = 1.1,
    method: str = DEFAULT_METHOD,
    max_len: int | None = 3,
    min_count_floor: int = 2,
    **useful_kwargs: Any,
) -> float:
    """Step 4: a min_support for which :func:`mine_rules` returns between ``target_rules[0]``
    and ``target_rules[1]`` rules (inclusive), given the other thresholds.

    The search works on the whole number of transactions k = min_support · N, because only
    that matters. The number of rules can only fall as k rises (a higher threshold keeps a
    subset of the itemsets, whose supports and so whose rules' confidence and lift do not
    change; and the simpler rule that makes a rule redundant has at least its support, so
    it is never lost while the redundant one is kept), so:

    1. start at k = the count of the most frequent item (no pairs can beat it) and halve k
       until there are at least ``target_rules[0]`` rules, or k reaches
       ``min_count_floor`` (default 2: a pattern seen once is no pattern). Starting high
       means the expensive low thresholds are only reached when needed;
    2. if that k gives more than ``target_rules[1]`` rules, bisect between k and the last k
       with too few, re-using the itemsets mined at the lower end (itemsets at a higher
       threshold are those with a larger count), until a k lands in the range or the
       bracket is one apart.

    Returns k / N for the first k in range; if none is (the count jumps over the range),
    the k whose count is nearest the range, preferring the side with more rules than
    wanted when equally near. Each step is logged at DEBUG.
    """
    low, high = _require_target(target_rules)
    min_confidence = _require_fraction("min_confidence", min_confidence)
    _require_method(method)
    min_count_floor = _require_positive_int("min_count_floor", min_count_floor)
    # Threshold 1e-12: every item counts (min_count is at least 1), to find the top count.
    everything = _Encoded(transactions, 1e-12)
    n = everything.n_transactions
    top_item_count = int(everything.item_counts.max())
    del everything

    mined: dict[int, pd.DataFrame] = {}
    counted: dict[int, int] = {}

    def rule_count(k: int, from_itemsets: pd.DataFrame | None = None) -> int:
        if k not in counted:
            if from_itemsets is None:
                itemsets = frequent_itemsets(transactions, k / n, method=method, max_len=max_len)
                mined[k] = itemsets
            else:
                itemsets = from_itemsets[from_itemsets["count"] >= k]
            rules = association_rules(itemsets, min_confidence, min_lift=min_lift, n_transactions=n)
            counted[k] = len(useful_rules(rules, min_lift=min_lift, **useful_kwargs))
            logger.debug("tune_min_support: k=%d (support %.6g) -> %d rules", k, k / n, counted[k])
        return counted[k]

    k = max(top_item_count, min_count_floor)
    too_few_k = None
    while rule_count(k) < low and k > min_count_floor:
        too_few_k = k
        k = max(min_count_floor, k // 2)

    if rule_count(k) > high and too_few_k is not None:
        lo_k, hi_k = k, too_few_k  # rule_count(lo_k) > high, rule_count(hi_k) < low
        base = mined[lo_k]
        while hi_k - lo_k > 1:
            mid = math.isqrt(lo_k * hi_k)  # geometric midpoint: counts change on a log scale
            mid = min(max(mid, lo_k + 1), hi_k - 1)
            c = rule_count(mid, base)
            if c > high:
                lo_k = mid
            elif c < low:
                hi_k = mid
            else:
                k = mid
                break

    def distance(kk: int) -> tuple[int, int]:
        c = counted[kk]
        gap = low - c if c < low else c - high if c > high else 0
        return gap, 0 if c > high else 1

    in_range = [kk for kk, c in counted.items() if low <= c <= high]
    chosen = min(in_range) if in_range else min(counted, key=distance)
    return chosen / n


def _require_target(target_rules: Any) -> tuple[int, int]:
    try:
        low, high = target_rules
    except (TypeError, ValueError):
        raise ValueError(f"target_rules must be a pair (low, high), got {target_rules!r}") from None
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"target_rules must be whole numbers >= 0, got {target_rules!r}")
    if low > high:
        raise ValueError(f"target_rules low > high: {target_rules!r}")
    return int(low), int(high)


# ---------------------------------------------------------------------------- step 5: apply

def recommend(
    rules: pd.DataFrame,
    items: Iterable[str],
    k: int = 3,
    exclude: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Step 5: up to ``k`` items to suggest to a customer who has ``items``.

    Uses every rule whose antecedent is contained in ``items``; each item of its consequent
    not in ``exclude`` (default: ``items``, what the customer already has) is a candidate,
    scored by the best such rule's confidence (then lift, then support). Items are
    normalised like :func:`clean_transactions` does, so "　龙井茶 " finds "龙井茶".

    Returns DataFrame[item, confidence, lift, support, because], best first; ``because`` is
    the antecedent of the rule behind the suggestion as a sorted list. Empty when no rule
    applies.
    """
    _require_frame(rules, ["antecedents", "consequents", "confidence", "lift"], "rules")
    k = _require_positive_int("k", k)
    if isinstance(items, str):
        items = [items]  # one item, not its characters
    owned = {n for n in map(normalise_item, items) if n is not None}
    if exclude is None:
        excluded = owned
    else:
        if isinstance(exclude, str):
            exclude = [exclude]
        excluded = {n for n in map(normalise_item, exclude) if n is not None}

    supports = rules["support"] if "support" in rules.columns else pd.Series(np.nan, index=rules.index)
    best: dict[str, tuple[float, float, float, list[str]]] = {}
    for a, c, conf, lift, support in zip(rules["antecedents"], rules["consequents"],
                                         rules["confidence"], rules["lift"], supports):
        if not a <= owned:
            continue
        candidate_score = (float(conf), float(lift), float(support))
        for item in c:
            if item in excluded:
                continue
            current = best.get(item)
            if current is None or candidate_score > current[:3]:
                best[item] = (*candidate_score, sorted(a))

    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], -kv[1][1], -np.nan_to_num(kv[1][2]), kv[0]))[:k]
    return pd.DataFrame(
        [(item, conf, lift, support, because) for item, (conf, lift, support, because) in ranked],
        columns=RECOMMEND_COLUMNS,
    )
