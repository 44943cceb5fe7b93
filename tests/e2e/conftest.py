"""The real stack — action server, Rasa with the trained model, the service, and the
offline fake of WeChat's servers — started once for the end-to-end and browser tests on
free ports and a temporary data folder."""
from __future__ import annotations

import re
import secrets
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from api.services.identity import user_hash
from ops.stack import NO_CLIENT_LIMITS, Ports, Stack, new_wechat_sim_credentials
from ops.train import ensure_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tokens = {"HX_INTERNAL_TOKEN": secrets.token_urlsafe(16), "HX_ADMIN_TOKEN": secrets.token_urlsafe(16),
              "HX_IDENTITY_SECRET": secrets.token_urlsafe(16), "HX_ADMIN_PASSWORD": secrets.token_urlsafe(12),
              **new_wechat_sim_credentials(),
              # Every simulated customer comes from 127.0.0.1 (limits: tests/e2e/test_client_address.py).
              **NO_CLIENT_LIMITS}
    s = Stack(model=ensure_model(), var_dir=tmp_path_factory.mktemp("stack"),
              ports=Ports(service=free_port(), rasa=free_port(), actions=free_port(), wechat_sim=free_port()),
              secrets_env=tokens)
    try:
        s.start()
        s.start_fake_wechat()  # the service calls it only when it sends
        s.wait_ready(timeout=240)
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def customer(stack):
    """A fresh browser: its own cookie jar."""
    with httpx.Client(base_url=stack.service_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def staff(stack):
    """The service as automation sees it: the admin bearer token (no cookies kept)."""
    headers = {"Authorization": f"Bearer {stack.secrets_env['HX_ADMIN_TOKEN']}"}
    with httpx.Client(base_url=stack.service_url, timeout=30, headers=headers) as c:
        yield c


@pytest.fixture(scope="session")
def wechat_sim(stack):
    """The offline fake of WeChat's servers: /_fake/deliver plays a customer, /_fake/messages
    shows the customer-service messages the service sent."""
    with httpx.Client(base_url=stack.wechat_sim_url, timeout=30) as c:
        yield c


def member_login(stack, user_id: str) -> dict:
    return {"user_id": user_id, "user_hash": user_hash(stack.secrets_env["HX_IDENTITY_SECRET"], user_id)}


def start(client: httpx.Client, body: dict | None = None) -> dict:
    resp = client.post("/api/web/session", json=body or {})
    assert resp.status_code == 200, resp.text
    return resp.json()


def say(client: httpx.Client, conv_id: str, text: str) -> dict:
    resp = client.post(f"/api/web/conversations/{conv_id}/messages", json={"text": text})
    assert resp.status_code == 200, resp.text
    return resp.json()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's package: no browser download
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test; each test opens its own contexts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


# Generic shapes, bounded by anything alphanumeric (hex ids and timestamps are not data).
SHAPES = {
    "phone": re.compile(r"(?<![0-9A-Za-z])1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![0-9A-Za-z])"),
    "ID card": re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                          r"\d{3}[\dXx](?![0-9A-Za-z])"),
    "e-mail": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
}
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY")


def personal_data_in_logs(var_dir: Path, secrets_env: dict[str, str], planted: tuple[str, ...] = ()) -> list[tuple]:
    """Every phone number, ID-card number, e-mail address (by shape), planted value and
    installation secret found in the logs under ``var_dir``: (file, kind, what)."""
    secret_values = {k: v for k, v in secrets_env.items() if SECRET_NAME.search(k) and len(v) >= 8}
    hits = []
    for path in sorted(p for p in Path(var_dir).rglob("*.log") if p.is_file()):
        text = path.read_text(errors="replace")
        hits += [(path.name, "planted", value) for value in planted if value in text]
        for kind, shape in SHAPES.items():
            hits += [(path.name, kind, m.group(0)) for m in shape.finditer(text)]
        hits += [(path.name, "secret", name) for name, value in secret_values.items() if value in text]
    return hits
