"""The channel backends behind one small interface: `send(message) -> None`, raising
TransientDeliveryError (try again later) or PermanentDeliveryError (give up).

In-app needs no backend (the Notification row is the message); email goes through Django's
mail framework, webhooks are signed HTTP POSTs, chat goes through apprise URLs.
"""

from __future__ import annotations

import json
import smtplib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications.webhooks import SIGNATURE_HEADER, signature_header, webhook_url_check


class TransientDeliveryError(Exception):
    """The receiver may take it later: timeouts, refused connections, 5xx, 429, SMTP 4xx."""


class PermanentDeliveryError(Exception):
    """Trying again will not help: no address, 4xx from a webhook, refused URL."""


@dataclass(frozen=True)
class Item:
    """One notification as a channel shows it."""

    key: str  # the delivery's idempotency key (the webhook `id`)
    event: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: str
    account_name: str | None = None


@dataclass(frozen=True)
class Message:
    """What one send carries: one item, or several gathered into a digest (email, chat)."""

    items: list[Item]
    email: str = ""
    chat_urls: list[str] = field(default_factory=list)
    url: str = ""
    secret: str = ""

    @property
    def subject(self) -> str:
        if len(self.items) == 1:
            return self.items[0].title
        return f"{len(self.items)} notifications from OMS"


class ChannelBackend(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


DIGEST_SHOWN = 50  # items listed in one digest; the rest are counted


class EmailBackend:
    name = "email"

    def send(self, message: Message) -> None:
        if not message.email:
            raise PermanentDeliveryError("The user has no email address.")
        context = {
            "items": message.items[:DIGEST_SHOWN],
            "more": max(0, len(message.items) - DIGEST_SHOWN),
            "site_url": getattr(settings, "OMS_SITE_URL", ""),
        }
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=render_to_string("notifications/email/notification.txt", context),
            to=[message.email],
            # Mail clients drop a second copy with the same Message-ID: a resend after a
            # worker died mid-send shows once.
            headers={"Message-ID": f"<{message.items[0].key}@oms.notifications>"},
        )
        mail.attach_alternative(
            render_to_string("notifications/email/notification.html", context), "text/html"
        )
        try:
            mail.send(fail_silently=False)
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"Recipient refused: {exc.recipients}") from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            raise TransientDeliveryError(f"SMTP unreachable: {exc}") from exc


_session_local = threading.local()


def _http_session() -> requests.Session:
    """One keep-alive session per worker thread: a receiver's connection is reused across
    deliveries instead of a TCP (and TLS) handshake each."""
    session = getattr(_session_local, "session", None)
    if session is None:
        session = _session_local.session = requests.Session()
    return session


class WebhookBackend:
    name = "webhook"

    def send(self, message: Message) -> None:
        (item,) = message.items  # machines get every event on its own, never a digest
        body = json.dumps(
            {"id": item.key, "event": item.event, "created_at": item.created_at, "data": item.data},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        try:
            webhook_url_check(message.url)
        except Exception as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OMS-Webhooks/1",
            SIGNATURE_HEADER: signature_header(secret=message.secret, body=body),
        }
        try:
            response = _http_session().post(
                message.url,
                data=body,
                headers=headers,
                timeout=settings.OMS_WEBHOOK_TIMEOUT_S,
                allow_redirects=False,
            )
        except (TimeoutError, requests.ConnectionError, requests.Timeout) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        detail = f"HTTP {response.status_code}: {response.text[:200]}"
        # API.md: retried until the receiver answers 2xx.
        raise TransientDeliveryError(detail)


class ChatBackend:
    name = "chat"

    def send(self, message: Message) -> None:
        import apprise

        if not message.chat_urls:
            raise PermanentDeliveryError("No chat URLs in the preferences.")
        sender = apprise.Apprise()
        for url in message.chat_urls:
            if not sender.add(url):
                raise PermanentDeliveryError(f"apprise does not understand {url.split(':')[0]}://")
        lines = [
            f"• {item.title}" + (f" — {item.body}" if item.body else "")
            for item in message.items[:DIGEST_SHOWN]
        ]
        if len(message.items) > DIGEST_SHOWN:
            lines.append(f"… and {len(message.items) - DIGEST_SHOWN} more")
        body = message.items[0].body or message.items[0].title
        if len(message.items) > 1:
            body = "\n".join(lines)
        if not sender.notify(title=message.subject, body=body):
            # apprise reports failure as False (details in its log): the service may be
            # briefly down; the retry schedule bounds how long we keep trying.
            raise TransientDeliveryError("A chat service did not accept the message.")


BACKENDS: dict[str, ChannelBackend] = {
    backend.name: backend for backend in (EmailBackend(), WebhookBackend(), ChatBackend())
}
