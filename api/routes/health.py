"""Health of each part, reported separately so an operator sees which one is down."""
from __future__ import annotations

import time

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from api.deps import DbDep, RasaDep, SettingsDep

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
async def health(response: Response, db: DbDep, rasa: RasaDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    try:
        await run_in_threadpool(lambda: db.execute(text("SELECT 1")).scalar_one())
        database = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        database = {"ok": False, "detail": type(exc).__name__}
    rasa_ok, rasa_detail = await rasa.is_up()
    actions_ok, actions_detail = await rasa.is_up(f"{settings.action_server_url.rstrip('/')}/health")
    parts = {"database": database, "rasa": {"ok": rasa_ok, "detail": rasa_detail},
             "action_server": {"ok": actions_ok, "detail": actions_detail}}
    all_ok = all(p["ok"] for p in parts.values())
    if not database["ok"]:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    # Without the bot, customers are still served (stored, told, flagged): degraded.
    return {"status": "ok" if all_ok else ("down" if not database["ok"] else "degraded"), **parts}
