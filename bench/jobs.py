"""How the analytics jobs grow with the data: each job at several multiples of the demo shop.

    .venvs/service/bin/python -m bench.jobs --scales 10 100 [--out docs/benchmarks-jobs.json]

For each scale a fresh SQLite database under var/bench/ gets the default content, a
generated shop of 400 × scale customers (about 3,500 × scale orders) and three
conversations per customer with their surveys. Then every job runs in its own child
process (``python -m api.cli run-job NAME``), so its peak resident memory is its own
(``wait4``'s ru_maxrss) and nothing is cached between jobs. The basket rules are also
mined by both implementations (FP-growth on a sparse matrix, efficient-apriori) on the
same baskets in one run, to check they agree and to keep the faster.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from api.jobs.registry import ANALYTICS_ORDER

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("recompute-stages", "campaign-offers", *ANALYTICS_ORDER)
DEMO_CUSTOMERS = 400


def _child(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(seconds, peak RSS MiB, exit code, last output line) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.splitlines() if line.strip()]
    return time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode, lines[-1] if lines else ""


def build(scale: int, env: dict[str, str]) -> dict:
    """A fresh database with the shop and its conversations; returns sizes and times."""
    py = sys.executable
    steps = {
        "schema": [py, "-m", "alembic", "upgrade", "head"],
        "content": [py, "-m", "api.bootstrap"],
        "shop": [py, "-m", "demo", "generate-shop", "--customers", str(DEMO_CUSTOMERS * scale)],
        "conversations": [py, "-m", "demo", "generate-conversations"],
    }
    timings = {}
    for name, argv in steps.items():
        seconds, _, code, last = _child(argv, env)
        if code:
            raise SystemExit(f"{name} failed at scale {scale}: {last}")
        timings[name] = round(seconds, 1)
    return timings


def sizes(env: dict[str, str]) -> dict[str, int]:
    code = ("from sqlalchemy import func, select\n"
            "from api.db.session import get_sessionmaker\n"
            "from api.models import Customer, Order, Conversation, Message, Survey\n"
            "import json\n"
            "with get_sessionmaker()() as db:\n"
            "    print(json.dumps({m.__tablename__: db.scalar(select(func.count()).select_from(m))\n"
            "                      for m in (Customer, Order, Conversation, Message, Survey)}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def compare_rule_miners(env: dict[str, str]) -> list[dict]:
    code = ("import json\n"
            "from analytics import association as assoc\n"
            "from analytics.experiments.association_compare import compare_implementations\n"
            "from api.jobs.association import order_baskets\n"
            "from api.core.config import get_settings\n"
            "from api.db.session import get_sessionmaker\n"
            "s = get_settings()\n"
            "with get_sessionmaker()() as db:\n"
            "    baskets = assoc.clean_transactions(order_baskets(db))\n"
            "table = compare_implementations(baskets, s.rules_min_support, s.rules_min_confidence, isolate=True)\n"
            "print(table.to_json(orient='records'))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_scale(scale: int, keep: bool) -> dict:
    db_path = ROOT / "var" / "bench" / f"jobs-x{scale}.db"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HX_DATABASE_URL": f"sqlite:///{db_path}",
           "HX_DEMO_CUSTOMERS": "0"}
    result = {"scale": scale, "date": date.today().isoformat(), "build_seconds": build(scale, env)}
    result["rows"] = sizes(env)
    result["jobs"] = {}
    for name in JOBS:
        seconds, rss, code, last = _child([sys.executable, "-m", "api.cli", "run-job", name], env)
        result["jobs"][name] = {"seconds": round(seconds, 1), "peak_rss_mib": round(rss), "ok": code == 0,
                                "summary": last}
        print(f"x{scale} {name}: {seconds:.1f} s, {rss:.0f} MiB, {last}", flush=True)
    result["rule_miners"] = compare_rule_miners(env)
    if not keep:
        db_path.unlink(missing_ok=True)
    return result


def markdown(results: list[dict]) -> str:
    head = "| job | " + " | ".join(f"×{r['scale']} ({r['rows']['orders']:,} orders) s / MiB" for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]
    for name in JOBS:
        cells = [f"{r['jobs'][name]['seconds']} / {r['jobs'][name]['peak_rss_mib']}" for r in results]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-jobs.json")
    parser.add_argument("--keep", action="store_true", help="keep the databases under var/bench/")
    args = parser.parse_args(argv)
    results = [run_scale(scale, args.keep) for scale in args.scales]
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
