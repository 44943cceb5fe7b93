"""Masking of customers' personal data in staff screens and logs (PIPL Art. 51).

One function, ``mask_text``, masks every kind of personal data the product meets in
free text — mainland mobile numbers, resident ID-card numbers (18 digits, the last may
be X, and the old 15-digit ones), e-mail addresses, IPv4 addresses — and credentials
(``Authorization: Bearer …``, ``token=…``, passwords in URLs). Staff screens and the log
filter below both use it, so a kind of data masked in one is masked in the other.

Logs meet text that screens do not: JSON with ``\\uXXXX`` escapes (Rasa's structured
log lines), Python byte reprs (``\\xe7\\xa0\\x81``) and URL-encoded text. The digit
patterns therefore also match right after such an escape (whose hex digits would
otherwise look like part of the number), and the log filter decodes ``\\uXXXX``
escapes before masking. The filter also hides the values of the installation's own
secrets (``HX_*TOKEN``, ``*SECRET``, ``*PASSWORD``, ``*KEY``) wherever they appear.

Standard library only: the service, Rasa and the action server all load the log
filter below (Rasa and the action server through ops/logging.yml).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import traceback

# A number starts where no digit is before it — or an escape is, whose hex digits end
# in a digit: "码" is \u7801 in JSON, \xe7\xa0\x81 in a bytes repr, %E7%A0%81 in a URL.
_START = r"(?:(?<!\d)|(?<=\\u[0-9a-fA-F]{4})|(?<=\\x[0-9a-fA-F]{2})|(?<=%[0-9a-fA-F]{2}))"
# Also written with spaces or dashes (138 1234 5678, 138-1234-5678) as people type them.
_PHONE = re.compile(_START + r"(1[3-9]\d)([ -]?)(\d{4})([ -]?)(\d{4})(?!\d)")
# Resident ID cards: region (6), birth date (YYYYMMDD, or YYMMDD in the 15-digit ones),
# sequence, check digit (0-9 or X). The date's shape keeps order numbers out.
_ID_CARD = re.compile(
    _START + r"([1-9]\d{5})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"|\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![\dXx])")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")
# Credentials: "Authorization: Bearer x", "bearer x", token=x, "secret": "x", user:pass@host.
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}")
_KEY_VALUE = re.compile(
    r"(?i)((?:access_|refresh_|api_|csrf_)?(?:token|secret|password|passwd|signature|app_?secret|aes_?key|session)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}]{4,})")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def mask_ip(ip: str | None) -> str | None:
    """Keep the network, hide the host: 203.0.113.45 -> 203.0.*.*, IPv6 keeps /32."""
    if not ip:
        return ip
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "***"
    if addr.version == 4:
        a, b, _, _ = ip.split(".")
        return f"{a}.{b}.*.*"
    return ":".join(addr.exploded.split(":")[:2]) + ":*"


def mask_identifier(value: str | None, keep: int = 4) -> str | None:
    """Show only the first characters of an id: enough to tell two apart, not to use one."""
    if not value:
        return value
    if len(value) <= keep:
        return "*" * len(value)
    return value[:keep] + "…"


def mask_phone(text: str | None) -> str | None:
    """Mask mainland mobile numbers wherever they appear: 13812345678 -> 138****5678."""
    if not text:
        return text
    return _PHONE.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(4)}{m.group(5)}", text)


def mask_id_card(text: str | None) -> str | None:
    """11010519491231002X -> 1101**********002X: region and birth date hidden."""
    if not text:
        return text

    def hide(m: re.Match) -> str:
        whole = m.group(1) + m.group(2)
        return whole[:4] + "*" * (len(whole) - 8) + whole[-4:]
    return _ID_CARD.sub(hide, text)


def mask_email(text: str | None) -> str | None:
    """zhang.san@example.com -> z***@example.com."""
    if not text:
        return text
    return _EMAIL.sub(lambda m: f"{m.group(1)[0]}***@{m.group(2)}", text)


def mask_credentials(text: str | None) -> str | None:
    """Bearer tokens, ``token=…``/``"secret": "…"`` values and passwords in URLs."""
    if not text:
        return text
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}***", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}***@", text)


def mask_text(text: str | None, max_line: int = 500) -> str:
    """The one masking of personal data in free text, for staff screens and logs:
    ID-card numbers, phone numbers, e-mail addresses, IPv4 addresses and credentials;
    over-long lines are cut (in Rasa's and rasa-sdk's error logs they are whole request
    bodies with customers' messages and slots)."""
    if not text:
        return ""
    masked = mask_credentials(text) or ""
    masked = mask_email(masked) or ""
    masked = mask_id_card(masked) or ""  # before phones: an ID number holds 11-digit runs
    masked = mask_phone(masked) or ""
    masked = _IPV4.sub(lambda m: mask_ip(m.group(1)) or "", masked)
    lines = []
    for line in masked.split("\n"):
        if len(line) > max_line:
            line = f"{line[:max_line]}…[{len(line) - max_line} characters not logged]"
        lines.append(line)
    return "\n".join(lines)


mask_personal_data = mask_text


def decode_json_escapes(text: str) -> str:
    """``\\u7801`` -> 码, so that masking sees the text a JSON line stands for. Lone
    surrogates (half an emoji) stay escaped: they cannot be written out."""
    if "\\u" not in text:
        return text

    def decode(m: re.Match) -> str:
        code = int(m.group(1), 16)
        return m.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)
    return _ESCAPE.sub(decode, text)


_SECRET_NAME = re.compile(r"^HX_.*(TOKEN|SECRET|PASSWORD|KEY)$")


def installation_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """The values of this installation's secrets (HX_INTERNAL_TOKEN, HX_ADMIN_PASSWORD…),
    longest first; short values are left alone (they would mask ordinary words)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_NAME.match(k) and v and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


class MaskPersonalData(logging.Filter):
    """Every log line of every process passes here (api/core/logging.py, ops/logging.yml)."""

    def __init__(self, name: str = "", secrets: list[str] | None = None):
        super().__init__(name)
        self.secrets = installation_secrets() if secrets is None else secrets

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return mask_text(decode_json_escapes(text))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_text = self.mask("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: log what there is, masked
            message = f"{record.msg} {record.args}"
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
