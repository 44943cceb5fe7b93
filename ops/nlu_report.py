"""Evaluate the model on the two held-out sets and write docs/nlu-report.md.

    .venvs/service/bin/python -m ops.nlu_report

Neither held-out file is ever used in training (tests/bot/test_rasa_model.py checks that no
normalised line of either appears in data/nlu/). The first set was written by the same hands
as the training data, so it flatters the model; the second is colloquial phrasing written
apart from the training data, which is how customers actually type.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ops.paths import BOT_BIN, QUIET_RASA, ROOT


@dataclass(frozen=True)
class HeldOutSet:
    path: Path
    title: str
    provenance: str


HOLDOUT = ROOT / "tests" / "bot" / "nlu_holdout.yml"
HOLDOUT_COLLOQUIAL = ROOT / "tests" / "bot" / "nlu_holdout_colloquial.yml"

HELD_OUT_SETS = (
    HeldOutSet(
        HOLDOUT, "Held-out set 1: written alongside the training data",
        "Written by the same people, at the same time and in the same style as `data/nlu/`, so it "
        "measures whether the model generalises to new sentences of a familiar kind. It flatters "
        "the model: independently written phrasing scored about 0.89 before issue 14.",
    ),
    HeldOutSet(
        HOLDOUT_COLLOQUIAL, "Held-out set 2: colloquial phrasing written apart from the training data",
        "Written for issue 14 by an AI helper session (one author, not customers) that had not "
        "read `data/nlu/` when writing it, to be unlike the training data: chat-style speech, typos and homophones (退贷, 发huo, 咋整, 木有, 蟹蟹), "
        "emoji, abbreviations (dd = 订单, kf = 客服, tk = 退款, rg = 人工, jf = 积分, yyds, nb), "
        "mixed English (order到哪了, 能refund吗), regional forms (侬好, 雷猴, 莫得, 要得, 唔使) and "
        "long messages with two questions, labelled by the main request. It covers every intent "
        "including cancel_order, change_address, ask_request_status, ask_my_coupons, inform_phone "
        "and inform_id_number (made-up numbers). Changes made after the training data was read: "
        "32 lines that happened to equal a training line exactly (嗯嗯, 转人工, 886…) were replaced "
        "by other colloquial forms; six bargaining/discount lines (能便宜点不, 砍个价呗, 满减咋弄…) "
        "were moved from ask_offer to ask_price, where the intent definitions in "
        "`data/nlu/shopping.yml` put them, and 退款啥时候到账 became 我的退款啥时候到账 so that it "
        "asks about the customer's own request. Nothing was changed because the model got it "
        "wrong. The colloquial training "
        "examples in `data/nlu/colloquial.yml` teach the same kinds of variation with different "
        "sentences. Its FAQ lines do not include faq/cancel_order and faq/change_address: those "
        "requests are labelled with the cancel_order and change_address intents.",
    ),
)


def evaluate(model: Path, out_dir: Path, holdout: Path = HOLDOUT) -> dict:
    """Run ``rasa test nlu`` on one held-out set; return its intent report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BOT_BIN / "rasa"), "test", "nlu", "--nlu", str(holdout), "--model", str(model),
                    "--out", str(out_dir), "--no-plot"],
                   cwd=ROOT, env={**os.environ, **QUIET_RASA}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((out_dir / "intent_report.json").read_text())
    selection = out_dir / "response_selection_report.json"
    if selection.exists():
        faq = json.loads(selection.read_text())
        report["faq_answers"] = {"accuracy": faq["accuracy"], "macro_f1": faq["macro avg"]["f1-score"]}
    errors = out_dir / "intent_errors.json"
    report["errors"] = json.loads(errors.read_text()) if errors.exists() else []
    return report


def section(held_out: HeldOutSet, report: dict) -> list[str]:
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v
               and k not in ("macro avg", "weighted avg", "micro avg")}
    lines = [
        f"## {held_out.title}",
        "",
        f"`{held_out.path.relative_to(ROOT)}`. {held_out.provenance}",
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
    for name, v in sorted(intents.items(), key=lambda kv: (kv[1]["f1-score"], kv[0])):
        confused = ", ".join(f"{k} ({n})" for k, n in (v.get("confused_with") or {}).items()) or "—"
        lines.append(f"| {name} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1-score']:.2f} "
                     f"| {v['support']} | {confused} |")
    errors = report.get("errors") or []
    lines += ["", f"Misread utterances ({len(errors)}):" if errors else "No utterance misread.", ""]
    for e in sorted(errors, key=lambda e: (e["intent"], e["text"])):
        lines.append(f"- 「{e['text']}」 {e['intent']} → {e['intent_prediction']['name']} "
                     f"({e['intent_prediction']['confidence']:.2f})")
    return lines


def markdown(reports: list[tuple[HeldOutSet, dict]], model: Path) -> str:
    lines = [
        "# Intent report on held-out utterances",
        "",
        "Written by `.venvs/service/bin/python -m ops.nlu_report` from `rasa test nlu` on two",
        f"held-out sets that are never used in training, model `{model.name}`.",
        "",
        "| set | utterances | accuracy | macro F1 |",
        "|---|---|---|---|",
    ]
    for held_out, report in reports:
        lines.append(f"| {held_out.path.name} | {report['weighted avg']['support']} | {report['accuracy']:.3f} "
                     f"| {report['macro avg']['f1-score']:.3f} |")
    for held_out, report in reports:
        lines += ["", *section(held_out, report)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from ops.train import ensure_model

    model = ensure_model()
    with tempfile.TemporaryDirectory() as tmp:
        reports = [(h, evaluate(model, Path(tmp) / h.path.stem, h.path)) for h in HELD_OUT_SETS]
    (ROOT / "docs" / "nlu-report.md").write_text(markdown(reports, model), encoding="utf-8")
    for held_out, report in reports:
        print(f"{held_out.path.name}: accuracy {report['accuracy']:.3f}, "
              f"macro F1 {report['macro avg']['f1-score']:.3f}")
