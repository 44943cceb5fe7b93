"""The lifecycle jobs: every customer's stage recomputed nightly, and the day's campaign offers."""
from __future__ import annotations

from datetime import timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.config import get_settings
from api.db.base import utcnow
from api.jobs.progress import Progress
from api.models import Customer
from api.services.offers import issue_campaign_offers
from api.services.orders import recompute_stage

STAGE_CHUNK = 500


def recompute_stages(db: Session, progress: Progress) -> dict[str, int]:
    """Stages move with time alone (at risk, churned): recompute them all, trigger 'nightly'.

    Customers merged into another are skipped: they own no orders any more.
    """
    rules = get_settings().stage_rules()
    now = utcnow()
    current = Customer.merged_into_id.is_(None)
    progress.set_total(db.scalar(select(func.count()).select_from(Customer).where(current)) or 0)
    customers = changed = last_id = 0
    while True:
        chunk = db.scalars(select(Customer).where(current, Customer.id > last_id)
                           .order_by(Customer.id).limit(STAGE_CHUNK)).all()
        if not chunk:
            break
        last_id = chunk[-1].id
        for customer in chunk:
            changed += recompute_stage(db, customer, rules, trigger="nightly", now=now) is not None
        db.commit()
        db.expunge_all()  # keep memory flat however many customers there are
        customers += len(chunk)
        progress.advance(len(chunk))
    return {"customers": customers, "changed": changed}


def campaign_offers(db: Session, progress: Progress) -> dict[str, int]:
    """Campaigns trigger on their dates in the shop's time zone; an offer's period keeps
    a customer from getting it twice, so a second run on the same day issues nothing."""
    settings = get_settings()
    now = utcnow()
    today = now.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(settings.shop_timezone)).date()
    return issue_campaign_offers(db, today, now, progress)
