"""Masking of customers' personal data in staff screens and logs (PIPL Art. 51).

Standard library only: the service, Rasa and the action server all load the log
filter below (Rasa and the action server through ops/logging.yml).
"""
from __future__ import annotations

import ipaddress
import logging
import re
import traceback

# Also written with spaces or dashes (138 1234 5678, 138-1234-5678) as people type them.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)([ -]?)(\d{4})([ -]?)(\d{4})(?!\d)")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")


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


def mask_text(text: str, max_line: int = 500) -> str:
    """Mask phones and IPv4 addresses and cut over-long lines, which in Rasa's and
    rasa-sdk's error logs are whole request bodies with customers' messages and slots."""
    masked = _IPV4.sub(lambda m: mask_ip(m.group(1)) or "", mask_phone(text) or "")
    lines = []
    for line in masked.split("\n"):
        if len(line) > max_line:
            line = f"{line[:max_line]}…[{len(line) - max_line} characters not logged]"
        lines.append(line)
    return "\n".join(lines)


class MaskPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
