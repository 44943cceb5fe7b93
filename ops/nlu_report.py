"""Evaluate the model on the held-out utterances and write docs/nlu-report.md.

    .venvs/service/bin/python -m ops.nlu_report

The held-out file (tests/bot/nlu_holdout.yml) is never used in training.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from ops.paths import BOT_BIN, QUIET_RASA, ROOT

HOLDOUT = ROOT / "tests" / "bot" / "nlu_holdout.yml"


def evaluate(model: Path, out_dir: Path) -> dict:
    """Run ``rasa test nlu`` on the held-out set; return its intent report."""
    subprocess.run([str(BOT_BIN / "rasa"), "test", "nlu", "--nlu", str(HOLDOUT), "--model", str(model),
                    "--out", str(out_dir), "--no-plot"],
                   cwd=ROOT, env={**os.environ, **QUIET_RASA}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((out_dir / "intent_report.json").read_text())
    selection = out_dir / "response_selection_report.json"
    if selection.exists():
        faq = json.loads(selection.read_text())
        report["faq_answers"] = {"accuracy": faq["accuracy"], "macro_f1": faq["macro avg"]["f1-score"]}
    return report


def markdown(report: dict, model: Path) -> str:
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v
               and k not in ("macro avg", "weighted avg", "micro avg")}
    lines = [
        "# Intent report on held-out utterances",
        "",
        "Written by `.venvs/service/bin/python -m ops.nlu_report` from `rasa test nlu` on",
        f"`tests/bot/nlu_holdout.yml` (never used in training), model `{model.name}`.",
        "",
        f"- utterances: {sum(v['support'] for v in intents.values())}",
        f"- accuracy: **{report['accuracy']:.3f}**",
        f"- macro F1: **{report['macro avg']['f1-score']:.3f}**, weighted F1: {report['weighted avg']['f1-score']:.3f}",
        *([f"- FAQ answer chosen by the ResponseSelector: accuracy {report['faq_answers']['accuracy']:.3f}, "
           f"macro F1 {report['faq_answers']['macro_f1']:.3f}"] if "faq_answers" in report else []),
        "",
        "| intent | precision | recall | F1 | utterances | most often confused with |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in sorted(intents.items(), key=lambda kv: kv[1]["f1-score"]):
        confused = ", ".join(f"{k} ({n})" for k, n in (v.get("confused_with") or {}).items()) or "—"
        lines.append(f"| {name} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1-score']:.2f} "
                     f"| {v['support']} | {confused} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from ops.train import ensure_model

    model = ensure_model()
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(model, Path(tmp))
    (ROOT / "docs" / "nlu-report.md").write_text(markdown(report, model), encoding="utf-8")
    print(f"accuracy {report['accuracy']:.3f}, macro F1 {report['macro avg']['f1-score']:.3f}")
