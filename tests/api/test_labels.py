"""GET /api/staff/labels: the Chinese names the staff pages show, straight from the
Python constants (the pages keep no copies)."""
from __future__ import annotations

import pytest

from analytics.steps import MODEL_NAMES
from api.jobs.registry import JOBS
from api.models.analytics import STEP_LABELS
from api.models.content import OFFER_KINDS, OFFER_TRIGGERS
from api.models.customer import PERSONA_LABELS, PERSONAS, STAGE_LABELS, STAGES
from api.models.order import ORDER_STATUS_LABELS
from api.models.staff import ROLES
from api.routes.analytics import TAG_FAMILY_LABELS
from api.services.loop_policy import MODE_LABELS
from api.services.auth import create_staff
from api.services.merge import STATUS_LABELS
from tests.api.conftest import ADMIN


@pytest.fixture
def agent(db):
    create_staff(db, "agent1", "agent-password-1", "agent", "客服小李")
    db.commit()


def test_anonymous_gets_401(client):
    resp = client.get("/api/staff/labels")
    assert resp.status_code == 401
    assert resp.json()["detail"] == "未登录或登录已失效，请重新登录"


def test_any_staff_member_gets_the_python_constants(client, agent):
    assert client.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"}).status_code == 200
    resp = client.get("/api/staff/labels")
    assert resp.status_code == 200, resp.text
    labels = resp.json()
    assert labels["stages"] == STAGE_LABELS and list(labels["stages"]) == list(STAGES)
    assert labels["jobs"] == {name: job.label for name, job in JOBS.items()} and labels["jobs"]["loop"] == "自动优化"
    assert labels["personas"] == PERSONA_LABELS and list(labels["personas"]) == list(PERSONAS)
    assert labels["order_statuses"] == ORDER_STATUS_LABELS
    assert labels["steps"] == STEP_LABELS
    assert labels["merge_statuses"] == STATUS_LABELS
    assert labels["loop_modes"] == MODE_LABELS
    assert labels["tag_families"] == TAG_FAMILY_LABELS
    assert labels["models"] == MODEL_NAMES
    # Codes named only here until now: every code of the model has a name, none more.
    assert tuple(labels["roles"]) == ROLES and labels["roles"]["admin"] == "管理员"
    assert tuple(labels["offer_kinds"]) == OFFER_KINDS
    assert tuple(labels["offer_triggers"]) == OFFER_TRIGGERS


def test_the_admin_token_works_too(client):
    resp = client.get("/api/staff/labels", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 200 and resp.json()["stages"]["at_risk"] == "流失预警客户"
