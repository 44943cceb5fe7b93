"""Staff login and logout, and admins managing staff accounts."""
from __future__ import annotations

from fastapi import APIRouter, Cookie, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.db.base import utcnow
from api.schemas.errors import errors
from api.deps import AdminDep, DbDep, SettingsDep, StaffDep
from api.models import StaffUser
from api.schemas.auth import LoginIn, StaffOut, StaffUserIn, StaffUserOut
from api.schemas.types import DbId, UtcDatetime
from api.services import auth, rate_limits
from api.services.identity import client_ip

router = APIRouter(prefix="/api", tags=["staff accounts"])


@router.post("/auth/login", response_model=StaffOut, responses=errors(401, 429))
async def login(body: LoginIn, request: Request, response: Response, db: DbDep, settings: SettingsDep) -> StaffOut:
    """Two throttles: failed logins per address (any username: one address trying many
    accounts), counted in api/services/rate_limits.py; and wrong passwords lock an
    account for the address they came from (api/services/auth.py)."""
    address = client_ip(request.client.host if request.client else None,
                        request.headers.get("x-forwarded-for"), settings.trusted_proxies) or "unknown"
    per_address = rate_limits.failed_logins_per_address(settings)
    try:
        rate_limits.check(per_address, address)
    except rate_limits.RateLimited as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.message,
                            headers={"Retry-After": exc.retry_after_header}) from None
    # scrypt takes tens of milliseconds on purpose: keep it off the event loop.
    try:
        token, user = await run_in_threadpool(auth.login, db, body.username, body.password,
                                              settings.staff_session_hours, None, address)
    except auth.AccountLocked as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except auth.AuthError as exc:
        rate_limits.record(per_address, address)
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


@router.post("/staff-users", response_model=StaffUserOut, status_code=status.HTTP_201_CREATED,
             responses=errors(409))
def create_staff(body: StaffUserIn, db: DbDep, _: AdminDep) -> StaffUser:
    if db.scalar(select(StaffUser.id).where(StaffUser.username == body.username)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"用户名 {body.username} 已存在")
    try:
        user = auth.create_staff(db, body.username, body.password, body.role, body.display_name)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    db.commit()
    return user


class StaffLockoutOut(BaseModel):
    """A lock of an account for one address after wrong passwords (api/services/auth.py)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    address: str
    failures: int
    locked_at: UtcDatetime
    locked_until: UtcDatetime
    unlocked_at: UtcDatetime | None
    unlocked_by: str | None
    active: bool = False


def _staff_user(db: DbDep, staff_id: int) -> StaffUser:
    user = db.get(StaffUser, staff_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "员工账号不存在")
    return user


@router.get("/staff-users/{staff_id}/lockouts", response_model=list[StaffLockoutOut])
def list_lockouts(staff_id: DbId, db: DbDep, _: AdminDep) -> list[StaffLockoutOut]:
    """The account's login lockouts, newest first; ``active`` ones are in force."""
    _staff_user(db, staff_id)
    now = utcnow()
    return [StaffLockoutOut.model_validate(lock).model_copy(update={
        "active": lock.unlocked_at is None and lock.locked_until > now}) for lock in auth.lockouts(db, staff_id)]


@router.post("/staff-users/{staff_id}/unlock", status_code=status.HTTP_204_NO_CONTENT)
def unlock(staff_id: DbId, db: DbDep, admin: AdminDep) -> Response:
    """Lift every login lock of the account, from any address (recorded with who did it)."""
    auth.unlock(db, _staff_user(db, staff_id), by=admin.username)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
