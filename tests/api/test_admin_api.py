"""The admin API: staff login and roles, variants with history and rollback, offers,
and edits reaching the NLG endpoint at once."""
from __future__ import annotations

import pytest

from api.services.auth import create_staff
from tests.api.conftest import ADMIN, INTERNAL

FETCH = {"X-Requested-With": "fetch"}
TOKEN = {"Authorization": f"Bearer {ADMIN}"}


def login(client, username: str, password: str):
    return client.post("/api/auth/login", json={"username": username, "password": password})


@pytest.fixture
def staff(db):
    create_staff(db, "boss", "boss-password-1", "admin", "店长")
    create_staff(db, "agent1", "agent-password-1", "agent", "客服小李")
    db.commit()


def test_admin_routes_need_a_login_and_the_admin_role(client, staff):
    assert client.get("/api/admin/templates").status_code == 401
    assert login(client, "agent1", "agent-password-1").status_code == 200
    assert client.get("/api/admin/templates").status_code == 403
    # Agents work from the workspace: its queue, not every customer's conversations.
    assert client.get("/api/conversations").status_code == 403
    assert client.get("/api/staff/queue").status_code == 200
    client.post("/api/auth/logout", headers=FETCH)
    assert client.get("/api/staff/queue").status_code == 401
    me = login(client, "boss", "boss-password-1").json()
    assert me["role"] == "admin" and me["display_name"] == "店长"
    assert client.get("/api/admin/templates").status_code == 200


def test_the_session_cookie_is_httponly_and_only_a_digest_is_stored(client, staff, db):
    resp = login(client, "boss", "boss-password-1")
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = client.cookies.get("hx_staff")
    from api.models import StaffSession
    stored = [s.token_digest for s in db.query(StaffSession)]
    assert token not in stored and len(stored) == 1


def test_wrong_passwords_lock_the_account_for_a_while(client, staff):
    for _ in range(5):
        resp = login(client, "boss", "wrong-password")
        assert resp.status_code == 401 and resp.json()["detail"] == "用户名或密码错误"
    locked = login(client, "boss", "boss-password-1")
    assert locked.status_code == 429 and "稍后再试" in locked.json()["detail"]
    # An unknown user gets the same answer as a wrong password: nothing to enumerate.
    assert login(client, "nobody", "x").json()["detail"] == "用户名或密码错误"


def test_cookie_writes_need_the_custom_header(client, staff):
    login(client, "boss", "boss-password-1")
    body = {"template": "utter_greet", "stage": "new", "text": "您好新朋友"}
    assert client.post("/api/admin/variants", json=body).status_code == 403
    assert client.post("/api/admin/variants", json=body, headers=FETCH).status_code == 201


def test_only_admins_create_staff_accounts(client, staff):
    new = {"username": "agent2", "password": "short", "role": "agent"}
    assert client.post("/api/staff-users", json=new, headers=TOKEN).status_code == 422
    new["password"] = "long-enough-1"
    assert client.post("/api/staff-users", json=new, headers=TOKEN).status_code == 201
    login(client, "agent1", "agent-password-1")
    assert client.post("/api/staff-users", json={**new, "username": "agent3"}, headers=FETCH).status_code == 403


def nlg(client, stage: str, name: str = "李华"):
    body = {"response": "utter_greet", "arguments": {}, "channel": {"name": "rest"},
            "tracker": {"sender_id": "c1", "slots": {}, "latest_message": {
                "intent": {"name": "greet", "confidence": 0.9},
                "metadata": {"customer": {"stage": stage, "name": name, "points": 860}}}}}
    resp = client.post("/nlg", json=body, headers={"Authorization": f"Bearer {INTERNAL}"})
    assert resp.status_code == 200
    return resp.json()["text"]


def test_a_saved_variant_is_said_at_once_and_history_allows_rollback(client):
    default = nlg(client, "growing")
    created = client.post("/api/admin/variants", headers=TOKEN, json={
        "template": "utter_greet", "stage": "growing", "text": "{name}您好，您有 {points} 积分", "note": "试一版"})
    assert created.status_code == 201, created.text
    vid = created.json()["id"]
    assert nlg(client, "growing") == "李华您好，您有 860 积分"
    assert nlg(client, "new") == default  # other stages keep the default

    edited = client.patch(f"/api/admin/variants/{vid}", headers=TOKEN, json={"text": "{name}，欢迎回来"})
    assert edited.json()["version"] == 2
    assert nlg(client, "growing") == "李华，欢迎回来"

    history = client.get("/api/admin/revisions", params={"entity": "variant", "entity_id": vid}, headers=TOKEN).json()
    assert [(r["version"], r["action"], r["changed_by"]) for r in history] == \
        [(2, "update", "api-token"), (1, "create", "api-token")]
    first = history[-1]
    assert first["note"] == "试一版" and first["data"]["text"] == "{name}您好，您有 {points} 积分"
    rolled = client.post(f"/api/admin/revisions/{first['id']}/rollback", headers=TOKEN).json()
    assert rolled["action"] == "rollback" and rolled["version"] == 3
    assert nlg(client, "growing") == "李华您好，您有 860 积分"

    assert client.patch(f"/api/admin/variants/{vid}", headers=TOKEN, json={"enabled": False}).status_code == 200
    assert nlg(client, "growing") == default
    assert client.delete(f"/api/admin/variants/{vid}", headers=TOKEN).status_code == 204
    deleted_at = client.get("/api/admin/revisions", params={"entity": "variant", "entity_id": vid},
                            headers=TOKEN).json()
    # The deletion keeps what was deleted; rolling back to it is refused with the reason.
    assert deleted_at[0]["action"] == "delete" and deleted_at[0]["data"]["text"] == "{name}您好，您有 {points} 积分"
    refused = client.post(f"/api/admin/revisions/{deleted_at[0]['id']}/rollback", headers=TOKEN)
    assert refused.status_code == 409 and "删除之前的版本" in refused.json()["detail"]
    # Rolling back to a version before the deletion brings the variant back.
    client.post(f"/api/admin/revisions/{first['id']}/rollback", headers=TOKEN)
    assert nlg(client, "growing") == "李华您好，您有 860 积分"


