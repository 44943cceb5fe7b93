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

SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]


def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


def get_catalog(request: Request) -> ResponseCatalog:
    return request.app.state.catalog


def _bearer_matches(authorization: str | None, secret: str | None) -> bool:
    if not secret or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), secret.encode())


def require_internal(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Rasa's NLG calls and the action server: the shared internal token."""
    secret = settings.internal_token.get_secret_value() if settings.internal_token else None
    if not _bearer_matches(authorization, secret):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong internal token",
                            headers={"WWW-Authenticate": "Bearer"})


def require_admin(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Staff API: a bearer admin token until staff accounts exist."""
    secret = settings.admin_token.get_secret_value() if settings.admin_token else None
    if not _bearer_matches(authorization, secret):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong admin token",
                            headers={"WWW-Authenticate": "Bearer"})


RasaDep = Annotated[RasaClient, Depends(get_rasa)]
CatalogDep = Annotated[ResponseCatalog, Depends(get_catalog)]
