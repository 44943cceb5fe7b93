"""The FastAPI application: the front door of every channel."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.services.sentiment_model import get_classifier
from api.core.config import get_settings
from api.core.logging import setup_logging
from api.db.session import get_sessionmaker
from api.routes import admin as admin_routes
from api.routes import analytics as analytics_routes
from api.routes import auth as auth_routes
from api.channels import web as web_chat
from api.channels import wechat
from api.channels.wechat import WeChatChannel
from api.channels.wechat_inbox import WeChatInbox
from api.channels.wechat_sender import run_sender
from api.routes import customers, follow_ups, health, internal, labels, nlg, orders, staff, surveys
from api.routes import workspace as workspace_routes
from api.services import live
from api.services.responses import ResponseCatalog
from api.services.variants import VariantStore
from bot.rasa_client import RasaClient

STATIC = Path(__file__).parent / "static"
access_log = logging.getLogger("api.access")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    app.state.rasa = RasaClient(settings.rasa_url, settings.bot_timeout_seconds)
    app.state.catalog = ResponseCatalog.from_files(settings.domain_path, settings.responses_dir)
    app.state.variants = VariantStore()
    live.hub.bind(asyncio.get_running_loop())
    app.state.wechat = WeChatChannel.from_settings(settings, WeChatInbox(
        get_sessionmaker(), app.state.catalog, app.state.variants, settings))
    sender = asyncio.create_task(run_sender(settings, get_sessionmaker()))
    reloader = asyncio.create_task(_reload_variants(app.state.variants, settings.variant_reload_seconds))
    # The sentiment model is read (or, on a fresh machine, trained) off the event loop now,
    # so the first complaint or survey comment does not wait for it.
    warm = asyncio.create_task(_warm_sentiment())
    yield
    warm.cancel()
    reloader.cancel()
    sender.cancel()
    live.hub.bind(None)
    await app.state.rasa.aclose()


async def _warm_sentiment() -> None:
    try:
        await run_in_threadpool(get_classifier)
    except Exception:  # noqa: BLE001 - escalation and surveys try again when they need it
        logging.getLogger(__name__).exception("could not load the sentiment model")


async def _reload_variants(store: VariantStore, every_seconds: float) -> None:
    """Reply variants changed by other processes (the analytics jobs) reach the NLG
    endpoint within ``every_seconds``; edits made through this service's admin API
    reload the store at once."""
    while True:
        try:
            await run_in_threadpool(reload_store, store)
        except Exception as exc:  # a locked or not yet migrated database: try again later
            logging.getLogger(__name__).warning("could not load reply variants: %s", exc)
        await asyncio.sleep(every_seconds)


def reload_store(store: VariantStore) -> None:
    with get_sessionmaker()() as db:
        store.load(db)


def _is_customer_facing(request: Request) -> bool:
    return request.url.path.startswith("/api/web/")


def _is_for_people(request: Request) -> bool:
    """Customers' and staff's screens show errors in Chinese; machine APIs keep English."""
    return request.url.path.startswith(("/api/web/", "/api/admin/", "/api/auth/", "/api/staff/"))


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "请求格式有误：内容不是有效的 JSON" if _is_customer_facing(request) else "body is not valid JSON"
        return JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)
    if _is_for_people(request):
        fields = "、".join(str(e["loc"][-1]) for e in errors if e.get("loc"))
        return JSONResponse({"detail": f"请求内容有误：{fields} 不符合要求", "errors": _plain(errors)},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return JSONResponse({"detail": _plain(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _plain(errors: list[dict]) -> list[dict]:
    return [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]


async def on_database_error(request: Request, exc: OperationalError | PoolTimeout) -> JSONResponse:
    # "database is locked" past busy_timeout, or no pooled connection in time. Nothing
    # was committed: the page keeps the message and retries with the same client id.
    logging.getLogger(__name__).error("database error on %s: %s", request.url.path,
                                      getattr(exc, "orig", None) or type(exc).__name__)
    if _is_customer_facing(request):
        detail = "系统繁忙，消息暂未发送成功，请稍后重试"
    else:
        detail = "数据库繁忙，请稍后重试" if _is_for_people(request) else "database unavailable"
    return JSONResponse({"detail": detail}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": "2"})


class AccessLog:
    """One line per request: method, path (never the query string, which may carry
    tokens or personal data), status and duration. Plain ASGI: Starlette's
    BaseHTTPMiddleware costs noticeably more per request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status_code = time.perf_counter(), 500

        async def send_and_note(message):
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            access_log.info("%s %s %s %.1fms", scope["method"], scope["path"], status_code,
                            (time.perf_counter() - started) * 1000)


def create_app() -> FastAPI:
    setup_logging()
    app = FastAPI(title="回响 Huixiang customer service", version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(PoolTimeout, on_database_error)

    app.state.login_attempts = defaultdict(deque)  # address -> recent login attempts (routes/auth.py)
    app.add_middleware(AccessLog)
    for router in (web_chat.router, staff.router, orders.router, health.router, internal.router,
                   nlg.router, customers.router, surveys.web_router, surveys.internal_router, wechat.router):
        app.include_router(router)
    app.include_router(auth_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(workspace_routes.router)
    app.include_router(follow_ups.router)
    app.include_router(labels.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/chat", include_in_schema=False)
    def chat_page() -> FileResponse:
        return FileResponse(STATIC / "chat" / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/staff", include_in_schema=False)
    def staff_page() -> FileResponse:
        return FileResponse(STATIC / "staff" / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/admin", include_in_schema=False)
    def admin_page() -> FileResponse:
        return FileResponse(STATIC / "admin" / "index.html", headers={"Cache-Control": "no-cache"})

    return app


app = create_app()
