"""Shared dependencies: settings, database session, the clients, and auth (internal, staff)."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Cookie, Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.core.config import Settings, get_settings
from api.db.session import get_db
from api.services.auth import Principal, principal_for_session
from api.services.identity import customer_id_for_client, is_valid_client_id
from api.services.responses import ResponseCatalog
from api.services.variants import VariantStore
from bot.rasa_client import RasaClient

# The dependencies below are ``async def`` on purpose: FastAPI runs plain ``def``
# dependencies in the thread pool, and Rasa's /nlg callbacks must never wait for a
# thread while customer turns are using them.


async def settings_dep() -> Settings:
    return get_settings()


SettingsDep = Annotated[Settings, Depends(settings_dep)]
DbDep = Annotated[Session, Depends(get_db)]


async def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


async def get_catalog(request: Request) -> ResponseCatalog:
    return request.app.state.catalog


def _bearer_matches(authorization: str | None, secret: str | None) -> bool:
    if not secret or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), secret.encode())


async def require_internal(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Rasa's NLG calls and the action server: the shared internal token."""
    secret = settings.internal_token.get_secret_value() if settings.internal_token else None
    if not _bearer_matches(authorization, secret):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong internal token",
                            headers={"WWW-Authenticate": "Bearer"})


NOT_YOURS = "会话不存在或已失效，请刷新页面"


def customer_id_from_cookie(db: Session, client_id: str | None) -> int:
    """The web customer the page's ``hx_cid`` cookie names; 401 in Chinese when none."""
    customer_id = customer_id_for_client(db, client_id) if is_valid_client_id(client_id) else None
    if customer_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "无法识别您的身份，请刷新页面后重试")
    return customer_id


TOKEN_ADMIN = Principal(None, "api-token", "API token", "admin")
ADMIN_ROLE_NEEDED = "此操作需要管理员（admin）权限"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def current_staff(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    authorization: Annotated[str | None, Header()] = None,
    hx_staff: Annotated[str | None, Cookie()] = None,
) -> Principal:
    """A logged-in staff member (session cookie), or automation with the admin token.

    Cookie-authenticated writes must carry ``X-Requested-With``: a custom header makes
    the browser ask first (CORS preflight), so another site cannot forge them.
    """
    secret = settings.admin_token.get_secret_value() if settings.admin_token else None
    if authorization and _bearer_matches(authorization, secret):
        return TOKEN_ADMIN
    principal = principal_for_session(db, hx_staff) if hx_staff else None
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "未登录或登录已失效，请重新登录",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in _SAFE_METHODS and not request.headers.get("x-requested-with"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "请求被拒绝：缺少 X-Requested-With 请求头")
    return principal


StaffDep = Annotated[Principal, Depends(current_staff)]


def require_admin(staff: StaffDep) -> Principal:
    """The admin role: editing replies and offers, undoing merges, recording orders."""
    if not staff.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, ADMIN_ROLE_NEEDED)
    return staff


AdminDep = Annotated[Principal, Depends(require_admin)]


RasaDep = Annotated[RasaClient, Depends(get_rasa)]
CatalogDep = Annotated[ResponseCatalog, Depends(get_catalog)]


async def get_variants(request: Request) -> VariantStore:
    return request.app.state.variants


VariantsDep = Annotated[VariantStore, Depends(get_variants)]
