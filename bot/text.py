"""Checks and normalisation of a customer's text before it is stored or sent to Rasa.

Errors are in Chinese: the customer reads them.
"""
from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 2000

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")


class InvalidMessage(ValueError):
    """The text cannot be accepted; ``str(exc)`` is the message for the customer."""


def clean_customer_text(text: object, max_chars: int = MAX_CHARS) -> str:
    """Return the text as it will be stored, or raise InvalidMessage."""
    if not isinstance(text, str):
        raise InvalidMessage("消息内容必须是文字")
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise InvalidMessage("消息不能为空，请输入内容后再发送")
    if len(text) > max_chars:
        raise InvalidMessage(f"消息太长了（{len(text)} 字），请控制在 {max_chars} 字以内")
    return text


def text_for_nlu(text: str) -> str:
    """What Rasa sees: full-width letters and digits folded (ＤＤ２０２６… -> DD2026…),
    runs of white space collapsed, since JiebaTokenizer turns spaces into tokens."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
