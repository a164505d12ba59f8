"""Pages: notification settings (channels per event, quiet hours, email, chat URLs),
webhooks (secret shown once) and the delivery log. Plain HTML forms, no script needed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from notifications import selectors_delivery as selectors
from notifications import services_delivery as services
from notifications.models import DeliveryChannel, NotificationEvent
from notifications.preferences import CHANNELS
from notifications.services_delivery import IssuedWebhook
from oms_site.errors import NotFound, ValidationFailed

RECENT_DELIVERIES = 20
PAGE_SIZE = 50


def _settings_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    prefs = selectors.preferences_get(user=request.user)
    rows = [
        {
            "event": event,
            "label": label,
            "cells": [
                {"channel": channel, "on": channel in prefs.channels_for(event)}
                for channel in CHANNELS
            ],
        }
        for event, label in NotificationEvent.choices
    ]
    return {
        "rows": rows,
        "channels": CHANNELS,
        "channel_labels": DeliveryChannel.choices,
        "prefs": prefs,
        "chat_urls_text": "\n".join(prefs.chat_urls),
        "webhooks": list(selectors.webhook_list(user=request.user)),
        "events": NotificationEvent.choices,
        "deliveries": list(selectors.delivery_list(user=request.user)[:RECENT_DELIVERIES]),
        **extra,
    }


@login_required
@require_GET
def notification_settings_page(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/settings.html", _settings_context(request))


def _preferences_from_form(post: Any) -> dict[str, Any]:
    channels = {
        event: [channel for channel in CHANNELS if post.get(f"ch:{event}:{channel}")]
        for event in NotificationEvent.values
    }
    start, end = post.get("qh_start", "").strip(), post.get("qh_end", "").strip()
    quiet = (
        {"start": start, "end": end, "timezone": post.get("qh_tz", "").strip() or "UTC"}
        if start or end
        else None
    )
    urls = [line.strip() for line in post.get("chat_urls", "").splitlines() if line.strip()]
    return {
        "channels": channels,
        "quiet_hours": quiet,
        "email": post.get("email", "").strip(),
        "chat_urls": urls,
    }


@login_required
@require_POST
def notification_preferences_save(request: HttpRequest) -> HttpResponse:
    try:
        services.preferences_update(user=request.user, data=_preferences_from_form(request.POST))
    except ValidationFailed as exc:
        context = _settings_context(request, errors=exc.fields, error_message=exc.message)
        return render(request, "notifications/settings.html", context, status=400)
    messages.success(request, "Notification preferences saved.")
    return redirect("notification-settings")


@login_required
@require_POST
def webhook_create_page(request: HttpRequest) -> HttpResponse:
    try:
        issued = services.webhook_create(
            user=request.user,
            url=request.POST.get("url", "").strip(),
            events=request.POST.getlist("events"),
        )
    except ValidationFailed as exc:
        context = _settings_context(request, webhook_errors=exc.fields, error_message=exc.message)
        return render(request, "notifications/settings.html", context, status=400)
    return _show_secret(request, issued)


def _show_secret(request: HttpRequest, issued: IssuedWebhook) -> HttpResponse:
    # Rendered, not redirected: the secret is shown this once and stored nowhere readable.
    context = _settings_context(request, new_secret=issued.secret, secret_for=issued.endpoint)
    return render(request, "notifications/settings.html", context)


def _own(request: HttpRequest, webhook_id: str, action) -> Any:
    try:
        return action(user=request.user, webhook_id=webhook_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_POST
def webhook_delete_page(request: HttpRequest, webhook_id: str) -> HttpResponse:
    _own(request, webhook_id, services.webhook_delete)
    messages.success(request, "Webhook deleted.")
    return redirect("notification-settings")


@login_required
@require_POST
def webhook_test_page(request: HttpRequest, webhook_id: str) -> HttpResponse:
    _own(request, webhook_id, services.webhook_test)
    messages.success(request, "Test event sent; its outcome shows in the delivery log.")
    return redirect("notification-settings")


@login_required
@require_POST
def webhook_rotate_page(request: HttpRequest, webhook_id: str) -> HttpResponse:
    return _show_secret(request, _own(request, webhook_id, services.webhook_rotate_secret))


@login_required
@require_GET
def delivery_list_page(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.delivery_list(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/deliveries.html", {"page": page})
