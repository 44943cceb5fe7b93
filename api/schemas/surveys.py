"""The satisfaction survey as other channels (an app, a mini program) send it whole."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import InputModel, StaffText, Storable, UtcDatetime


class QuestionOut(BaseModel):
    key: str
    text: str
    low: int | None
    high: int | None


class SurveyIn(InputModel):
    """Every answer is optional: a customer may skip any question."""

    overall: int | None = Field(default=None, ge=1, le=5)
    quality: int | None = Field(default=None, ge=1, le=5)
    service: int | None = Field(default=None, ge=1, le=5)
    value: int | None = Field(default=None, ge=1, le=5)
    innovation: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)
    comment: Storable | None = Field(default=None, max_length=1000)


class SurveyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: str
    channel: str
    stage: str
    trigger: str
    status: str
    overall: int | None
    quality: int | None
    service: int | None
    value: int | None
    innovation: int | None
    nps: int | None
    comment: str | None
    comment_sentiment: str | None
    reply: str | None
    started_at: UtcDatetime
    finished_at: UtcDatetime | None


class SurveySubmitted(BaseModel):
    survey: SurveyOut
    reply: str  # the answer to the comment: thanks, or an apology and a promised call back


class FollowUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    customer_name: str | None = None
    stage: str | None = None
    conversation_id: str | None
    survey_id: int | None
    reason: str
    detail: str
    status: str
    created_at: UtcDatetime
    done_at: UtcDatetime | None
    done_by: int | None
    outcome: str | None


class FollowUpDoneIn(InputModel):
    outcome: StaffText = Field(min_length=1, max_length=1000)
