"""Recognising a customer (patent step 1): client id cookie, IP, optional user id.

The browser's client id is made here and only here: the ``hx_cid`` cookie carries it
with an HMAC of the server's cookie secret (``<id>.<mac>``), so an id a client made up
is never stored. The database keeps the SHA-256 of the id (without the MAC), as it did
before cookies were signed; an unsigned cookie from then is still recognised, but only
when its digest is already stored (the server issued it), and is re-issued signed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.config import get_settings
from api.db.base import utcnow
from api.models import Customer, CustomerIdentity
from api.services.merge import link_member_login

CLIENT_COOKIE = "hx_cid"
CLIENT_COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")  # the id; alone, an unsigned (old) cookie
_SIGNED_COOKIE = re.compile(r"^([A-Za-z0-9_-]{32,64})\.([A-Za-z0-9_-]{43})$")  # id.base64url(HMAC-SHA256)
log = logging.getLogger(__name__)


def new_client_id() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 random bits


@lru_cache
def _process_secret() -> bytes:
    log.warning("HX_COOKIE_SECRET is not set: chat cookies are signed with a key of this "
                "process and stop being recognised when it restarts")
    return secrets.token_bytes(32)


def _cookie_key(secret: str | None = None) -> bytes:
    if secret is None:
        configured = get_settings().cookie_secret
        secret = configured.get_secret_value() if configured else None
    return secret.encode() if secret else _process_secret()


def _mac(client_id: str, secret: str | None) -> str:
    digest = hmac.new(_cookie_key(secret), b"hx_cid:" + client_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def client_cookie(client_id: str, secret: str | None = None) -> str:
    """The ``hx_cid`` cookie value for a client id: the id and its MAC."""
    return f"{client_id}.{_mac(client_id, secret)}"


def issued_client_id(cookie: str | None, secret: str | None = None) -> str | None:
    """The client id in a cookie this server signed; None for anything else."""
    found = _SIGNED_COOKIE.match(cookie) if cookie else None
    if found is None:
        return None
    client_id, mac = found.groups()
    return client_id if hmac.compare_digest(_mac(client_id, secret), mac) else None


def is_valid_client_id(value: str | None) -> bool:
    """Well-formed: a signed cookie, or an id alone (a cookie from before they were signed,
    recognised only when stored: see ``client_id_from_cookie``)."""
    return bool(value) and bool(_SIGNED_COOKIE.match(value) or _CLIENT_ID.match(value))


def client_digest(client_id: str) -> str:
    return hashlib.sha256(client_id.encode()).hexdigest()


def client_id_from_cookie(db: Session, cookie: str | None, secret: str | None = None) -> str | None:
    """The client id of a cookie the server issued: signed, or unsigned from before cookies
    were signed and already stored. A made-up or forged cookie gives None."""
    client_id = issued_client_id(cookie, secret)
    if client_id is not None:
        return client_id
    if cookie and _CLIENT_ID.match(cookie) and _identity(db, "web_client", client_digest(cookie)) is not None:
        return cookie
    return None


def user_hash(secret: str, user_id: str) -> str:
    """What a brand's site computes for its logged-in user (HMAC-SHA256, hex)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(secret: str, user_id: str, given: str) -> bool:
    return hmac.compare_digest(user_hash(secret, user_id), given.lower())


def _is_trusted(address: str, trusted_proxies: list[str]) -> bool:
    """An address listed in HX_TRUSTED_PROXIES, or inside a network listed there."""
    if address in trusted_proxies:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted_proxies:
        try:
            if "/" in entry and ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str | None:
    """The customer's address: the peer, or the last untrusted hop of X-Forwarded-For
    when the peer is one of our own proxies (a client can prepend anything).

    This is the only place X-Forwarded-For is read: the service's uvicorn runs with
    ``--no-proxy-headers`` (ops/stack.py), since uvicorn's own default believes the
    header from 127.0.0.1, i.e. from any local client."""
    if not peer or not forwarded_for or not _is_trusted(peer, trusted_proxies):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if _is_trusted(hop, trusted_proxies):
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        return hop
    return peer


def _identity(db: Session, kind: str, value: str) -> CustomerIdentity | None:
    return db.scalar(
        select(CustomerIdentity).where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )


def is_known_client(db: Session, client_id: str) -> bool:
    """A browser seen before (its client id stored)."""
    return _identity(db, "web_client", client_digest(client_id)) is not None


def customer_id_for_client(db: Session, cookie: str | None) -> int | None:
    """The customer of an ``hx_cid`` cookie the server issued; None for any other value."""
    client_id = issued_client_id(cookie)
    if client_id is None:
        if not cookie or not _CLIENT_ID.match(cookie):
            return None
        client_id = cookie  # unsigned, from before cookies were signed: only if stored
    web = _identity(db, "web_client", client_digest(client_id))
    return web.customer_id if web else None


def identify_web_customer(
    db: Session, client_id: str, ip: str | None, user_id: str | None = None
) -> Customer:
    """Find or create the customer behind a browser; ``user_id`` must already be verified.

    A verified user id wins: the browser is bound to that user's customer, so a member
    who logs in on a new device continues as themselves. What the browser did before
    the login follows the rules of ``api.services.merge.link_member_login``: an
    anonymous browser's history is merged into the member's; a browser of another
    member (a shared device) just changes hands.
    """
    digest = client_digest(client_id)
    now = utcnow()
    for attempt in range(2):
        try:
            web = _identity(db, "web_client", digest)
            member = _identity(db, "user_id", user_id) if user_id else None
            if web is None:
                # A new browser of a known member needs no customer of its own.
                customer = member.customer if member else Customer(
                    first_ip=ip, last_ip=ip, first_seen_at=now, last_seen_at=now)
                web = CustomerIdentity(kind="web_client", value=digest, customer=customer)
                db.add(web)
            customer = web.customer
            if user_id and member is None:
                if _has_member_id(db, customer):
                    # A shared device, and a member we have never seen: a customer of their own.
                    customer = Customer(first_ip=ip, last_ip=ip, first_seen_at=now, last_seen_at=now)
                    web.customer = customer
                db.add(CustomerIdentity(kind="user_id", value=user_id, customer=customer))
            elif member is not None:
                if member.customer_id != customer.id:
                    link_member_login(db, web, member.customer)
                    customer = web.customer
                member.last_seen_at = now
            web.last_seen_at = now
            customer.last_seen_at = now
            customer.last_ip = ip
            if customer.first_ip is None:
                customer.first_ip = ip
            db.commit()
            return customer
        except IntegrityError:
            # Two first requests of one new browser raced; the other one created it.
            db.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _has_member_id(db: Session, customer: Customer) -> bool:
    if customer.id is None:  # created in this request
        return False
    return db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.customer_id == customer.id,
                                                       CustomerIdentity.kind == "user_id").limit(1)) is not None


def identify_wechat_customer(db: Session, openid: str) -> Customer:
    """The customer behind a WeChat openid, created on first contact.

    The openid is one identity among the customer's others: a phone number they type
    links it to their other accounts (api/services/merge.py), as on the web."""
    now = utcnow()
    for attempt in range(2):
        try:
            identity = _identity(db, "wechat_openid", openid)
            if identity is None:
                identity = CustomerIdentity(kind="wechat_openid", value=openid,
                                            customer=Customer(first_seen_at=now, last_seen_at=now))
                db.add(identity)
            identity.last_seen_at = identity.customer.last_seen_at = now
            db.commit()
            return identity.customer
        except IntegrityError:
            db.rollback()  # the same new follower's first two deliveries raced
            if attempt:
                raise
    raise AssertionError("unreachable")
