"""Satisfaction surveys: asked in chat when a conversation ends, or sent whole through the API.

A conversation ends when the bot says goodbye (``utter_goodbye``) or staff resolve it;
then the service asks the questions in api/domain/survey_questions.py one at a time.
The survey runs in the service, not in Rasa: it is a fixed questionnaire, not language
understanding, and it must run the same on every channel, including right after staff
resolved a conversation the bot never saw. One survey per conversation (a unique key),
stored with the customer's stage and persona at the time.

Every comment is answered: thanks, or an apology plus a follow-up task staff see in
their workspace. A very low overall score without a comment gets a follow-up too.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.base import utcnow
from api.models import Conversation, Customer, FollowUpTask, Message, Survey
from api.domain import survey_questions as sq
from api.domain.survey_questions import Reply

log = logging.getLogger(__name__)

GOODBYE_TEMPLATE = "utter_goodbye"
TEMPLATE_PREFIX = sq.TEMPLATE_PREFIX
LOW_OVERALL = 2  # at or below: someone calls the customer back even without a comment


class SurveyClosed(Exception):
    """The conversation's survey was answered or declined already."""


def survey_of(db: Session, conversation_id: str) -> Survey | None:
    return db.scalar(select(Survey).where(Survey.conversation_id == conversation_id))


def asking(db: Session, conv: Conversation) -> Survey | None:
    survey = survey_of(db, conv.id)
    return survey if survey is not None and survey.status == "asking" else None


def _say(db: Session, conv: Conversation, key: str, text: str, now: datetime,
         reply_to_id: int | None = None) -> Message:
    msg = Message(conversation_id=conv.id, direction="outbound", author="bot", text=text,
                  template=f"{TEMPLATE_PREFIX}{key}", reply_to_id=reply_to_id, created_at=now)
    db.add(msg)
    conv.last_activity_at = now
    return msg


def start(db: Session, conv: Conversation, trigger: str, now: datetime | None = None,
          reply_to_id: int | None = None) -> list[Message]:
    """Ask the first question, unless this conversation had its survey. Does not commit.

    The unique key on the conversation settles a race between two endings (a goodbye and
    a resolve at once): the loser's flush fails and it asks nothing.
    """
    if survey_of(db, conv.id) is not None:
        return []
    now = now or utcnow()
    customer = db.get(Customer, conv.customer_id)
    first = sq.QUESTIONS[0]
    try:
        with db.begin_nested():
            db.add(Survey(conversation_id=conv.id, customer_id=conv.customer_id, channel=conv.channel,
                          stage=customer.stage, persona=customer.persona, trigger=trigger,
                          status="asking", question=first.key, started_at=now))
    except IntegrityError:
        return []
    return [_say(db, conv, "intro", sq.INTRO, now, reply_to_id),
            _say(db, conv, first.key, first.text, now, reply_to_id)]


def _answers(survey: Survey) -> dict[str, int | None]:
    return {key: getattr(survey, key) for key in sq.SCORE_KEYS}


def _finish(db: Session, conv: Conversation, survey: Survey, now: datetime, reply_to_id: int | None) -> Message:
    """End the survey: answer the comment (or thank), open a follow-up when called for."""
    survey.status, survey.question, survey.finished_at = "completed", None, now
    if survey.comment:
        from api.services.sentiment_model import classify_texts  # loads the model on first use

        try:
            verdict = classify_texts([survey.comment])[0]
            survey.comment_sentiment, survey.comment_score = verdict.label, float(verdict.score)
        except Exception:  # noqa: BLE001 - an apology-less thanks beats losing the answers
            log.exception("sentiment of a survey comment failed; treated as neutral")
            survey.comment_sentiment = "neutral"
        text = sq.THANKS[survey.comment_sentiment]
        if survey.comment_sentiment == "negative":
            _follow_up(db, survey, "negative_comment", survey.comment, now)
    elif survey.overall is not None and survey.overall <= LOW_OVERALL:
        text = sq.THANKS_LOW_NO_COMMENT
        _follow_up(db, survey, "low_score", f"整体满意度 {survey.overall} 分，未留言", now)
    else:
        text = sq.THANKS_NO_COMMENT
    survey.reply = text
    return _say(db, conv, "thanks", text, now, reply_to_id)


def _follow_up(db: Session, survey: Survey, reason: str, detail: str, now: datetime) -> None:
    db.add(FollowUpTask(customer_id=survey.customer_id, conversation_id=survey.conversation_id,
                        survey_id=survey.id, reason=reason, detail=detail[:1000], status="open",
                        created_at=now))


def answer_in_chat(db: Session, conv: Conversation, inbound: Message) -> list[Message] | None:
    """Read the customer's message as the answer to the waiting question and ask the next.

    Returns the replies, or None when no survey is waiting or the message is no answer
    (the customer asked something else): then the survey is left ``abandoned`` with what
    was answered and the message goes to the bot as usual. Commits.
    """
    survey = asking(db, conv)
    if survey is None:
        return None
    now = utcnow()
    question = sq.BY_KEY[survey.question]
    if question.is_score:
        reply = sq.read_score(inbound.text, question.low, question.high)
    else:
        reply = sq.read_comment(inbound.text)
    if reply is Reply.UNRELATED:
        survey.status, survey.question, survey.finished_at = "abandoned", None, now
        db.commit()
        return None
    inbound.intent = "survey_answer"  # not an opinion: the sentiment job skips it
    if reply is Reply.OUT_OF_RANGE:
        out = [_say(db, conv, question.key, sq.OUT_OF_RANGE.format(low=question.low, high=question.high),
                    now, inbound.id)]
        db.commit()
        return out
    if reply is Reply.DECLINE:
        answered = any(v is not None for v in _answers(survey).values())
        survey.status, survey.question, survey.finished_at = ("abandoned" if answered else "declined"), None, now
        out = [_say(db, conv, "declined", sq.DECLINED, now, inbound.id)]
        db.commit()
        return out
    if reply is not Reply.SKIP:
        setattr(survey, question.key, reply)
    following = sq.next_question(question.key)
    if following is None:
        out = [_finish(db, conv, survey, now, inbound.id)]
    else:
        survey.question = following.key
        out = [_say(db, conv, following.key, sq.question_text(following, _answers(survey)), now, inbound.id)]
    db.commit()
    return out


def submit(db: Session, conv: Conversation, answers: dict[str, object], trigger: str = "api") -> tuple[Survey, str]:
    """The whole survey at once (other channels). A survey still being asked in chat is
    completed with these answers; a finished one raises SurveyClosed. Returns the survey
    and the answer to its comment. Commits; writes nothing when an answer is invalid."""
    clean = sq.validate_answers(answers)  # ValueError before anything is written
    survey = survey_of(db, conv.id)
    if survey is not None and survey.status != "asking":
        raise SurveyClosed("这次会话的满意度调查已经提交过了")
    now = utcnow()
    if survey is None:
        customer = db.get(Customer, conv.customer_id)
        survey = Survey(conversation_id=conv.id, customer_id=conv.customer_id, channel=conv.channel,
                        stage=customer.stage, persona=customer.persona, trigger=trigger, started_at=now)
        db.add(survey)
    for key, value in clean.items():
        setattr(survey, key, value)
    db.flush()  # the survey's id, for a follow-up task
    message = _finish(db, conv, survey, now, None)
    try:
        db.commit()
    except IntegrityError:  # a chat ending created the survey meanwhile
        db.rollback()
        raise SurveyClosed("这次会话的满意度调查已经提交过了") from None
    return survey, message.text
