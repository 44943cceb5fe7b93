"""Record the trackers the action server receives, from a real conversation.

Run in the bot environment against a stack's tracker database, after chatting:

    .venvs/bot/bin/python -m tests.actions.record_trackers TRACKER_DB SENDER ACTION NAME [N]

It writes ``tests/actions/trackers/NAME.json``: the tracker state just before the N-th
run of ACTION in that conversation (default: the last; 0 is the first), in the form
Rasa posts to the action server.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

HERE = Path(__file__).parent


async def record(db: str, sender: str, action: str, occurrence: int = -1) -> dict:
    domain = Domain.load("domain.yml")
    tracker = await SQLTrackerStore(domain, dialect="sqlite", db=db).retrieve(sender)
    if tracker is None:
        raise SystemExit(f"no tracker for {sender}")
    events = list(tracker.events)
    if action == "action_session_start":
        # Rasa runs it before storing anything of the new session, on the events so far
        # plus the slot session_started_metadata holding the incoming message's metadata.
        runs = [i for i, e in enumerate(events) if isinstance(e, SessionStarted)]
        cut = runs[occurrence]
        first = next(e for e in events[cut:] if isinstance(e, UserUttered))
        metadata = {k: v for k, v in (first.metadata or {}).items() if k not in ("model_id", "assistant_id")}
        replay = events[:cut] + [SlotSet("session_started_metadata", metadata)]
    else:
        runs = [i for i, e in enumerate(events) if isinstance(e, ActionExecuted) and e.action_name == action]
        replay = events[:runs[occurrence]]
    before = DialogueStateTracker.from_events(sender, replay, domain.slots)
    return before.current_state(EventVerbosity.AFTER_RESTART)


if __name__ == "__main__":
    db, sender, action, name = sys.argv[1:5]
    occurrence = int(sys.argv[5]) if len(sys.argv) > 5 else -1
    state = asyncio.run(record(db, sender, action, occurrence))
    out = HERE / "trackers" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    print(out)
