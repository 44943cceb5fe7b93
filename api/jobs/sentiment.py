"""The sentiment job: new customer messages and survey comments → positive / neutral /
negative and P(positive), with the classifier of ``api.services.sentiment_model``."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.jobs.progress import Progress
from api.models import Message, Survey
from api.services.sentiment_model import get_classifier

SENTIMENT_CHUNK = 2000


def sentiment(db: Session, progress: Progress) -> dict[str, int]:
    """Only rows not classified yet, so an hourly run costs what arrived in the hour.
    Survey answers typed in chat ("5", "跳过") are not opinions and are skipped."""
    classifier = get_classifier()
    todo_messages = (Message.author == "customer", Message.sentiment.is_(None),
                     Message.intent.is_distinct_from("survey_answer"))
    todo_comments = (Survey.comment.is_not(None), Survey.comment_sentiment.is_(None))
    progress.set_total((db.scalar(select(func.count()).select_from(Message).where(*todo_messages)) or 0)
                       + (db.scalar(select(func.count()).select_from(Survey).where(*todo_comments)) or 0))
    counts = {"messages": 0, "comments": 0, "negative": 0}
    for model, text_col, label_col, score_col, where, key in (
            (Message, Message.text, "sentiment", "sentiment_score", todo_messages, "messages"),
            (Survey, Survey.comment, "comment_sentiment", "comment_score", todo_comments, "comments")):
        last_id = 0
        while True:
            rows = db.execute(select(model.id, text_col).where(*where, model.id > last_id)
                              .order_by(model.id).limit(SENTIMENT_CHUNK)).all()
            if not rows:
                break
            last_id = rows[-1][0]
            verdicts = classifier.classify([text for _, text in rows])
            db.execute(update(model), [{"id": row_id, label_col: v.label, score_col: float(v.score)}
                                       for (row_id, _), v in zip(rows, verdicts)])
            db.commit()
            counts[key] += len(rows)
            counts["negative"] += sum(v.label == "negative" for v in verdicts)
            progress.advance(len(rows))
    return counts
