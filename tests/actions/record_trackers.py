"""Record the trackers the action server receives, from a real conversation.

Run in the bot environment against a stack's tracker database, after chatting:

    .venvs/bot/bin/python -m tests.actions.record_trackers TRACKER_DB SENDER ACTION NAME

It writes ``tests/actions/trackers/NAME.json``: the tracker state just before ACTION
ran in that conversation (the form Rasa posts to the action server).
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

HERE = Path(__file__).parent


async def record(db: str, sender: str, action: str) -> dict:
    domain = Domain.load("domain.yml")
    tracker = await SQLTrackerStore(domain, dialect="sqlite", db=db).retrieve(sender)
    if tracker is None:
        raise SystemExit(f"no tracker for {sender}")
    events = list(tracker.events)
    cut = max(i for i, e in enumerate(events) if isinstance(e, ActionExecuted) and e.action_name == action)
    before = DialogueStateTracker.from_events(sender, events[:cut], domain.slots)
    return before.current_state(EventVerbosity.AFTER_RESTART)


if __name__ == "__main__":
    db, sender, action, name = sys.argv[1:5]
    state = asyncio.run(record(db, sender, action))
    out = HERE / "trackers" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    print(out)
