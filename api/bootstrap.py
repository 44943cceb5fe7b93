"""First-run setup of a shop: the admin account and the default replies and offers.

    python -m api.bootstrap

Creates the staff account ``admin`` (role admin) with the password in
``HX_ADMIN_PASSWORD`` when no admin exists yet, and the default stage greetings and
offers (api/content_defaults.py) when the shop has none. Safe to run on every start:
it never changes what is already there.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.content_defaults import seed_content
from api.core.config import get_settings
from api.db.session import get_sessionmaker
from api.models import StaffUser
from api.services.auth import create_staff
from api.services.responses import ResponseCatalog


def ensure_admin(db: Session, password: str | None, username: str = "admin") -> bool:
    """Create the first admin; False when an admin exists or no password was given."""
    if db.scalar(select(StaffUser.id).where(StaffUser.role == "admin").limit(1)) is not None:
        return False
    if not password:
        return False
    create_staff(db, username, password, "admin", "管理员")
    return True


def main() -> int:
    settings = get_settings()
    catalog = ResponseCatalog.from_files(settings.domain_path, settings.responses_dir)
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(settings.shop_timezone)).date()
    with get_sessionmaker()() as db:
        try:
            admin = ensure_admin(db, os.environ.get("HX_ADMIN_PASSWORD"))
        except ValueError as exc:
            print(f"admin account not created: {exc}", file=sys.stderr)
            return 1
        content = seed_content(db, catalog, today)
        db.commit()
    print(f"admin account {'created' if admin else 'unchanged'}; default replies and offers "
          f"{'added' if content else 'unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
