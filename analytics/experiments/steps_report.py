"""Does PSO earn its place? The step-scoring models compared on held-out data.

    .venvs/service/bin/python -m analytics.experiments.steps_report [--seeds 5] [--n 2000 ...]

For each data size and seed: ``make_synthetic_steps(n, seed)`` (a hidden nonlinear
satisfaction function, so the best possible prediction is known), a 75/25 split, and
the four ``candidate_models`` fitted on the training part and measured on the test
part: RMSE, MAE, R², fit seconds, network evaluations spent. The budgets are fixed in
``analytics.steps`` (random restarts get the same ceiling of network evaluations as
PSO + fine-tuning). Besides prediction error, the report checks what the job is for:
each model's step impacts (``step_effects`` on the test part) against the impacts the
true function gives, and whether it names the same weakest step.

Writes ``docs/step-scoring.md`` and ``docs/step-scoring.json`` (all numbers, per seed).
The conclusion is written from the numbers by ``conclude`` and ``recommend``: a
difference counts only when the paired difference over seeds is more than twice its
standard error. The report also checks the job's size rule (``chosen_model``) against
the recommendation.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from analytics.steps import (holdout_metrics, EPOCHS, FEATURES, LINEAR_BELOW, MODEL_NAMES, NETWORK_MODEL, PSO_ITERATIONS,
                             PSO_PARTICLES, RESTARTS, STEP_LABELS, STEPS, TARGET, candidate_models, chosen_model,
                             make_synthetic_steps, step_effects, synthetic_expected_satisfaction)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("linear", "bp", "bp_restarts", "pso_bp")
# Every pair, the more elaborate model first.
PAIRS = (("pso_bp", "bp_restarts"), ("pso_bp", "bp"), ("pso_bp", "linear"), ("bp_restarts", "bp"),
         ("bp_restarts", "linear"), ("bp", "linear"))
METRICS = ("rmse", "mae", "r2", "fit_seconds", "evaluations")


class TrueModel:
    """Predicts E[overall | features] from the hidden function: the noise floor."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return synthetic_expected_satisfaction(X)


def impacts(model, frame: pd.DataFrame) -> dict[str, float]:
    return {e["step"]: e["impact"] for e in step_effects(model, frame)}


def run_seed(n: int, seed: int) -> dict:
    data = make_synthetic_steps(n, seed)
    train, test = train_test_split(data, test_size=0.25, random_state=seed)
    truth = impacts(TrueModel(), test)
    true_weakest = max(truth, key=truth.get)
    floor = synthetic_expected_satisfaction(test) - test[TARGET].to_numpy()
    row = {"seed": seed, "n": n, "noise_floor_rmse": float(np.sqrt(np.mean(floor ** 2))),
           "true_impacts": truth, "true_weakest": true_weakest, "models": {}}
    for name, model in candidate_models(seed).items():
        metrics = holdout_metrics(model, train, test)
        found = impacts(model, test)
        net = model[-1]
        metrics |= {
            "impacts": found,
            "impact_error": float(np.mean([abs(found[s] - truth[s]) for s in STEPS])),
            "weakest": max(found, key=found.get),
            "weakest_right": max(found, key=found.get) == true_weakest,
        }
        if hasattr(net, "loss_curve_"):
            metrics["final_train_loss"] = net.loss_curve_[-1] if net.loss_curve_ else None
            metrics["best_validation_loss"] = net.best_validation_loss_
        if hasattr(net, "gbest_history_"):
            metrics["pso_start_loss"] = net.gbest_history_[0]
            metrics["pso_end_loss"] = net.gbest_history_[-1]
        row["models"][name] = metrics
    return row


