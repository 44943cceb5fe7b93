"""Logging that never writes a customer's personal data or a secret: every line passes
bot.privacy.MaskPersonalData (phones, ID cards, e-mails, IPs, tokens, HX_* secret values),
the same filter Rasa and the action server load through ops/logging.yml."""
from __future__ import annotations

import logging

from bot.privacy import MaskPersonalData


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPersonalData())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx would log every call to Rasa; the access log already has each request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
