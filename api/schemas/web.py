"""What the customer's browser sends and receives."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field

from api.schemas.types import CustomerText, InputModel, Storable, UtcDatetime
from api.domain.survey_questions import BY_KEY
from api.domain.survey_questions import TEMPLATE_PREFIX as SURVEY_PREFIX


class SessionIn(InputModel):
    user_id: Storable | None = Field(default=None, min_length=1, max_length=128)
    user_hash: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{64}$")


class SurveyPrompt(BaseModel):
    """A survey question the page may offer buttons for: scores low..high, or free text."""

    key: str
    low: int | None
    high: int | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    text: str
    created_at: UtcDatetime
    template: str | None = Field(default=None, exclude=True)

    @computed_field
    @property
    def survey(self) -> SurveyPrompt | None:
        template = self.template or ""
        question = BY_KEY.get(template.removeprefix(SURVEY_PREFIX)) if template.startswith(SURVEY_PREFIX) else None
        if question is None:
            return None
        return SurveyPrompt(key=question.key, low=question.low, high=question.high)


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    handler: str


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str | None
    stage: str


class SessionOut(BaseModel):
    customer: CustomerOut
    conversation: ConversationOut
    messages: list[MessageOut]


class SendIn(InputModel):
    # Emptiness and characters are checked by bot.text so the customer gets a Chinese
    # reason; the length again by the route (HX_MAX_MESSAGE_CHARS).
    text: CustomerText
    client_message_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class SendOut(BaseModel):
    conversation: ConversationOut
    message: MessageOut
    replies: list[MessageOut]


class MessagesOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]