def test_a_variant_with_an_unknown_variable_is_refused_and_nothing_is_written(client):
    resp = client.post("/api/admin/variants", headers=TOKEN, json={
        "template": "utter_greet", "stage": "new", "text": "您好 {nickname}"})
    assert resp.status_code == 422
    assert "未知变量：{nickname}" in resp.json()["detail"] and "{name}" in resp.json()["detail"]
    templates = client.get("/api/admin/templates", headers=TOKEN).json()
    assert all(not t["variants"] for t in templates)
    assert client.get("/api/admin/revisions", headers=TOKEN).json() == []


def test_unknown_stage_is_refused(client):
    resp = client.post("/api/admin/variants", headers=TOKEN, json={
        "template": "utter_greet", "stage": "vip", "text": "您好"})
    assert resp.status_code == 422 and "未知的阶段 'vip'" in resp.json()["detail"]
    assert client.post("/api/admin/preview", headers=TOKEN, json={"stage": "vip"}).status_code == 422


def test_preview_shows_what_a_customer_of_the_stage_sees(client):
    draft = client.post("/api/admin/preview", headers=TOKEN, json={
        "stage": "at_risk", "template": "utter_greet", "text": "{name}，好久不见，{stage_name}专享回归礼"}).json()
    assert draft["candidates"] == [{"source": "draft", "variant_id": None, "weight": None,
                                    "text": "张小明，好久不见，流失预警客户专享回归礼"}]
    saved = client.post("/api/admin/preview", headers=TOKEN, json={"stage": "at_risk", "template": "utter_greet"})
    assert saved.json()["candidates"][0]["source"] == "default"


def test_templates_list_defaults_and_allowed_variables(client):
    templates = {t["name"]: t for t in client.get("/api/admin/templates", headers=TOKEN).json()}
    assert "utter_greet" in templates and templates["utter_greet"]["defaults"]
    assert {"order_no", "order_status", "name"} <= templates["utter_order_status"]["variables"].keys()


OFFER = {"code": "vip-299", "title": "满 299 减 40", "detail": "稳定会员专享", "kind": "benefit",
         "stages": ["stable"], "rules": {"min_orders": 16}, "period_days": 30, "coupon_prefix": "VIP"}


def test_offers_are_validated_versioned_and_rolled_back(client):
    bad = client.post("/api/admin/offers", headers=TOKEN, json={**OFFER, "rules": {"min_age": 18}})
    assert bad.status_code == 422 and "min_age" in bad.json()["detail"]
    created = client.post("/api/admin/offers", headers=TOKEN, json=OFFER)
    assert created.status_code == 201, created.text
    oid = created.json()["id"]
    assert client.post("/api/admin/offers", headers=TOKEN, json=OFFER).status_code == 409
    client.patch(f"/api/admin/offers/{oid}", headers=TOKEN, json={"title": "满 299 减 50", "enabled": False})
    history = client.get("/api/admin/revisions", params={"entity": "offer", "entity_id": oid}, headers=TOKEN).json()
    assert [r["version"] for r in history] == [2, 1]
    client.post(f"/api/admin/revisions/{history[-1]['id']}/rollback", headers=TOKEN)
    offers = client.get("/api/admin/offers", headers=TOKEN).json()
    assert offers[0]["title"] == "满 299 减 40" and offers[0]["enabled"] and offers[0]["version"] == 3
    assert client.patch("/api/admin/offers/999", headers=TOKEN, json={"title": "x"}).status_code == 404


def test_staff_accounts_from_the_command_line(settings_env, client, monkeypatch, capsys):
    from api.cli import main

    monkeypatch.setenv("HX_NEW_PASSWORD", "short")
    assert main(["create-staff", "lead", "--role", "admin"]) == 1
    assert "密码至少需要 10 个字符" in capsys.readouterr().err
    monkeypatch.setenv("HX_NEW_PASSWORD", "lead-password-1")
    assert main(["create-staff", "lead", "--role", "admin"]) == 0
    for _ in range(5):
        login(client, "lead", "wrong")
    assert login(client, "lead", "lead-password-1").status_code == 429
    monkeypatch.setenv("HX_NEW_PASSWORD", "lead-password-2")
    assert main(["set-password", "lead"]) == 0  # also unlocks
    assert login(client, "lead", "lead-password-2").status_code == 200
    assert main(["set-password", "nobody"]) == 1


def test_one_address_trying_many_accounts_is_slowed_down(client, settings_env):
    for n in range(settings_env.rate_failed_logins_per_address):
        assert login(client, f"user{n}", "wrong").status_code == 401
    blocked = login(client, "someone-else", "wrong")
    assert blocked.status_code == 429 and "过于频繁" in blocked.json()["detail"]
    assert int(blocked.headers["Retry-After"]) > 0
