"""Checks and normalisation of a customer's text before it is stored or sent to Rasa.

Errors are in Chinese: the customer reads them.
"""
from __future__ import annotations

import re
import unicodedata

from bot.privacy import mask_id_card

MAX_CHARS = 2000

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")
# A lone UTF-16 surrogate (JSON "\ud800"): no encoding can store it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_ALLOWED_CONTROLS = frozenset("\n\t\r")
_CATEGORY_NAMES = {"Cc": "控制字符", "Co": "私用区字符", "Cs": "代理项（无效的 UTF-16）", "Cn": "未分配的字符"}


class InvalidMessage(ValueError):
    """The text cannot be accepted; ``str(exc)`` is the message for the customer."""


def clean_customer_text(text: object, max_chars: int = MAX_CHARS) -> str:
    """Return the text as it will be stored, or raise InvalidMessage."""
    if not isinstance(text, str):
        raise InvalidMessage("消息内容必须是文字")
    if _SURROGATE.search(text):
        raise InvalidMessage("消息中含有无法识别的字符，请删除后重新发送")
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise InvalidMessage("消息不能为空，请输入内容后再发送")
    if len(text) > max_chars:
        raise InvalidMessage(f"消息太长了（{len(text)} 字），请控制在 {max_chars} 字以内")
    return text


def unreadable_character(text: str) -> str | None:
    """Why ``text`` may not be stored for people to read (in Chinese), or None.

    Refused: control characters other than newline, carriage return and tab;
    private-use, surrogate and unassigned code points (Unicode as Python knows it)."""
    for position, char in enumerate(text, 1):
        category = unicodedata.category(char)
        if category in _CATEGORY_NAMES and char not in _ALLOWED_CONTROLS:
            return (f"第 {position} 个字符 U+{ord(char):04X} 是{_CATEGORY_NAMES[category]}，"
                    "不能保存；请删除后重试")
    return None


# A phone or ID-card number typed alone. Not language: the model would guess (it read
# them as goodbye). With words around it ("我的电话是…") the NLU reads the sentence.
_CONTACT_WORDS = r"(?:[:：,，。.\s])*"
_PHONE_ALONE = re.compile(r"^" + _CONTACT_WORDS + r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}[。.!！~～]*$")
_ID_ALONE = re.compile(r"^" + _CONTACT_WORDS + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
                       r"(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx][。.!！~～]*$")
# Rasa reads "/intent{...}" as a command that sets the intent and entities; a customer's
# text must never start one.
_COMMAND_PREFIX = re.compile(r"^/+")


def text_for_nlu(text: str) -> str:
    """What Rasa sees: full-width letters and digits folded (ＤＤ２０２６… -> DD2026…),
    runs of white space collapsed, since JiebaTokenizer turns spaces into tokens.

    A phone or ID-card number typed alone becomes the intent command ``/inform_phone``
    or ``/inform_id_number``: the answer is certain, and the number itself never reaches
    Rasa's tracker store. ID-card numbers inside a longer message are masked for the
    same reason (nothing the bot does needs one)."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    if _PHONE_ALONE.match(text):
        return "/inform_phone"
    if _ID_ALONE.match(text):
        return "/inform_id_number"
    return _COMMAND_PREFIX.sub("", mask_id_card(text) or "").strip()
