"""Live notices: a commit that touches a conversation announces it; streams need auth."""
from __future__ import annotations

import asyncio
import threading

import httpx

from api.db import session as db_session
from api.models import Conversation, Customer, Message
from api.services import live


def test_a_commit_from_a_worker_thread_reaches_subscribers(settings_env):
    async def scenario() -> list[str]:
        live.hub.bind(asyncio.get_running_loop())
        conv_queue, all_queue = live.hub.subscribe("conv:c-live"), live.hub.subscribe(live.ALL)

        def write() -> None:  # as the service does: database work in the thread pool
            with db_session.get_sessionmaker()() as db:
                customer = Customer()
                db.add(customer)
                db.flush()
                db.add(Conversation(id="c-live", customer_id=customer.id, channel="web"))
                db.add(Message(conversation_id="c-live", direction="inbound", author="customer", text="在吗"))
                db.commit()

        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
        got = [await asyncio.wait_for(conv_queue.get(), 2), await asyncio.wait_for(all_queue.get(), 2)]
        live.hub.bind(None)
        return got

    assert asyncio.run(scenario()) == ["c-live", "c-live"]


def test_a_rolled_back_change_is_not_announced(settings_env):
    async def scenario() -> bool:
        live.hub.bind(asyncio.get_running_loop())
        queue = live.hub.subscribe(live.ALL)
        with db_session.get_sessionmaker()() as db:
            customer = Customer()
            db.add(customer)
            db.flush()
            db.add(Conversation(id="c-gone", customer_id=customer.id, channel="web"))
            db.flush()
            db.rollback()
        await asyncio.sleep(0.05)
        live.hub.bind(None)
        return queue.empty()

    assert asyncio.run(scenario())


def test_streams_are_only_for_the_conversations_owner_and_for_staff(client, rasa):
    conv = client.post("/api/web/session", json={}).json()["conversation"]["id"]
    stranger = httpx.Client(transport=client._transport, base_url=str(client.base_url))
    assert stranger.get(f"/api/web/conversations/{conv}/events").status_code == 401
    assert client.get("/api/web/conversations/not-mine/events").status_code == 404
    assert client.get("/api/staff/events").status_code == 401
