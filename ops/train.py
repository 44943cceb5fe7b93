"""Train the Rasa model only when its inputs changed.

The model's file name carries a digest of everything that shapes it, so "is there a
model for this data" is a file lookup rather than a 20-second Rasa start-up.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from ops.paths import BOT_BIN, MODELS, QUIET_RASA, ROOT

INPUTS = ["config.yml", "domain.yml", "data", "bot/jieba", "requirements/bot.txt"]
KEEP_MODELS = 3


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(root)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT, models: Path = MODELS) -> Path:
    return models / f"huixiang-{fingerprint(root)}.tar.gz"


def ensure_model(root: Path = ROOT, models: Path = MODELS, force: bool = False) -> Path:
    target = model_path(root, models)
    if target.exists() and not force:
        print(f"model up to date: {target.name}", flush=True)
        return target
    print(f"training the Rasa model ({target.name}); this takes a few minutes…", flush=True)
    started = time.monotonic()
    subprocess.run(
        [str(BOT_BIN / "rasa"), "train", "--out", str(models), "--fixed-model-name",
         target.name.removesuffix(".tar.gz")],
        cwd=root, env={**os.environ, **QUIET_RASA}, check=True,
    )
    print(f"trained in {time.monotonic() - started:.0f} s", flush=True)
    old = sorted(models.glob("huixiang-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_MODELS:]:
        stale.unlink()
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if a model exists")
    args = parser.parse_args()
    try:
        print(ensure_model(force=args.force))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
