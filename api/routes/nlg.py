"""Rasa's NLG endpoint: every bot utterance is rendered here (architecture decision 3)."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from api.deps import CatalogDep, VariantsDep, require_internal
from api.services.responses import render_nlg

router = APIRouter(tags=["internal"], dependencies=[Depends(require_internal)])
log = logging.getLogger(__name__)


@router.post("/nlg")
async def nlg(request: Request, catalog: CatalogDep, variants: VariantsDep) -> dict[str, Any]:
    # Read as plain JSON: validating Rasa's tracker field by field costs more than the
    # rendering itself, and render_nlg checks what it uses.
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "body must be a JSON object")
    try:
        return render_nlg(catalog, body, variants)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except LookupError as exc:
        log.error("NLG: %s", exc)
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
