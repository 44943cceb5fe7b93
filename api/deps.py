"""Shared dependencies: settings, database session, the clients, and the two kinds of auth."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.core.config import Settings, get_settings
from api.db.session import get_db
from api.services.responses import ResponseCatalog
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


async def require_admin(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Staff API: a bearer admin token until staff accounts exist."""
    secret = settings.admin_token.get_secret_value() if settings.admin_token else None
    if not _bearer_matches(authorization, secret):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong admin token",
                            headers={"WWW-Authenticate": "Bearer"})


RasaDep = Annotated[RasaClient, Depends(get_rasa)]
CatalogDep = Annotated[ResponseCatalog, Depends(get_catalog)]
