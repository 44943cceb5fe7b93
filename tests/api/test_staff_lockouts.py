"""Wrong staff passwords lock the account for the address they came from only, for
longer each time, recorded in staff_lockouts; admins unlock (API, command line)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.cli import main
from api.db.base import utcnow
from api.models import StaffLockout, StaffSession
from api.services import auth
from api.services.auth import AccountLocked, AuthError, LockPolicy, create_staff
from tests.api.conftest import ADMIN

TOKEN = {"Authorization": f"Bearer {ADMIN}"}
FETCH = {"X-Requested-With": "fetch"}
POLICY = LockPolicy(after_failures=5, failure_window_seconds=900, first_lock_seconds=300, max_lock_seconds=3600)
ATTACKER, OFFICE = "198.51.100.66", "203.0.113.10"


@pytest.fixture
def admin(db):
    user = create_staff(db, "admin", "admin-password-1", "admin", "店长")
    create_staff(db, "agent1", "agent-password-1", "agent", "小李")
    db.commit()
    return user


def attempt(db, password: str, at, address: str, username: str = "admin"):
    return auth.login(db, username, password, 12, now=at, address=address, policy=POLICY)


def fail(db, times: int, at, address: str = ATTACKER, username: str = "admin") -> None:
    for n in range(times):
        with pytest.raises(AuthError) as raised:
            attempt(db, "wrong-password", at + timedelta(seconds=n), address, username)
        assert not isinstance(raised.value, AccountLocked)


def lockouts(db) -> list[StaffLockout]:
    db.expire_all()
    return list(db.scalars(select(StaffLockout).order_by(StaffLockout.id)))


def test_wrong_passwords_lock_only_the_address_they_came_from(db, admin):
    t0 = utcnow()
    fail(db, 5, t0)
    with pytest.raises(AccountLocked) as locked:
        attempt(db, "admin-password-1", t0 + timedelta(seconds=10), ATTACKER)  # even the right password
    assert locked.value.until == t0 + timedelta(seconds=4 + 300)
    # The real admin, from the office, logs in as usual.
    token, user = attempt(db, "admin-password-1", t0 + timedelta(seconds=11), OFFICE)
    assert token and user.id == admin.id
    [lock] = lockouts(db)
    assert (lock.staff_id, lock.address, lock.failures, lock.unlocked_at) == (admin.id, ATTACKER, 5, None)
    # When the lock ends, the address may try again.
    token, _ = attempt(db, "admin-password-1", t0 + timedelta(seconds=305), ATTACKER)
    assert token


def test_each_new_lock_of_the_same_pair_lasts_longer_up_to_the_maximum(db, admin):
    t = utcnow()
    lengths = []
    for _ in range(6):
        fail(db, 5, t)
        lock = lockouts(db)[-1]
        lengths.append((lock.locked_until - lock.locked_at).total_seconds())
        with pytest.raises(AccountLocked):
            attempt(db, "wrong-password", lock.locked_until - timedelta(seconds=1), ATTACKER)
        t = lock.locked_until  # tries again as soon as it may
    assert lengths == [300, 600, 1200, 2400, 3600, 3600]
    # A day later the pair starts over; another address was never counted.
    fail(db, 5, t + timedelta(days=1, seconds=1))
    assert (lockouts(db)[-1].locked_until - lockouts(db)[-1].locked_at).total_seconds() == 300
    assert {lock.address for lock in lockouts(db)} == {ATTACKER}


def test_failures_spread_beyond_the_window_do_not_lock(db, admin):
    t0 = utcnow()
    fail(db, 4, t0)
    fail(db, 4, t0 + timedelta(seconds=901))
    assert lockouts(db) == []
    assert attempt(db, "admin-password-1", t0 + timedelta(seconds=910), ATTACKER)[0]


def test_a_right_password_starts_the_count_over(db, admin):
    t0 = utcnow()
    fail(db, 4, t0)
    attempt(db, "admin-password-1", t0 + timedelta(seconds=5), ATTACKER)
    fail(db, 4, t0 + timedelta(seconds=6))
    assert lockouts(db) == []


def test_unknown_usernames_write_nothing(db, admin):
    fail(db, 10, utcnow(), username="nobody")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(StaffLockout)) == 0
    assert db.scalar(select(func.count()).select_from(StaffSession)) == 0


def login(c, username: str, password: str):
    return c.post("/api/auth/login", json={"username": username, "password": password})


def test_over_http_a_lock_from_one_address_leaves_the_other_free_and_admins_unlock(client, admin, db):
    attacker = TestClient(client.app, client=(ATTACKER, 5000))
    office = TestClient(client.app, client=(OFFICE, 5000))
    for _ in range(5):
        assert login(attacker, "admin", "guess").status_code == 401
    locked = login(attacker, "admin", "admin-password-1")
    assert locked.status_code == 429 and locked.json()["detail"] == "登录失败次数过多，请稍后再试"
    assert 290 <= int(locked.headers["Retry-After"]) <= 301
    assert login(office, "admin", "admin-password-1").status_code == 200

    # Admins see the lock and lift it; agents may not.
    listed = client.get(f"/api/staff-users/{admin.id}/lockouts", headers=TOKEN)
    assert listed.status_code == 200
    [entry] = listed.json()
    assert entry["address"] == ATTACKER and entry["failures"] == 5 and entry["active"] is True
    agent = TestClient(client.app, client=(OFFICE, 5001))
    assert login(agent, "agent1", "agent-password-1").status_code == 200
    assert agent.post(f"/api/staff-users/{admin.id}/unlock", headers=FETCH).status_code == 403
    assert agent.get(f"/api/staff-users/{admin.id}/lockouts").status_code == 403
    assert client.post("/api/staff-users/999999/unlock", headers=TOKEN).status_code == 404
    assert office.post(f"/api/staff-users/{admin.id}/unlock", headers=FETCH).status_code == 204  # the admin's session

    assert login(attacker, "admin", "admin-password-1").status_code == 200
    [entry] = client.get(f"/api/staff-users/{admin.id}/lockouts", headers=TOKEN).json()
    assert entry["active"] is False and entry["unlocked_by"] == "admin" and entry["unlocked_at"]


def test_the_command_line_unlocks(client, admin, db, capsys):
    attacker = TestClient(client.app, client=(ATTACKER, 5000))
    for _ in range(5):
        login(attacker, "agent1", "guess")
    assert login(attacker, "agent1", "agent-password-1").status_code == 429
    assert main(["unlock", "agent1"]) == 0
    assert "1 login lock(s) lifted" in capsys.readouterr().out
    assert login(attacker, "agent1", "agent-password-1").status_code == 200
    assert [lock.unlocked_by for lock in lockouts(db)] == ["cli"]
    assert main(["unlock", "nobody"]) == 1
