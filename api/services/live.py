"""Live notifications inside the service process: "conversation X changed".

Every commit that adds or changes a message, a conversation or a conversation event
announces the conversation's id (the session hook in api/models/hooks.py, so no code
path can forget to). The web chat and the staff workspace listen through server-sent
events and then fetch what changed through their normal, authorised endpoints — the
notification itself carries no content. The hub lives in one process: with several service workers
a shared channel (PostgreSQL LISTEN/NOTIFY, Redis) would take its place, and the pages
keep polling slowly as a fallback either way.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from api.models import hooks

ALL = "all"
HEARTBEAT_SECONDS = 15.0


def run_on_loop(loop: asyncio.AbstractEventLoop | None, callback, *args) -> None:
    """Call ``callback`` on ``loop`` from any thread: at once when already on it, else
    scheduled there (asyncio objects may only be touched from their loop's thread)."""
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback(*args)
    else:
        loop.call_soon_threadsafe(callback, *args)


class LiveHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    def subscribe(self, topic: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self._subscribers.setdefault(topic, set()).add(queue)
        return queue

    def unsubscribe(self, topic: str, queue: asyncio.Queue) -> None:
        self._subscribers.get(topic, set()).discard(queue)

    def publish(self, conversation_ids: set[str]) -> None:
        """Safe from any thread: database work runs in the thread pool."""
        if conversation_ids:
            run_on_loop(self._loop, self._deliver, conversation_ids)

    def _deliver(self, conversation_ids: set[str]) -> None:
        for conv_id in conversation_ids:
            for topic in (f"conv:{conv_id}", ALL):
                for queue in list(self._subscribers.get(topic, ())):
                    if not queue.full():  # a stalled reader misses notices, not its data
                        queue.put_nowait(conv_id)


hub = LiveHub()
hooks.conversations_changed.append(hub.publish)


async def stream(topic: str, is_disconnected) -> AsyncIterator[str]:
    """Server-sent events: ``changed`` with the conversation id, and a comment now and
    then so proxies keep the connection open."""
    queue = hub.subscribe(topic)
    try:
        yield "retry: 3000\n\n"
        while not await is_disconnected():
            try:
                conv_id = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except asyncio.TimeoutError:
                yield ": ping\n\n"
                continue
            yield f"event: changed\ndata: {json.dumps({'conversation_id': conv_id})}\n\n"
    finally:
        hub.unsubscribe(topic, queue)
