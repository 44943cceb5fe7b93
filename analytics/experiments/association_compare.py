"""The association-rule implementations compared: FP-growth (mlxtend, sparse) against
efficient-apriori on the same transactions — the same rules? how fast? how much memory?

An experiment, not production: the job uses ``analytics.association.DEFAULT_METHOD``,
chosen from these measurements. Run by ``python -m bench.association`` (synthetic orders
up to 1.2M) and ``python -m bench.jobs`` (the demo shop's baskets at 10× and 100×).
"""
from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analytics.association import (ITEM, METHODS, TRANSACTION, _require_fraction, _require_frame, _require_method,
                                   association_rules, frequent_itemsets)

COMPARE_COLUMNS = ["impl", "seconds", "cpu_seconds", "peak_mb", "n_itemsets", "n_rules", "same_rules"]


def _free_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc), so one measurement does
    not start on memory the previous one freed but the allocator kept."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakRss:
    """Peak resident memory of this process above its level at the start, sampled every
    ``interval`` seconds on a thread (the mining loops are Python, so the thread gets its
    turns at the interpreter's switch interval)."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self.peak = 0

    def _sample(self) -> None:
        self.peak = max(self.peak, self._process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> "_PeakRss":
        self.baseline = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


def _run_implementation(transactions: pd.DataFrame, method: str, min_support: float,
                        min_confidence: float, min_lift: float, max_len: int | None) -> dict[str, Any]:
    _free_memory()
    with _PeakRss() as rss:
        start, cpu_start = time.perf_counter(), time.process_time()
        itemsets = frequent_itemsets(transactions, min_support, method=method, max_len=max_len)
        rules = association_rules(itemsets, min_confidence, min_lift=min_lift)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {"impl": method, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": rss.peak_mb,
            "n_itemsets": len(itemsets), "rules": rules}


def _run_in_child(conn: Any, *args: Any) -> None:
    try:
        conn.send(_run_implementation(*args))
    except BaseException as exc:  # report anything, the parent re-raises
        conn.send(exc)
    finally:
        conn.close()


def _run_isolated(*args: Any) -> dict[str, Any]:
    """Run one implementation in a forked child: it sees the parent's data without a copy,
    and its memory is measured from a clean start, not after the other implementation's."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_run_in_child, args=(send, *args))
    child.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = RuntimeError(f"implementation {args[1]} died (exit code {child.exitcode})")
    child.join()
    if isinstance(result, BaseException):
        raise result
    return result


def same_rules(a: pd.DataFrame, b: pd.DataFrame, tolerance: float = 1e-9) -> bool:
    """True when both hold the same (antecedents, consequents) pairs with support and
    confidence equal within ``tolerance``."""
    def keyed(rules: pd.DataFrame) -> dict[tuple[frozenset, frozenset], tuple[float, float]]:
        return {(x, y): (s, c) for x, y, s, c in
                zip(rules["antecedents"], rules["consequents"], rules["support"], rules["confidence"])}

    ka, kb = keyed(a), keyed(b)
    if len(ka) != len(a) or len(kb) != len(b) or ka.keys() != kb.keys():
        return False
    return all(abs(ka[r][0] - kb[r][0]) <= tolerance and abs(ka[r][1] - kb[r][1]) <= tolerance for r in ka)


def compare_implementations(
    transactions: pd.DataFrame,
    min_support: float,
    min_confidence: float,
    min_lift: float = 1.0,
    max_len: int | None = 3,
    methods: Iterable[str] = METHODS,
    isolate: bool = False,
) -> pd.DataFrame:
    """Steps 2–3 by each implementation on the same transactions.

    Returns DataFrame[impl, seconds, cpu_seconds, peak_mb, n_itemsets, n_rules, same_rules]:
    wall time of itemsets + rules (encoding included); the CPU time of this process meanwhile
    (steadier than wall time on a shared machine); peak_mb the most resident memory (RSS) above the
    level at the start of the run, in MiB; same_rules whether the rules equal those of the
    first implementation (same pairs, support and confidence within 1e-9).

    ``isolate=True`` runs each implementation in its own forked process (POSIX only), so
    memory the first one freed but the allocator kept cannot hide the second one's use.
    Use it in benchmarks; in a server the default (in-process) is safer.
    """
    min_support = _require_fraction("min_support", min_support)
    min_confidence = _require_fraction("min_confidence", min_confidence)
    methods = [_require_method(m) for m in methods]
    if not methods:
        raise ValueError("methods is empty")
    _require_frame(transactions, [TRANSACTION, ITEM], "transactions")
    if len(transactions) == 0:
        raise ValueError("transactions has no rows")
    run = _run_isolated if isolate else _run_implementation

    results = [run(transactions, m, min_support, min_confidence, min_lift, max_len) for m in methods]
    reference = results[0]["rules"]
    table = pd.DataFrame([
        {"impl": r["impl"], "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"], "peak_mb": r["peak_mb"],
         "n_itemsets": r["n_itemsets"], "n_rules": len(r["rules"]),
         "same_rules": same_rules(reference, r["rules"])}
        for r in results
    ], columns=COMPARE_COLUMNS)
    return table
