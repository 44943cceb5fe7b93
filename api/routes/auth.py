"""Staff login and logout, and admins managing staff accounts."""
from __future__ import annotations

import time
from collections import deque

from fastapi import APIRouter, Cookie, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.deps import AdminDep, DbDep, SettingsDep, StaffDep
from api.models import StaffUser
from api.schemas.auth import LoginIn, StaffOut, StaffUserIn, StaffUserOut
from api.services import auth
from api.services.identity import client_ip

router = APIRouter(prefix="/api", tags=["staff accounts"])

# Failed logins per address, on top of the per-account lock: one address trying many
# usernames. Successful logins do not count.
LOGINS_PER_ADDRESS = 20
LOGIN_WINDOW_SECONDS = 300


def _recent_failures(request: Request, address: str) -> deque[float]:
    """Failed logins from this address in the window. In memory, per application (one
    service process); several workers would need a shared store."""
    recent = request.app.state.login_attempts[address]
    now = time.monotonic()
    while recent and now - recent[0] > LOGIN_WINDOW_SECONDS:
        recent.popleft()
    return recent


@router.post("/auth/login", response_model=StaffOut)
async def login(body: LoginIn, request: Request, response: Response, db: DbDep, settings: SettingsDep) -> StaffOut:
    address = client_ip(request.client.host if request.client else None,
                        request.headers.get("x-forwarded-for"), settings.trusted_proxies) or "unknown"
    failures = _recent_failures(request, address)
    if len(failures) >= LOGINS_PER_ADDRESS:
        retry = int(LOGIN_WINDOW_SECONDS - (time.monotonic() - failures[0])) + 1
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "登录尝试过于频繁，请稍后再试",
                            headers={"Retry-After": str(retry)})
    # scrypt takes tens of milliseconds on purpose: keep it off the event loop.
    try:
        token, user = await run_in_threadpool(auth.login, db, body.username, body.password,
                                              settings.staff_session_hours)
    except auth.AccountLocked as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(auth.LOCK_MINUTES * 60)}) from None
    except auth.AuthError as exc:
        failures.append(time.monotonic())
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    response.set_cookie(auth.SESSION_COOKIE, token, max_age=int(settings.staff_session_hours * 3600),
                        httponly=True, samesite="strict", secure=settings.cookie_secure, path="/")
    return StaffOut.model_validate(user)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(response: Response, db: DbDep, hx_staff: str | None = Cookie(default=None)) -> Response:
    if hx_staff:
        auth.logout(db, hx_staff)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.get("/auth/me", response_model=StaffOut)
def me(staff: StaffDep) -> StaffOut:
    return StaffOut(id=staff.id, username=staff.username, display_name=staff.display_name, role=staff.role)


@router.get("/staff-users", response_model=list[StaffUserOut])
def list_staff(db: DbDep, _: AdminDep) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).order_by(StaffUser.id)))


@router.post("/staff-users", response_model=StaffUserOut, status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffUserIn, db: DbDep, _: AdminDep) -> StaffUser:
    try:
        user = auth.create_staff(db, body.username, body.password, body.role, body.display_name)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    db.commit()
    return user
