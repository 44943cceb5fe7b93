"""A migrated temporary database and the app, with Rasa's REST answers scripted."""
from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from api.core.config import get_settings
from api.db import session as db_session
from api.deps import get_rasa
from api.services.identity import user_hash
from bot.rasa_client import RasaClient
from ops.paths import ROOT

INTERNAL = "internal-test-token"
ADMIN = "admin-test-token"
IDENTITY = "identity-test-secret"


def _clear_caches() -> None:
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()
    db_session.get_sessionmaker.cache_clear()


# Set to a PostgreSQL URL (postgresql+psycopg://…) to run these tests there instead of
# on a fresh SQLite file; the database is emptied before each test.
OTHER_DATABASE = os.environ.get("HX_TEST_DATABASE_URL")


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HX_DATABASE_URL", OTHER_DATABASE or f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("HX_INTERNAL_TOKEN", INTERNAL)
    monkeypatch.setenv("HX_ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("HX_IDENTITY_SECRET", IDENTITY)
    # Tests not about the per-client limits send many messages and sessions from one
    # client; tests about them set their own (api/services/rate_limits.py).
    for name in ("HX_RATE_MESSAGES_PER_CUSTOMER", "HX_RATE_NEW_SESSIONS_PER_ADDRESS",
                 "HX_RATE_ESCALATIONS_PER_ADDRESS"):
        monkeypatch.setenv(name, "10000")
    from api.services import rate_limits

    rate_limits.reset()
    _clear_caches()
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    if OTHER_DATABASE:
        command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    yield get_settings()
    db_session.get_engine().dispose()
    _clear_caches()


@pytest.fixture
def db(settings_env):
    with db_session.get_sessionmaker()() as session:
        yield session


class ScriptedRasa:
    """Plays Rasa's REST channel: ``reply`` decides the answer to each request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.reply: Callable[[dict], httpx.Response] = lambda body: httpx.Response(200, json=[])
        self.delay = 0.0  # seconds Rasa "thinks" before answering (without blocking the loop)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.handler(request)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # health probes: nothing is listening in unit tests
            raise httpx.ConnectError("no server in unit tests")
        body = json.loads(request.content)
        self.requests.append(body)
        return self.reply(body)


def marked(text: str, template: str, intent: str = "greet", confidence: float = 0.97) -> list[dict]:
    """What Rasa's REST channel returns for one response rendered by our NLG endpoint."""
    return [{"recipient_id": "x", "text": text},
            {"recipient_id": "x", "custom": {"hx": {"template": template, "intent": intent,
                                                   "confidence": confidence}}}]


@pytest.fixture
def rasa():
    return ScriptedRasa()


@pytest.fixture
def client(settings_env, rasa):
    from api.main import create_app

    app = create_app()
    fake = RasaClient("http://rasa.test", timeout=5,
                      client=httpx.AsyncClient(transport=httpx.MockTransport(rasa.async_handler)))
    app.dependency_overrides[get_rasa] = lambda: fake
    with TestClient(app) as c:
        yield c


@pytest.fixture
def session_for(client):
    """Start a web chat session; returns the JSON (the cookie stays in the client)."""
    def start(**body):
        resp = client.post("/api/web/session", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()
    return start


def signed(user_id: str) -> dict:
    return {"user_id": user_id, "user_hash": user_hash(IDENTITY, user_id)}
