"""Where things are: the project, the two virtual environments, runtime files."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENVS = Path(os.environ.get("HX_VENVS", ROOT / ".venvs"))
BOT_BIN = VENVS / "bot" / "bin"
SERVICE_BIN = VENVS / "service" / "bin"
MODELS = ROOT / "models"
VAR = Path(os.environ.get("HX_VAR_DIR", ROOT / "var"))

# Rasa prints telemetry notices and TensorFlow chatter unless told not to.
QUIET_RASA = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
              "PYTHONWARNINGS": "ignore"}
