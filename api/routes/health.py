"""Health of each part, reported separately so an operator sees which one is down — and
answered within a second whatever the parts do.

The probes (database, Rasa, action server) run at the same time, each with a short
deadline, the database one on a thread of its own (a request thread pool busy with
slow turns must not hold the answer). Besides the probes, the bot's turns of the last
minute (api/services/turn_stats.py) count: Rasa may answer its root page quickly while
customers' turns time out. The answer is kept for a second (the probes are not
repeated for every caller) unless a turn failed meanwhile.

``status``: ``ok``; ``degraded`` with ``reasons`` (Rasa or the action server slow or
down, bot turns failing in the last minute, the database slow) — customers are still
answered with the fallback and their messages stored; ``down`` with HTTP 503 when the
database fails.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text

from api.db.session import get_sessionmaker
from api.deps import RasaDep, SettingsDep
from api.services.turn_stats import turns as turn_stats

router = APIRouter(prefix="/api", tags=["health"])

PROBE_SECONDS = 0.6  # each probe's deadline; they run concurrently
SLOW_DATABASE_MS = 300.0
SLOW_HTTP_MS = 500.0
CACHE_SECONDS = 1.0

# The database probe's own threads: never queued behind requests in the shared pool. Two,
# so one probe stuck on a hung database does not hold the next.
_probe_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health-probe")


def _select_one() -> None:
    with get_sessionmaker()() as db:
        db.execute(text("SELECT 1")).scalar_one()


async def _timed(coro_factory) -> tuple[str, object, float]:
    """("done", result, ms), ("timeout", None, ms) or ("error", exception name, ms)."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(coro_factory(), PROBE_SECONDS)
        return "done", result, (time.perf_counter() - started) * 1000
    except asyncio.TimeoutError:
        return "timeout", None, (time.perf_counter() - started) * 1000
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        return "error", type(exc).__name__, (time.perf_counter() - started) * 1000


async def _database() -> dict:
    loop = asyncio.get_running_loop()
    outcome, result, ms = await _timed(lambda: loop.run_in_executor(_probe_threads, _select_one))
    if outcome == "timeout":
        return {"ok": False, "slow": True, "detail": f"no answer within {PROBE_SECONDS:g} s"}
    if outcome == "error":
        return {"ok": False, "detail": result}
    return {"ok": True, "slow": ms > SLOW_DATABASE_MS, "latency_ms": round(ms, 1)}


async def _http(rasa: RasaDep, url: str | None = None) -> dict:
    outcome, result, ms = await _timed(lambda: rasa.is_up(url))
    if outcome == "timeout":
        return {"ok": False, "slow": True, "detail": f"no answer within {PROBE_SECONDS:g} s"}
    if outcome == "error":
        return {"ok": False, "detail": result}
    up, detail = result
    return {"ok": up, "slow": up and ms > SLOW_HTTP_MS, "detail": detail, "latency_ms": round(ms, 1)}


def _reasons(parts: dict, turns: dict) -> list[str]:
    names = {"database": "database", "rasa": "Rasa", "action_server": "action server"}
    reasons = []
    for key, part in parts.items():
        if not part["ok"]:
            reasons.append(f"{names[key]} {'slow' if part.get('slow') else 'down'}: {part.get('detail')}")
        elif part.get("slow"):
            reasons.append(f"{names[key]} slow: {part['latency_ms']:.0f} ms")
    if turns["failed"]:
        why = ", ".join(f"{k} {v}" for k, v in sorted(turns["reasons"].items()))
        reasons.append(f"bot turns failing: {turns['failed']} of {turns['total']} in the last "
                       f"{turns['window_seconds']:.0f} s ({why})")
    return reasons


async def check(rasa: RasaDep, action_server_url: str) -> tuple[int, dict]:
    database, rasa_part, actions = await asyncio.gather(
        _database(), _http(rasa), _http(rasa, f"{action_server_url.rstrip('/')}/health"))
    recent = turn_stats.recent()
    turns = {"window_seconds": turn_stats.window, "total": recent.total, "failed": recent.failed,
             "reasons": recent.reasons}
    parts = {"database": database, "rasa": rasa_part, "action_server": actions}
    reasons = _reasons(parts, turns)
    down = not database["ok"] and not database.get("slow")
    state = "down" if down else ("degraded" if reasons else "ok")
    code = status.HTTP_503_SERVICE_UNAVAILABLE if down else status.HTTP_200_OK
    return code, {"status": state, "reasons": reasons, **parts, "turns": turns}


@router.get("/health")
async def health(request: Request, response: Response, rasa: RasaDep, settings: SettingsDep) -> dict:
    cached = getattr(request.app.state, "health_cache", None)
    now = time.monotonic()
    failures = turn_stats.failures_seen
    if cached and now - cached[0] < CACHE_SECONDS and cached[1] == failures:
        code, body = cached[2], cached[3]
    else:
        code, body = await check(rasa, settings.action_server_url)
        request.app.state.health_cache = (time.monotonic(), failures, code, body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return body
