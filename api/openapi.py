"""What the OpenAPI document says beyond FastAPI's defaults, and who a route is for.

Each route's authentication is read from its dependencies (``api/deps.py``), so the
document's security requirements and error responses follow the code:

- ``require_internal``: the internal bearer token (Rasa, the action server);
- ``current_staff`` / ``require_admin``: the admin bearer token or a staff session cookie
  ``hx_staff`` (writes with the cookie need ``X-Requested-With``; admin routes the role);
- the ``hx_cid`` cookie of the web chat (every ``/api/web/conversations/…`` route).

Every error is documented with one schema, ``ErrorOut`` (``api/schemas/errors.py``),
which is what the handlers in ``api/main.py`` and ``HTTPException`` answer.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request

from api.core.config import get_settings
from api.db.session import get_db, get_sessionmaker
from api.deps import current_staff, customer_id_from_cookie, require_admin, require_internal
from api.schemas.errors import ERROR_DESCRIPTIONS, ErrorOut

INTERNAL, ADMIN, STAFF, CUSTOMER = "internal", "admin", "staff", "customer"

SECURITY_SCHEMES = {
    "adminToken": {"type": "http", "scheme": "bearer",
                   "description": "HX_ADMIN_TOKEN: automation with the admin role"},
    "staffSession": {"type": "apiKey", "in": "cookie", "name": "hx_staff",
                     "description": "A staff member's session (POST /api/auth/login); writes also need "
                                    "the X-Requested-With header"},
    "customerCookie": {"type": "apiKey", "in": "cookie", "name": "hx_cid",
                       "description": "The web chat visitor (set by POST /api/web/session)"},
    "internalToken": {"type": "http", "scheme": "bearer",
                      "description": "HX_INTERNAL_TOKEN: Rasa's NLG calls and the action server"},
}
_SECURITY = {
    INTERNAL: [{"internalToken": []}],
    ADMIN: [{"adminToken": []}, {"staffSession": []}],
    STAFF: [{"adminToken": []}, {"staffSession": []}],
    CUSTOMER: [{"customerCookie": []}],
}
# Answers that do not follow from a route's dependencies (routes outside this module's
# reach say them here rather than in their decorators).
_EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/api/web/session"): (400, 403, 429),
    ("POST", "/api/web/conversations/{conversation_id}/messages"): (409, 429),
    ("POST", "/api/web/conversations/{conversation_id}/survey"): (409,),
    ("GET", "/wechat/callback"): (400, 403, 404),
    ("POST", "/wechat/callback"): (400, 403, 404, 413),
    ("POST", "/nlg"): (400,),
    ("POST", "/internal/conversations/{conversation_id}/survey"): (409,),
}
_CREDENTIALS = {("header", "authorization"), ("cookie", "hx_staff"), ("cookie", "hx_cid")}
_STREAMS = {"/api/staff/events", "/api/web/conversations/{conversation_id}/events"}


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method some API route answers at ``path`` (for a 405's Allow header)."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and context.methods and regex.match(path):
            methods |= set(context.methods)
    return methods


def _walk(dependant, calls: set, cookies: set) -> None:
    if dependant.call is not None:
        calls.add(dependant.call)
    cookies.update(field.alias for field in dependant.cookie_params)
    for sub in dependant.dependencies:
        _walk(sub, calls, cookies)


def _routes(app: FastAPI):
    """Each API route as served: its full path and its routers' dependencies included."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.dependant is not None:
            yield context


def _facts(route) -> tuple[set, set]:
    calls: set = set()
    cookies: set = set()
    _walk(route.dependant, calls, cookies)
    return calls, cookies


def auth_kind(route) -> str | None:
    calls, cookies = _facts(route)
    if require_internal in calls:
        return INTERNAL
    if require_admin in calls:
        return ADMIN
    if current_staff in calls:
        return STAFF
    if "hx_cid" in cookies and route.path.startswith("/api/web/conversations/"):
        return CUSTOMER
    return None


async def check_auth(request: Request) -> None:
    """Raise the HTTPException the route's authentication would raise for this request
    (401 or 403), or return: lets a refused body be answered as the route's auth would
    answer it first, so an anonymous caller learns nothing about a protected route's
    body."""
    kinds = getattr(request.app.state, "auth_kinds", None)
    if kinds is None:  # route -> what authenticates it, once per application
        kinds = request.app.state.auth_kinds = {id(c.original_route): auth_kind(c) for c in _routes(request.app)}
    kind = kinds.get(id(request.scope.get("route")))
    if kind is None:
        return
    settings = get_settings()
    authorization = request.headers.get("authorization")
    if kind == INTERNAL:
        await require_internal(settings, authorization)
        return

    def staff_or_customer() -> None:
        with get_sessionmaker()() as db:
            if kind == CUSTOMER:
                customer_id_from_cookie(db, request.cookies.get("hx_cid"))
                return
            staff = current_staff(request, settings, db, authorization, request.cookies.get("hx_staff"))
            if kind == ADMIN:
                require_admin(staff)

    await run_in_threadpool(staff_or_customer)


def _error_response(code: int) -> dict[str, Any]:
    return {"description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


def _document(route, operation: dict[str, Any], method: str) -> None:
    kind = auth_kind(route)
    calls, _ = _facts(route)
    responses = operation.setdefault("responses", {})
    codes: set[int] = set(_EXTRA.get((method, route.path), ()))
    if kind is not None:
        operation["security"] = _SECURITY[kind]
        # The credentials are the security schemes' to describe, not parameters.
        operation["parameters"] = [p for p in operation.get("parameters", [])
                                   if (p["in"], p["name"].lower()) not in _CREDENTIALS]
        if not operation["parameters"]:
            del operation["parameters"]
        codes.add(401)
        if kind in (ADMIN, STAFF):
            codes.add(403)
    dependant = route.dependant
    has_params = bool(dependant.path_params or dependant.query_params or dependant.header_params
                      or dependant.cookie_params or route.body_field)
    if dependant.path_params:
        codes.add(404)
    if has_params or kind is not None:
        codes.add(422)
    if route.body_field is not None:
        codes.add(400)
    if get_db in calls:
        codes.add(503)
    for code in sorted(codes):
        if code == 422 or str(code) not in responses:
            responses[str(code)] = _error_response(code)
        else:  # a route documented it: keep its words, use the shared schema
            responses[str(code)].setdefault("content", _error_response(code)["content"])
    if route.path in _STREAMS and "200" in responses:
        responses["200"]["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
    if route.path == "/wechat/callback" and method == "POST":
        responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}},
                                       "application/xml": {"schema": {"type": "string"}}}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents security and errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description=app.description)
        components = schema.setdefault("components", {})
        models = components.setdefault("schemas", {})
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        models.update(error_schema.pop("$defs", {}))
        models["ErrorOut"] = error_schema
        components["securitySchemes"] = SECURITY_SCHEMES
        for route in _routes(app):
            if not route.include_in_schema:
                continue
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _document(route, operation, method)
        # FastAPI's own 422 shape is not what this service answers.
        for name in ("HTTPValidationError", "ValidationError"):
            models.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
