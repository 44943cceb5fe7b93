"""The Rasa project itself: data validates, the model understands held-out Chinese,
and the test stories pass. Each runs the real ``rasa`` command of the bot environment."""
from __future__ import annotations

import os
import subprocess

import pytest

from ops.nlu_report import HELD_OUT_SETS, evaluate
from ops.paths import BOT_BIN, QUIET_RASA, ROOT
from ops.train import ensure_model

# Issue 14 asks for >= 0.95 intent accuracy on BOTH held-out sets (the one written with the
# training data and the colloquial one written apart from it); these floors keep a
# regression from landing.
# The target is 0.95 on both sets (measured in docs/nlu-report.md: 0.956 and 0.960).
# The floor leaves two or three utterances of room, because training on CPU with
# several threads is not bit-for-bit repeatable and the sets are a few hundred lines.
MIN_ACCURACY = 0.945
MIN_MACRO_F1 = 0.90
HELD_OUT = pytest.mark.parametrize("held_out", HELD_OUT_SETS, ids=lambda h: h.path.stem)


def rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BOT_BIN / "rasa"), *args], cwd=ROOT, env={**os.environ, **QUIET_RASA},
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def model():
    return ensure_model()


def test_training_data_validates():
    result = rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@HELD_OUT
def test_holdout_never_appears_in_training_data(held_out):
    import re

    import yaml

    def utterances(path):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}", r"\1\2", line.lstrip("- "))
                yield re.sub(r"[\s\W_]+", "", text).lower()

    training = {u for p in (ROOT / "data" / "nlu").glob("*.yml") for u in utterances(p)}
    shared = [u for u in utterances(held_out.path) if u and u in training]
    assert shared == []


def test_colloquial_holdout_covers_every_intent():
    import yaml

    from ops.nlu_report import HOLDOUT_COLLOQUIAL

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    blocks = yaml.safe_load(HOLDOUT_COLLOQUIAL.read_text(encoding="utf-8"))["nlu"]
    covered = {b["intent"].split("/")[0] for b in blocks if len(b["examples"].splitlines()) >= 5}
    assert intents - covered == set()


@HELD_OUT
def test_heldout_intent_accuracy(model, tmp_path, held_out):
    report = evaluate(model, tmp_path, held_out.path)
    assert report["accuracy"] >= MIN_ACCURACY, report["accuracy"]
    assert report["macro avg"]["f1-score"] >= MIN_MACRO_F1, report["macro avg"]


def test_stories_pass(model, tmp_path):
    result = rasa("test", "core", "--stories", "tests/bot/test_stories.yml", "--model", str(model),
                  "--out", str(tmp_path), "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    assert result.returncode == 0, (failed.read_text() if failed.exists() else "") + result.stdout[-2000:]
