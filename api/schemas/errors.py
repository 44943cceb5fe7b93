"""The one shape of every error the API answers, and how routes document them."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """``detail`` says what went wrong: in Chinese on every route a person reads (the
    web chat, the staff workspace, the admin console), in English on machine routes
    (``/internal``, ``/nlg``, ``/wechat``). A refused request's fields are listed in
    ``errors``."""

    detail: str
    errors: list[FieldError] | None = None


ERROR_DESCRIPTIONS = {
    400: "请求格式有误（例如内容不是有效的 JSON）",
    401: "未登录、登录已失效，或缺少有效的凭据",
    403: "没有权限（需要管理员），或缺少 X-Requested-With 请求头",
    404: "对象不存在，或不属于当前身份",
    409: "与当前状态冲突（已存在、已被他人处理、已结束…）",
    413: "请求内容过大",
    422: "请求内容不符合要求",
    429: "请求过于频繁，请稍后再试（见 Retry-After）",
    503: "数据库繁忙或暂不可用，请稍后重试（见 Retry-After）",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each code documented with ErrorOut."""
    return {code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in codes}
