"""WeChat Official Account callback protocol: signatures, safe-mode crypto, XML.

Pure protocol code with no transport and no database, so it is tested against the
published vectors on its own (tests/bot/test_wechat_protocol.py). The service's route
(api/channels/wechat.py) does the HTTP.

wechatpy does the parts where it is sound: the AES (PKCS#7, app id check) of safe
mode, the message classes, and rendering replies. Two parts are done here instead:

- Signatures are compared with ``hmac.compare_digest``: wechatpy compares with ``!=``,
  which leaks through timing how much of a forged signature was right.
- XML is parsed with defusedxml and no DTD allowed: wechatpy hands bodies to
  xmltodict, which would at least spend time on a document type declaration a caller
  sent. WeChat's messages never carry one.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
from wechatpy.replies import TextReply

# WeChat's messages are a few hundred bytes; anything far larger is not from WeChat.
MAX_BODY_BYTES = 64 * 1024
# A passive text reply carries at most 2048 bytes of content; stay under it.
MAX_REPLY_BYTES = 2000
# WeChat signs with the current time; an old signature is a replay.
DEFAULT_MAX_SKEW_SECONDS = 300


class WeChatRequestError(ValueError):
    """A request that is not a valid WeChat delivery; ``status`` is the HTTP answer."""

    status = 400


class BadSignature(WeChatRequestError):
    status = 403


class StaleRequest(WeChatRequestError):
    status = 403


class MalformedMessage(WeChatRequestError):
    status = 400


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_timestamp(timestamp: str | None, now: float | None = None,
                    max_skew: float = DEFAULT_MAX_SKEW_SECONDS) -> int:
    """The request's time, when it is a number within ``max_skew`` of ours."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        raise MalformedMessage("timestamp missing or not a number")
    value = int(timestamp)
    if abs((time.time() if now is None else now) - value) > max_skew:
        raise StaleRequest("timestamp too far from the server's clock (stale or replayed request)")
    return value


def verify_signature(token: str, signature: str | None, timestamp: str | None, nonce: str | None,
                     now: float | None = None, max_skew: float = DEFAULT_MAX_SKEW_SECONDS) -> None:
    """The ``signature`` WeChat puts on every callback: over token, timestamp and nonce."""
    if not signature or not nonce:
        raise BadSignature("signature or nonce missing")
    check_timestamp(timestamp, now, max_skew)
    if not hmac.compare_digest(sign(token, timestamp, nonce), signature.lower()):
        raise BadSignature("signature does not match")


def parse_xml(body: bytes) -> dict[str, str]:
    """A callback body's fields (the children of ``<xml>``) as text.

    No DTD, entities or external references: such a body is refused before anything
    is expanded, so a crafted document cannot make the parser slow or read files.
    """
    if len(body) > MAX_BODY_BYTES:
        raise MalformedMessage(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MalformedMessage(f"XML with {type(exc).__name__} refused") from None
    except (ParseError, ValueError) as exc:
        raise MalformedMessage(f"body is not well-formed XML: {exc}") from None
    if root.tag != "xml":
        raise MalformedMessage("root element must be <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


@dataclass(frozen=True)
class Inbound:
    """One message or event from a customer, as the service needs it."""

    openid: str
    account: str  # our account's id (ToUserName): the reply comes from it
    create_time: int
    kind: str  # text | voice | image | … | event
    text: str | None = None  # text, or voice with WeChat's speech recognition on
    event: str | None = None  # subscribe | unsubscribe | … for kind "event"
    msg_id: str | None = None

    @property
    def dedup_key(self) -> str:
        """What WeChat's retries of this delivery share: the MsgId, or for events (which
        have none) the sender and creation time."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{self.create_time}:{self.event or self.kind}"


def read_message(fields: dict[str, str]) -> Inbound:
    """Check a parsed body has what every delivery has, and read it through wechatpy's
    message classes."""
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(name):
            raise MalformedMessage(f"{name} missing")
    if not fields["CreateTime"].isdigit():
        raise MalformedMessage("CreateTime is not a number")
    msg_type = fields["MsgType"].lower()
    if msg_type == "event":
        event = (fields.get("Event") or "").lower()
        if not event:
            raise MalformedMessage("event without Event")
        message = EVENT_TYPES.get(event, UnknownMessage)(fields)
    else:
        event = None
        message = MESSAGE_TYPES.get(msg_type, UnknownMessage)(fields)
    msg_id = fields.get("MsgId") or None
    if msg_id is not None and not (msg_id.isdigit() and len(msg_id) <= 24):
        raise MalformedMessage("MsgId is not a number")
    if msg_type == "text":
        text = message.content
    elif msg_type == "voice":
        text = message.recognition or None
    else:
        text = None
    return Inbound(openid=message.source, account=message.target, create_time=int(fields["CreateTime"]),
                   kind=msg_type, text=text, event=event, msg_id=msg_id)


class SafeMode:
    """Safe (AES) mode: messages and replies encrypted with the EncodingAESKey."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str):
        try:
            self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)
        except (AssertionError, ValueError) as exc:
            raise ValueError("EncodingAESKey must be the 43 characters shown in WeChat's console") from exc
        self.token, self.app_id = token, app_id

    def decrypt(self, fields: dict[str, str], msg_signature: str | None, timestamp: str, nonce: str) -> bytes:
        """The plain XML inside an encrypted body, once its ``msg_signature`` matches."""
        encrypted = fields.get("Encrypt")
        if not encrypted:
            raise MalformedMessage("safe mode: Encrypt missing")
        if not msg_signature or not hmac.compare_digest(sign(self.token, timestamp, nonce, encrypted),
                                                        msg_signature.lower()):
            raise BadSignature("msg_signature does not match")
        try:
            plain = PrpCrypto(self._crypto.key).decrypt(encrypted, self.app_id)
        except Exception as exc:  # noqa: BLE001 - bad base64, padding or app id: all "not ours"
            raise MalformedMessage(f"safe mode: cannot decrypt ({type(exc).__name__})") from None
        return plain if isinstance(plain, bytes) else plain.encode()

    def encrypt(self, reply_xml: str, nonce: str, timestamp: str) -> str:
        return self._crypto.encrypt_message(reply_xml, nonce, timestamp)


def text_reply(message: Inbound, content: str, now: int | None = None) -> str:
    """A passive reply: the text shown to the customer in answer to ``message``."""
    # The reply is CDATA: a "]]>" in the text would end it early.
    reply = TextReply(source=message.account, target=message.openid, content=content.replace("]]>", "]] >"),
                      time=now or int(time.time()))
    return reply.render()


def split_text(text: str, max_bytes: int = MAX_REPLY_BYTES) -> list[str]:
    """Pieces of at most ``max_bytes`` UTF-8 bytes, cut at line ends where possible."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > max_bytes:  # one line too long on its own: cut it
            cut = len(line.encode()[:max_bytes].decode(errors="ignore"))
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > max_bytes:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]
