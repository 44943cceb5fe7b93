"""The Rasa project itself: data validates, the model understands held-out Chinese,
and the test stories pass. Each runs the real ``rasa`` command of the bot environment."""
from __future__ import annotations

import os
import subprocess

import pytest

from ops.nlu_report import HOLDOUT, evaluate
from ops.paths import BOT_BIN, QUIET_RASA, ROOT
from ops.train import ensure_model

# The issue asks for a held-out report; these floors keep a regression from landing.
MIN_ACCURACY = 0.90
MIN_MACRO_F1 = 0.85


def rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BOT_BIN / "rasa"), *args], cwd=ROOT, env={**os.environ, **QUIET_RASA},
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def model():
    return ensure_model()


def test_training_data_validates():
    result = rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_holdout_never_appears_in_training_data():
    import re

    import yaml

    def utterances(path):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}", r"\1\2", line.lstrip("- "))
                yield re.sub(r"[\s\W_]+", "", text).lower()

    training = {u for p in (ROOT / "data" / "nlu").glob("*.yml") for u in utterances(p)}
    shared = [u for u in utterances(HOLDOUT) if u and u in training]
    assert shared == []


def test_heldout_intent_accuracy(model, tmp_path):
    report = evaluate(model, tmp_path)
    assert report["accuracy"] >= MIN_ACCURACY, report["accuracy"]
    assert report["macro avg"]["f1-score"] >= MIN_MACRO_F1, report["macro avg"]


def test_stories_pass(model, tmp_path):
    result = rasa("test", "core", "--stories", "tests/bot/test_stories.yml", "--model", str(model),
                  "--out", str(tmp_path), "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    assert result.returncode == 0, (failed.read_text() if failed.exists() else "") + result.stdout[-2000:]
