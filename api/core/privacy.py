"""Masking of customers' personal data for staff screens and logs (PIPL Art. 51)."""
from __future__ import annotations

import ipaddress
import re


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
    groups = addr.exploded.split(":")
    return ":".join(groups[:2]) + ":*"


def mask_identifier(value: str | None, keep: int = 4) -> str | None:
    """Show only the first characters of an id: enough to tell two apart, not to use one."""
    if not value:
        return value
    if len(value) <= keep:
        return "*" * len(value)
    return value[:keep] + "…"


_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phone(text: str | None) -> str | None:
    """Mask mainland mobile numbers wherever they appear: 13812345678 -> 138****5678."""
    if not text:
        return text
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