def mean_sd(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def paired(rows: list[dict], a: str, b: str, metric: str = "rmse") -> dict:
    """a − b over seeds: mean, standard error, and how often a was lower."""
    diffs = [r["models"][a][metric] - r["models"][b][metric] for r in rows]
    mean, sd = mean_sd(diffs)
    se = sd / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    return {"mean": mean, "se": se, "a_lower": sum(d < 0 for d in diffs), "seeds": len(diffs),
            "significant": len(diffs) > 1 and abs(mean) > 2 * se}


def summarise(rows: list[dict]) -> dict:
    table = {}
    for name in MODELS:
        table[name] = {m: mean_sd([r["models"][name][m] for r in rows]) for m in METRICS}
        table[name]["impact_error"] = mean_sd([r["models"][name]["impact_error"] for r in rows])
        table[name]["weakest_right"] = sum(r["models"][name]["weakest_right"] for r in rows)
    table["noise_floor"] = mean_sd([r["noise_floor_rmse"] for r in rows])
    table["paired"] = {f"{a}-{b}": paired(rows, a, b) for a, b in PAIRS}
    return table


def recommend(summaries: dict[int, dict]) -> tuple[dict[int, list[str]], int | None, str]:
    """Which model to use at which size.

    At each size the *tied best* are the models no other beats significantly (paired
    RMSE over seeds, > 2 s.e.). The linear model is recommended below the smallest size
    from which on it is never tied best (None: it always is); above, the simplest
    network (bp, then bp_restarts, then pso_bp) tied best at every such size, or the one
    with the lowest mean RMSE over them when none is.
    """
    tied = {n: [m for m in MODELS if _not_worse(s, m)] for n, s in summaries.items()}
    sizes = sorted(summaries)
    threshold = next((n for i, n in enumerate(sizes) if all("linear" not in tied[m] for m in sizes[i:])), None)
    if threshold is None:
        return tied, None, "linear"
    large = [n for n in sizes if n >= threshold]
    networks = ("bp", "bp_restarts", "pso_bp")
    network = next((m for m in networks if all(m in tied[n] for n in large)), None)
    network = network or min(networks, key=lambda m: sum(summaries[n][m]["rmse"][0] for n in large))
    return tied, threshold, network


def conclude(summaries: dict[int, dict]) -> str:
    """The verdict, written from the numbers."""
    def say(d: dict, a: str, b: str) -> str:
        if not d["significant"]:
            return (f"{a} vs {b}: no significant difference (RMSE {a} − {b} = {d['mean']:+.4f} ± "
                    f"{d['se']:.4f} s.e.; {a} lower in {d['a_lower']} of {d['seeds']} seeds)")
        better = a if d["mean"] < 0 else b
        return (f"{a} vs {b}: **{better} better** (RMSE {a} − {b} = {d['mean']:+.4f} ± {d['se']:.4f} s.e.; "
                f"{a} lower in {d['a_lower']} of {d['seeds']} seeds)")

    lines = []
    for n, s in summaries.items():
        p = s["paired"]
        lines.append(f"- n = {n}: " + "; ".join([
            say(p["pso_bp-bp_restarts"], "PSO-BP", "restarts"), say(p["pso_bp-bp"], "PSO-BP", "BP"),
            say(p["pso_bp-linear"], "PSO-BP", "Ridge"), say(p["bp_restarts-linear"], "restarts", "Ridge")]) + ".")
    lines.append("")

    versus = {n: s["paired"]["pso_bp-bp_restarts"] for n, s in summaries.items()}
    wins = [n for n, d in versus.items() if d["significant"] and d["mean"] < 0]
    losses = [n for n, d in versus.items() if d["significant"] and d["mean"] > 0]
    sizes = lambda ns: ", ".join(f"n = {n}" for n in ns)  # noqa: E731
    if len(wins) == len(versus):
        lines.append("**PSO-BP vs random restarts at the same budget:** PSO-BP is better at every size tried.")
    elif not wins and not losses:
        lines.append("**PSO-BP vs random restarts at the same budget:** random restarts do as well as PSO-BP — "
                     "no significant difference at any size tried.")
    elif not wins:
        lines.append("**PSO-BP vs random restarts at the same budget:** PSO-BP is better at no size; restarts "
                     f"are significantly better at {sizes(losses)}, with no significant difference elsewhere.")
    else:
        lines.append("**PSO-BP vs random restarts at the same budget:** mixed — PSO-BP better at "
                     f"{sizes(wins) or 'no size'}, restarts better at {sizes(losses) or 'no size'}, "
                     "no significant difference elsewhere.")
    pso = {n: s["pso"] for n, s in summaries.items()}
    lines.append("The swarm's best starting weights (training loss before BP, mean over seeds, best random "
                 "start → gbest): "
                 + ", ".join(f"{p['start'][0]:.2f} → {p['end'][0]:.2f}" for p in pso.values())
                 + "; training loss after fine-tuning, PSO-BP vs restarts: "
                 + ", ".join(f"{p['pso_final'][0]:.3f} vs {p['restarts_final'][0]:.3f}" for p in pso.values())
                 + " (sizes in the order above). The held-out RMSE above is what counts.")
    lines.append("")

    tied, threshold, network = recommend(summaries)
    lines.append("**Tied best at each size** (no model significantly better): "
                 + "; ".join(f"n = {n}: {', '.join(ms)}" for n, ms in tied.items()) + ".")
    if threshold is None:
        lines.append("The linear model is tied best at every size: use it.")
    else:
        lines.append(f"**Recommendation:** Ridge below {threshold} conversations (up to there it is tied best), "
                     f"{network} ({MODEL_NAMES[network]}) from {threshold} on (Ridge is significantly worse there; "
                     f"{network} is the simplest network tied best at every such size).")
    lines.append("")
    if threshold is not None and network == "pso_bp":
        lines.append("PSO-BP earns its place: from that size on no simpler network matches it.")
    else:
        lines.append("PSO-BP does **not** earn its place: it costs a swarm and seven more hyper-parameters, and a "
                     "simpler model does as well at every size tried.")
    return "\n".join(lines)


def _not_worse(summary: dict, candidate: str) -> bool:
    """``candidate`` is not significantly worse than any other model (paired RMSE)."""
    for key, d in summary["paired"].items():
        a, b = key.split("-")
        if d["significant"] and ((candidate == a and d["mean"] > 0) or (candidate == b and d["mean"] < 0)):
            return False
    return True


def fmt(pair: tuple[float, float], digits: int = 3) -> str:
    mean, sd = pair
    return "—" if math.isnan(mean) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def one_fit_scores(n: int) -> pd.DataFrame:
    """Per-step scores of every model fitted once (seed 0, all n rows), next to the truth's."""
    data = make_synthetic_steps(n, 0)
    columns = {}
    effects = {"truth": step_effects(TrueModel(), data)}
    for name, model in candidate_models(0).items():
        model.fit(data[list(FEATURES)], data[TARGET])
        effects[name] = step_effects(model, data)
    for name, rows in effects.items():
        for e in rows:
            columns.setdefault(e["step"], {})[name] = (e["score"], e["impact"], e["weakest"])
    return columns


def write_markdown(path: Path, args: argparse.Namespace, summaries: dict, conclusion: str, scores: dict,
                   seconds: float) -> None:
    out = ["# Service-step scoring: PSO-BP against its rivals", "",
           f"Written by `.venvs/service/bin/python -m analytics.experiments.steps_report --seeds {args.seeds} --n "
           f"{' '.join(map(str, args.n))}` in {seconds:.0f} s ({platform.machine()}, torch "
           f"{torch.__version__}, 1 thread). Data: `make_synthetic_steps(n, seed)` (hidden nonlinear "
           "satisfaction with a wait × fallbacks interaction, rounded to 1–5 with noise; see its docstring), "
           "75/25 train/test split per seed, metrics on the test part, mean ± sd over seeds.", "",
           "## Models and budgets", "",
           "All networks: one hidden layer of 8 tanh units, inputs and target standardised, `log(1+s)` of the "
           "durations (the linear model gets it too), full-batch Adam lr 0.01, weight decay 1e-3, at most "
           f"{EPOCHS} epochs, early stopping (patience 50) on 20 % of the training rows.", "",
           "Budget unit: one *network evaluation* = one forward pass of one network over the training rows; "
           "a gradient step counts 3 (forward + backward).", "",
           "| model | what | budget ceiling (evaluations) |", "|---|---|---|",
           "| linear | Ridge (α = 1) after StandardScaler | closed form |",
           f"| bp | one random start | 3 × {EPOCHS} = {3 * EPOCHS} |",
           f"| bp_restarts | {RESTARTS} random starts, best on validation | {RESTARTS} × {3 * EPOCHS} = "
           f"{RESTARTS * 3 * EPOCHS} |",
           f"| pso_bp | PSO of the initial weights ({PSO_PARTICLES} particles × {PSO_ITERATIONS} iterations, "
           "w 0.72, c1 = c2 = 1.49, fitness = training loss), then BP from gbest | "
           f"{PSO_PARTICLES} × {PSO_ITERATIONS + 1} + {3 * EPOCHS} = "
           f"{PSO_PARTICLES * (PSO_ITERATIONS + 1) + 3 * EPOCHS} |", "",
           "The *evaluations* column below is what the fits actually spent (early stopping ends most "
           "runs before the ceiling).", ""]
    for n, s in summaries.items():
        out += [f"## n = {n} conversations ({args.seeds} seeds)", "",
                f"Noise floor (RMSE of the true expected satisfaction): {fmt(s['noise_floor'])}.", "",
                "| model | RMSE | MAE | R² | fit s | evaluations | step-impact error | weakest step right |",
                "|---|---|---|---|---|---|---|---|"]
        for name in MODELS:
            row = s[name]
            out.append(f"| {name} | {fmt(row['rmse'])} | {fmt(row['mae'])} | {fmt(row['r2'])} | "
                       f"{fmt(row['fit_seconds'], 2)} | {fmt(row['evaluations'], 0)} | {fmt(row['impact_error'])} | "
                       f"{row['weakest_right']} / {args.seeds} |")
        out += ["", "Paired RMSE differences (a − b, mean ± standard error over seeds; negative: a better):", "",
                "| a − b | mean | s.e. | a lower in | significant (> 2 s.e.) |", "|---|---|---|---|---|"]
        for key, d in s["paired"].items():
            out.append(f"| {key.replace('-', ' − ')} | {d['mean']:+.4f} | {d['se']:.4f} | {d['a_lower']} / "
                       f"{d['seeds']} | {'yes' if d['significant'] else 'no'} |")
        out.append("")
        if "pso" in s:
            p = s["pso"]
            out += [f"PSO itself works on the weights: the swarm's best training loss (standardised MSE + "
                    f"decay) falls from {fmt(p['start'])} (best of the {PSO_PARTICLES} random starts) to "
                    f"{fmt(p['end'])}; after fine-tuning, final training loss: PSO-BP {fmt(p['pso_final'])}, "
                    f"BP {fmt(p['bp_final'])}, restarts {fmt(p['restarts_final'])}.", ""]
    first_n = args.n[-1]
    out += [f"## Per-step scores from one fit (n = {first_n}, seed 0, all rows)", "",
            "score 0–100 (higher better) / impact (satisfaction points gained by fixing the step); "
            "**bold**: flagged weakest. *truth* is the hidden function itself.", "",
            "| step | " + " | ".join(["truth", *MODELS]) + " |", "|---|" + "---|" * (len(MODELS) + 1)]
    for step in STEPS:
        cells = []
        for name in ("truth", *MODELS):
            score, impact, weakest = scores[step][name]
            cell = f"{score:.0f} / {impact:.3f}"
            cells.append(f"**{cell}**" if weakest else cell)
        out.append(f"| {step} {STEP_LABELS[step]} | " + " | ".join(cells) + " |")
    tied, threshold, network = recommend(summaries)
    out += ["", "## Conclusion", "", conclusion, "",
            "## What the job does", "",
            f"`analytics.steps.chosen_model(n)`: Ridge below `LINEAR_BELOW` = {LINEAR_BELOW} conversations, "
            f"`NETWORK_MODEL` = {NETWORK_MODEL} from there on. Against this report:", "",
            "| n | tied best | job's model | among the tied best |", "|---|---|---|---|"]
    for n, models in tied.items():
        mine = chosen_model(n)
        out.append(f"| {n} | {', '.join(models)} | {mine} | {'yes' if mine in models else '**no — revisit**'} |")
    out += ["", "Caveats: synthetic data from one hidden function. Six paired tests per size at about the 5 % "
            "level (2 s.e.) mean one or two \"significant\" differences in this report are expected by chance "
            "alone: trust a pattern over sizes more than a single cell. Fit seconds are wall-clock on a machine "
            "shared with other work, so only their order of magnitude means anything.",
            "", "The job records the same four-way "
            "comparison on the real conversations every time it runs (`analytics_reports`, kind `steps`, "
            "`data.comparison`), so a disagreement with this report shows up there.", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, nargs="+", default=[2000])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "step-scoring.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    # One throwaway fit so the first timed model does not pay torch's start-up.
    warm = make_synthetic_steps(200, 99)
    candidate_models(0)["pso_bp"].fit(warm[list(FEATURES)], warm[TARGET])

    all_rows, summaries = {}, {}
    for n in args.n:
        rows = []
        for seed in range(args.seeds):
            clock = time.perf_counter()
            rows.append(run_seed(n, seed))
            print(f"n={n} seed={seed}: " + ", ".join(f"{m} {rows[-1]['models'][m]['rmse']:.4f}" for m in MODELS)
                  + f" ({time.perf_counter() - clock:.1f} s)", file=sys.stderr)
        summary = summarise(rows)
        summary["pso"] = {
            "start": mean_sd([r["models"]["pso_bp"]["pso_start_loss"] for r in rows]),
            "end": mean_sd([r["models"]["pso_bp"]["pso_end_loss"] for r in rows]),
            "pso_final": mean_sd([r["models"]["pso_bp"]["final_train_loss"] for r in rows]),
            "bp_final": mean_sd([r["models"]["bp"]["final_train_loss"] for r in rows]),
            "restarts_final": mean_sd([r["models"]["bp_restarts"]["final_train_loss"] for r in rows]),
        }
        all_rows[n], summaries[n] = rows, summary
    conclusion = conclude(summaries)
    tied, threshold, network = recommend(summaries)
    scores = one_fit_scores(args.n[-1])
    seconds = time.perf_counter() - started
    write_markdown(args.out, args, summaries, conclusion, scores, seconds)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"seeds": args.seeds, "sizes": args.n, "seconds": round(seconds, 1),
         "recommendation": {"tied_best": {str(n): m for n, m in tied.items()}, "linear_below": threshold,
                            "network": network},
         "job": {"linear_below": LINEAR_BELOW, "network": NETWORK_MODEL},
         "summaries": {str(n): s for n, s in summaries.items()},
         "runs": {str(n): rows for n, rows in all_rows.items()},
         "one_fit_scores": {step: {m: list(v) for m, v in d.items()} for step, d in scores.items()}},
        ensure_ascii=False, indent=1, default=float), encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} in {seconds:.0f} s", file=sys.stderr)
    print(conclusion)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
