"""The satisfaction survey for channels that send it whole: the customer's own client
(``/api/web``, recognised by its cookie) and channel adapters (``/internal``, by token).
In chat the same survey is asked one question at a time (api/services/surveys.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, HTTPException, status
from sqlalchemy.orm import Session

from api.schemas.errors import errors
from api.deps import NOT_YOURS, DbDep, customer_id_from_cookie, require_internal
from api.models import Conversation
from api.schemas.surveys import QuestionOut, SurveyIn, SurveyOut, SurveySubmitted
from api.services import conversations as convs
from api.services import surveys
from api.domain.survey_questions import QUESTIONS

web_router = APIRouter(prefix="/api/web", tags=["surveys"])
internal_router = APIRouter(prefix="/internal", tags=["surveys"], dependencies=[Depends(require_internal)])


def _submit(db: Session, conv: Conversation, body: SurveyIn) -> SurveySubmitted:
    try:
        survey, reply = surveys.submit(db, conv, body.model_dump())
    except surveys.SurveyClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return SurveySubmitted(survey=SurveyOut.model_validate(survey), reply=reply)


@web_router.get("/survey", response_model=list[QuestionOut])
def survey_questions() -> list[QuestionOut]:
    """The questions, for a client that shows the survey as a form."""
    return [QuestionOut(key=q.key, text=q.text, low=q.low, high=q.high) for q in QUESTIONS]


@web_router.post("/conversations/{conversation_id}/survey", response_model=SurveySubmitted,
                 status_code=status.HTTP_201_CREATED, responses=errors(409))
def submit_web_survey(conversation_id: str, body: SurveyIn, db: DbDep,
                      hx_cid: Annotated[str | None, Cookie()] = None) -> SurveySubmitted:
    """One survey per conversation, open or closed; every answer may be left out."""
    conv = convs.owned_conversation(db, customer_id_from_cookie(db, hx_cid), conversation_id)
    if conv is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_YOURS)
    return _submit(db, conv, body)


@internal_router.post("/conversations/{conversation_id}/survey", response_model=SurveySubmitted,
                      status_code=status.HTTP_201_CREATED, responses=errors(409))
def submit_channel_survey(conversation_id: str, body: SurveyIn, db: DbDep) -> SurveySubmitted:
    conv = db.get(Conversation, conversation_id)
    if conv is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "conversation not found")
    return _submit(db, conv, body)
