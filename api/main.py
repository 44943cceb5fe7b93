"""The FastAPI application: the front door of every channel."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.services.sentiment_model import get_classifier
from api.core.config import get_settings
from api.core.logging import setup_logging
from api.db.session import get_sessionmaker
from api.openapi import allowed_methods, check_auth
from api.openapi import install as install_openapi
from api.routes import admin as admin_routes
from api.routes import analytics as analytics_routes
from api.routes import auth as auth_routes
from api.channels import web as web_chat
from api.channels import wechat
from api.channels.wechat import WeChatChannel
from api.channels.wechat_inbox import WeChatInbox
from api.channels.wechat_sender import run_sender
from api.routes import catalogue, customers, follow_ups, health, internal, labels, nlg, orders, staff, surveys
from api.routes import service_requests
from api.services import product_answers
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
    try:
        # The catalogue's product keys (jieba words of every name) are built once per
        # process: now, not in the first customer's product question.
        await run_in_threadpool(_load_catalogue)
    except Exception:  # noqa: BLE001 - the first product question loads it again
        logging.getLogger(__name__).exception("could not load the catalogue")


def _load_catalogue() -> None:
    with get_sessionmaker()() as db:
        product_answers.catalogue(db)


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
    """Customers' and staff's screens show errors in Chinese; machine APIs (Rasa's NLG
    endpoint, the action server's /internal, WeChat's callback) keep English."""
    return not request.url.path.startswith(("/internal/", "/nlg", "/wechat/"))


# What a refused field is told, by pydantic's error type (api/schemas/types.py's own
# "hx_…" errors carry their Chinese message).
_FIELD_PROBLEMS = {
    "missing": "缺少此项", "json_invalid": "不是有效的 JSON", "extra_forbidden": "不允许此项",
    "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
    "float_parsing": "应为数字", "float_type": "应为数字", "finite_number": "应为有限的数字",
    "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
    "string_type": "应为文字", "string_too_short": "太短", "string_too_long": "太长",
    "string_pattern_mismatch": "格式不对", "literal_error": "不是可选的值", "enum": "不是可选的值",
    "greater_than": "数值太小", "greater_than_equal": "数值太小", "less_than": "数值太大",
    "less_than_equal": "数值太大", "too_short": "项数太少", "too_long": "项数太多",
    "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象", "model_attributes_type": "应为对象",
    "date_parsing": "应为日期（YYYY-MM-DD）", "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_type": "应为日期（YYYY-MM-DD）", "datetime_parsing": "应为时间（ISO 8601）",
    "datetime_from_date_parsing": "应为时间（ISO 8601）", "datetime_type": "应为时间（ISO 8601）",
    "decimal_parsing": "应为数字", "decimal_type": "应为数字", "decimal_max_digits": "位数太多",
    "decimal_max_places": "小数位太多", "decimal_whole_digits": "位数太多", "none_required": "应为空",
    "string_unicode": "含有无法识别的字符", "unicode_decode_error": "含有无法识别的字符",
}


# A field whose value must be one of a list of codes: what the code is called.
_CODE_NAMES = {"stage": "阶段", "stages": "阶段", "persona": "客户类型", "personas": "客户类型",
               "kind": "优惠类型", "trigger": "触发方式", "mode": "模式", "role": "角色",
               "channel": "渠道", "status": "状态"}


def _field_message(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header", "cookie")]
    name = ".".join(loc) or "请求内容"
    kind = str(error.get("type", ""))
    field = next((part for part in reversed(loc) if not part.isdigit()), "")
    if kind == "literal_error" and field in _CODE_NAMES:
        choices = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        return f"{name} 不符合要求：未知的{_CODE_NAMES[field]} {error.get('input')!r}；可选：{'、'.join(choices)}"
    if kind.startswith("hx_"):
        return f"{name} 不符合要求：{error.get('msg', '')}"
    return f"{name} 不符合要求（{_FIELD_PROBLEMS.get(kind, '格式或取值不对')}）"


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # A protected route answers as its authentication would before saying anything about
    # the body: an anonymous caller gets 401, not a description of the fields.
    try:
        await check_auth(request)
    except HTTPException as refused:
        return JSONResponse({"detail": refused.detail}, status_code=refused.status_code,
                            headers=getattr(refused, "headers", None))
    errors = exc.errors()
    people = _is_for_people(request)
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "请求格式有误：内容不是有效的 JSON" if people else "body is not valid JSON"
        return JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)
    if people:
        detail = "请求内容有误：" + "；".join(dict.fromkeys(_field_message(e) for e in errors))
    else:
        detail = "request is not valid: " + "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return JSONResponse({"detail": detail, "errors": _plain(errors)},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _plain(errors: list[dict]) -> list[dict]:
    return [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
             "msg": str(e.get("msg")), "type": str(e.get("type"))} for e in errors]


_STARLETTE_DETAILS = {404: "请求的地址不存在", 405: "该地址不支持此请求方法"}


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's own 404 / 405 (no such path, method not allowed) in Chinese where a
    person reads them; a 405 lists every method the path has, not just one route's."""
    detail = exc.detail
    if _is_for_people(request) and exc.status_code in _STARLETTE_DETAILS and \
            detail in ("Not Found", "Method Not Allowed"):
        detail = _STARLETTE_DETAILS[exc.status_code]
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        methods = allowed_methods(request.app, request.url.path)
        if methods:
            headers["Allow"] = ", ".join(sorted(methods))
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers or None)


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """The last resort: a bug. Logged with its traceback; the caller gets a 500 in
    Chinese (English on machine routes) and no detail of the failure."""
    logging.getLogger(__name__).error("unexpected error on %s %s", request.method, request.url.path,
                                      exc_info=(type(exc), exc, exc.__traceback__))
    detail = "系统出现意外错误，请稍后重试" if _is_for_people(request) else "internal server error"
    return JSONResponse({"detail": detail}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


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


# The pages (api/static/) load only their own files: no inline script or style, no
# other origin, never inside a frame. FastAPI's /docs and /redoc are an inline script
# loading Swagger UI / ReDoc from a CDN, so they alone may.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin")]


class SecurityHeaders:
    """The security headers on every response, errors included: it wraps the whole app,
    outside Starlette's last-resort error handler (see create_app). Plain ASGI."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = (DOCS_CSP if scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect") else CSP).encode()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(b"content-security-policy", csp), *SECURITY_HEADERS]
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in extra if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app() -> FastAPI:
    setup_logging()
    app = FastAPI(title="回响 Huixiang customer service", version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OperationalError, on_database_error)
    app.add_exception_handler(PoolTimeout, on_database_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
    install_openapi(app)

    app.add_middleware(AccessLog)
    # Outermost, around Starlette's ServerErrorMiddleware, so a 500 carries them too.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build_stack())
    for router in (web_chat.router, staff.router, orders.router, health.router, internal.router,
                   nlg.router, customers.router, surveys.web_router, surveys.internal_router, wechat.router):
        app.include_router(router)
    app.include_router(auth_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(workspace_routes.router)
    app.include_router(follow_ups.router)
    app.include_router(labels.router)
    app.include_router(catalogue.router)
    app.include_router(service_requests.internal_router)
    app.include_router(service_requests.staff_router)
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
