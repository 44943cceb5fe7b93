"""Association-rule mining: FP-growth (mlxtend) against Apriori (efficient-apriori).

Run from the project root::

    .venvs/service/bin/python -m bench.association                      # 10k and 100k orders
    .venvs/service/bin/python -m bench.association --orders 100000 1000000
    .venvs/service/bin/python -m bench.association --input lines.csv     # your own data

What is measured
----------------
* Data: synthetic order lines (:func:`synthetic_orders`), or a CSV/DataFrame with columns
  ``transaction_id, item``. The synthetic orders have ``--items`` products (default 200)
  with Zipf-like popularity, 1 + Poisson(1.3) lines per order, about 30 "bundles" (buying
  the first product of a pair adds the second with probability 0.5, applied twice so
  chains make triples), and some dirt for the cleaning step: repeated lines, padded
  full-width spellings, missing items and 0.02 % wholesale orders of 40–80 products.
  About 2.5 lines per order: 1.2M orders are about 3M lines.
* Each size is cleaned once (``clean_transactions``, timed separately, not in the table),
  then both implementations mine the same cleaned transactions in the same run
  (``compare_implementations``): frequent itemsets up to 3 items at ``--min-support`` and
  rules at ``--min-confidence``, lift ≥ 1.
* seconds: wall time of itemsets + rules, encoding included; peak_mb: the most resident
  memory above the level at the start of that implementation's run (RSS sampled every
  5 ms). Each implementation runs in its own forked process (``--no-isolate`` to run in
  this one), so the second is not measured on memory the first freed.
* same_rules: the rules equal those of FP-growth (same antecedent/consequent pairs,
  support and confidence within 1e-9).

Results
-------
2-core development machine shared with other work (wall seconds vary up to 2×; CPU
seconds of the measured process are the steadier figure). Max 3 items, min_confidence 0.2,
same rules from both in every case:

=========  =====  ===========  ===========  ===========  =========  =========  ========
orders     items  min_support  fpgrowth     apriori      fpgrowth   apriori    rules
                               CPU s        CPU s        peak MiB   peak MiB
=========  =====  ===========  ===========  ===========  =========  =========  ========
100k       200    0.001        0.48         0.37         50         40         107
1M         200    0.001        4.4          5.5          330        278        157
1.2M       200    0.001        5.8          7.1          387        329        116
100k       400    0.0005       0.57         0.67         56         40         187
1M         400    0.0005       6.0          9.0          464        285        193
1.2M       400    0.0005       8.3          12.4         541        380        291
=========  =====  ===========  ===========  ===========  =========  =========  ========

FP-growth is faster from 1M orders on, and more so with more items or a lower support
(Apriori intersects one set of transaction ids per candidate, and candidates grow with
the square of the frequent items); it is the default (``DEFAULT_METHOD``). It takes more
memory: mlxtend 0.25's ``fpgrowth`` makes one dense bool copy of the one-hot input
(transactions × frequent items bytes) to sum the item supports, which the pruning in
``analytics.association`` (infrequent items and transactions with fewer than two frequent
items left out) keeps to a few hundred MiB at 1.2M orders. Cleaning 1M orders (2.5M
lines) takes about 2 s more.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from analytics.association import EFFICIENT_APRIORI, FPGROWTH, clean_transactions
from analytics.experiments.association_compare import compare_implementations

DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_ITEMS = 200
DEFAULT_MIN_SUPPORT = 0.001
DEFAULT_MIN_CONFIDENCE = 0.2
TABLE_COLUMNS = ["impl", "n_transactions", "n_lines", "seconds", "cpu_seconds", "peak_mb", "n_itemsets", "n_rules", "same_rules"]

# Product names for the first items; the rest are numbered.
PRODUCTS = [
    "龙井茶", "玻璃杯", "紫砂壶", "普洱茶", "铁观音", "茶盘", "保温杯", "茶叶罐", "蜂蜜", "红枣",
    "枸杞", "坚果礼盒", "白茶", "红茶", "茶滤", "公道杯", "茶巾", "花茶", "菊花茶", "茶宠",
    "电热水壶", "茶具套装", "陶瓷杯", "竹茶盘", "礼品袋", "乌龙茶", "绿茶", "茶点", "杯垫", "茶夹",
]


def product_names(n_items: int) -> list[str]:
    return [PRODUCTS[j] if j < len(PRODUCTS) else f"商品{j:03d}" for j in range(n_items)]


def synthetic_orders(n_orders: int, n_items: int = DEFAULT_ITEMS, seed: int = 0, dirty: bool = True) -> pd.DataFrame:
    """Order lines DataFrame[transaction_id (int), item (str)], about 2.5 lines per order."""
    if n_orders < 1 or n_items < 4:
        raise ValueError("need at least 1 order and 4 items")
    rng = np.random.default_rng(seed)
    names = np.array(product_names(n_items), dtype=object)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity /= popularity.sum()

    sizes = 1 + rng.poisson(1.3, n_orders)
    orders = np.repeat(np.arange(n_orders, dtype=np.int64), sizes)
    items = rng.choice(n_items, size=len(orders), p=popularity)

    # Bundles: pairs (head, partner) among the products, partner added with probability 0.5.
    partner = np.full(n_items, -1)
    heads = rng.choice(n_items, size=max(2, n_items // 7), replace=False)
    partner[heads] = rng.integers(0, n_items, len(heads))
    partner[partner == np.arange(n_items)] = -1
    new_orders, new_items = orders, items
    for _ in range(2):  # twice: an added partner that is itself a head brings its own
        hit = (partner[new_items] >= 0) & (rng.random(len(new_items)) < 0.5)
        new_orders, new_items = new_orders[hit], partner[new_items[hit]]
        orders, items = np.concatenate([orders, new_orders]), np.concatenate([items, new_items])

    lines = pd.DataFrame({"transaction_id": orders, "item": names[items]})
    if not dirty:
        return lines.sort_values("transaction_id", kind="stable").reset_index(drop=True)

    n = len(lines)
    repeated = lines.sample(frac=0.01, random_state=seed)                     # same product twice
    padded = lines.sample(frac=0.002, random_state=seed + 1).assign(
        item=lambda d: "\u3000" + d["item"] + " ")                            # full-width padding
    missing = pd.DataFrame({"transaction_id": rng.integers(0, n_orders, max(1, n // 2000)),
                            "item": None})
    bulk_ids = rng.choice(n_orders, size=max(1, n_orders // 5000), replace=False)
    bulk = [(o, names[j]) for o in bulk_ids
            for j in rng.choice(n_items, min(n_items, rng.integers(40, 81)), replace=False)]
    bulk = pd.DataFrame(bulk, columns=["transaction_id", "item"])
    lines = pd.concat([lines, repeated, padded, missing, bulk], ignore_index=True)
    return lines.sort_values("transaction_id", kind="stable").reset_index(drop=True)


def run(
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    data: pd.DataFrame | None = None,
    min_support: float = DEFAULT_MIN_SUPPORT,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_len: int = 3,
    n_items: int = DEFAULT_ITEMS,
    seed: int = 0,
    isolate: bool = True,
    out=sys.stdout,
) -> pd.DataFrame:
    """The table (one row per implementation and size); ``data`` replaces the synthetic
    orders (then ``sizes`` is ignored)."""
    datasets = [("input", data)] if data is not None else [(n, None) for n in sizes]
    rows = []
    for label, lines in datasets:
        if lines is None:
            start = time.perf_counter()
            lines = synthetic_orders(int(label), n_items=n_items, seed=seed)
            print(f"{label} orders: generated {len(lines):,} lines in {time.perf_counter() - start:.1f} s",
                  file=out, flush=True)
        start = time.perf_counter()
        transactions = clean_transactions(lines)
        cleaning = transactions.attrs["cleaning"]
        print(f"  cleaned in {time.perf_counter() - start:.1f} s: {cleaning}", file=out, flush=True)
        table = compare_implementations(
            transactions, min_support, min_confidence, max_len=max_len,
            methods=(FPGROWTH, EFFICIENT_APRIORI), isolate=isolate,
        )
        table.insert(1, "n_transactions", cleaning["transactions_out"])
        table.insert(2, "n_lines", len(transactions))
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"), file=out, flush=True)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)[TABLE_COLUMNS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.association", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="synthetic sizes in orders (default: %(default)s)")
    parser.add_argument("--input", help="CSV with columns transaction_id,item instead of synthetic orders")
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS, help="distinct synthetic products")
    parser.add_argument("--min-support", type=float, default=DEFAULT_MIN_SUPPORT)
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE)
    parser.add_argument("--max-len", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-isolate", action="store_true", help="run both in this process")
    args = parser.parse_args(argv)

    data = pd.read_csv(args.input) if args.input else None
    table = run(tuple(args.orders), data=data, min_support=args.min_support,
                min_confidence=args.min_confidence, max_len=args.max_len, n_items=args.items,
                seed=args.seed, isolate=not args.no_isolate)
    print("\nsummary", file=sys.stdout)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0 if table["same_rules"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
