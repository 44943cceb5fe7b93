"""The client's address on the real service process, as ops/stack.py starts it.

uvicorn's own proxy-header handling believes X-Forwarded-For from 127.0.0.1, i.e. from
any local client; the service runs with --no-proxy-headers and only HX_TRUSTED_PROXIES
decides (api/services/identity.py: client_ip). Each test here starts its own service
(no Rasa: not needed) on a free port with its own database, so its limits and locks
touch no other test."""
from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import httpx
import pytest

from ops.stack import Ports, Stack
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e


def service_only(var_dir: Path, **env: str) -> Stack:
    tokens = {"HX_INTERNAL_TOKEN": secrets.token_urlsafe(16), "HX_ADMIN_TOKEN": secrets.token_urlsafe(16),
              "HX_IDENTITY_SECRET": secrets.token_urlsafe(16), "HX_ADMIN_PASSWORD": secrets.token_urlsafe(12),
              "HX_COOKIE_SECRET": secrets.token_urlsafe(16), **env}
    stack = Stack(model=Path("no-model-needed"), var_dir=var_dir, secrets_env=tokens,
                  ports=Ports(service=free_port(), rasa=free_port(), actions=free_port()))
    stack.prepare_database(seed=False)
    stack.start_service()
    try:
        stack.wait_ready(timeout=60)
    except Exception:
        stack.stop_all()
        raise
    return stack


def stored_ips(stack: Stack, customer_id: int) -> tuple[str, str]:
    with sqlite3.connect(stack.var_dir / "huixiang.db") as db:
        return db.execute("SELECT first_ip, last_ip FROM customers WHERE id = ?", (customer_id,)).fetchone()


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory):
    stack = service_only(tmp_path_factory.mktemp("no-proxies"))  # HX_TRUSTED_PROXIES=[] (default)
    yield stack
    stack.stop_all()


def test_the_service_runs_without_uvicorns_proxy_headers(untrusting):
    argv = untrusting.procs["service"].args
    assert "--no-proxy-headers" in argv


def test_a_local_client_cannot_fake_the_address_stored_on_the_customer(untrusting):
    with httpx.Client(base_url=untrusting.service_url, timeout=30) as browser:
        resp = browser.post("/api/web/session", json={}, headers={"X-Forwarded-For": "203.0.113.77"})
        assert resp.status_code == 200, resp.text
        assert stored_ips(untrusting, resp.json()["customer"]["id"]) == ("127.0.0.1", "127.0.0.1")


def test_varied_forwarded_for_headers_do_not_escape_the_login_limit(untrusting):
    with httpx.Client(base_url=untrusting.service_url, timeout=30) as c:
        codes = [c.post("/api/auth/login", json={"username": f"guess{n}", "password": "wrong"},
                        headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(25)]
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 5


def test_a_made_up_client_cookie_is_replaced_by_a_signed_one(untrusting):
    with httpx.Client(base_url=untrusting.service_url, timeout=30) as browser:
        browser.cookies.set("hx_cid", "A" * 40)
        resp = browser.post("/api/web/session", json={})
        issued = resp.cookies.get("hx_cid")
        assert resp.status_code == 200 and issued != "A" * 40 and "." in issued


def test_behind_a_configured_proxy_the_app_believes_it(tmp_path):
    stack = service_only(tmp_path, HX_TRUSTED_PROXIES='["127.0.0.1"]')
    try:
        with httpx.Client(base_url=stack.service_url, timeout=30) as proxy:
            resp = proxy.post("/api/web/session", json={}, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.77"})
            assert resp.status_code == 200, resp.text
            assert stored_ips(stack, resp.json()["customer"]["id"]) == ("203.0.113.77", "203.0.113.77")
    finally:
        stack.stop_all()
