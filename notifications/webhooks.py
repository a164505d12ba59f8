"""Webhook signing and the address check (no requests to private networks in production).

Signature (API.md): header `X-OMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" with the endpoint's secret>`. The receiver recomputes it and refuses a
`t` older than a few minutes (replay) — see `signature_verify` and the README.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

from oms_site.errors import ValidationFailed

SIGNATURE_HEADER = "X-OMS-Signature"
DEFAULT_TOLERANCE_S = 300


def secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signature_verify(
    *, secret: str, body: bytes, header: str, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """What a receiver does: the MAC matches and `t` is recent (an old one is a replay)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=t).split(",", 1)[1][3:]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class UnsafeWebhookUrl(ValidationFailed):
    pass


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str) -> None:
    """http(s) only; unless OMS_WEBHOOK_ALLOW_PRIVATE, every address the host resolves to
    must be public (no loopback, private, link-local or reserved: SSRF). Checked when the
    endpoint is saved and again before each delivery (DNS can change)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("The URL must be http(s)://host/...", fields={"url": ["Bad URL."]})
    if settings.OMS_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookUrl(
            "The host does not resolve.", fields={"url": ["The host does not resolve."]}
        ) from exc
    if not infos or not all(_is_public(info[4][0]) for info in infos):
        raise UnsafeWebhookUrl(
            "Webhook URLs may not point at private or loopback addresses.",
            fields={"url": ["Resolves to a private, loopback or reserved address."]},
        )
