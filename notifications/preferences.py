"""Who wants what where: the channels per event (with defaults), quiet hours, addresses.

Shape (API.md): {"channels": {"<event>": ["in_app", "email", "webhook", "chat"]},
"quiet_hours": {"start": "HH:MM", "end": "HH:MM", "timezone": "<IANA>"} | null,
"email": "<address>" | "", "chat_urls": ["<apprise url>", ...]}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from notifications.models import DeliveryChannel, NotificationEvent, NotificationPreference
from oms_site.errors import ValidationFailed

EVENTS: tuple[str, ...] = tuple(NotificationEvent.values)
CHANNELS: tuple[str, ...] = tuple(DeliveryChannel.values)
# Sent by email unless the user says otherwise: what needs a human even away from the screen.
EMAIL_BY_DEFAULT = frozenset(
    {
        NotificationEvent.ORDER_REJECTED,
        NotificationEvent.GTT_REJECTED,
        NotificationEvent.RISK_LIMIT_HIT,
        NotificationEvent.KILL_SWITCH_CHANGED,
        NotificationEvent.BROKER_STATUS_CHANGED,
    }
)
# System messages about the delivery itself (not subscribable events): in-app and email.
SYSTEM_EVENTS = frozenset({"webhook.disabled"})
# Channels that interrupt a person: held back during quiet hours (in-app is still recorded,
# webhooks are for machines).
QUIET_CHANNELS = frozenset({DeliveryChannel.EMAIL, DeliveryChannel.CHAT})
MAX_CHAT_URLS = 10


def default_channels(event: str) -> list[str]:
    if event in EMAIL_BY_DEFAULT or event in SYSTEM_EVENTS:
        return [DeliveryChannel.IN_APP, DeliveryChannel.EMAIL]
    return [DeliveryChannel.IN_APP]


@dataclass(frozen=True)
class Preferences:
    channels: dict[str, list[str]]
    quiet_hours: dict[str, str] | None = None
    email: str = ""
    chat_urls: list[str] = field(default_factory=list)

    def channels_for(self, event: str) -> list[str]:
        return self.channels.get(event, default_channels(event))

    def is_quiet(self, at: datetime) -> bool:
        """True while `at` falls inside the quiet hours, in the user's own time zone."""
        if not self.quiet_hours:
            return False
        zone = ZoneInfo(self.quiet_hours.get("timezone") or "UTC")
        local = at.astimezone(zone).time()
        start = time.fromisoformat(self.quiet_hours["start"])
        end = time.fromisoformat(self.quiet_hours["end"])
        if start <= end:
            return start <= local < end
        return local >= start or local < end  # spans midnight, e.g. 22:00 → 07:00


def _from_row(row: NotificationPreference | None) -> Preferences:
    stored = dict(row.channels) if row is not None else {}
    channels = {event: list(stored.get(event, default_channels(event))) for event in EVENTS}
    if row is None:
        return Preferences(channels=channels)
    return Preferences(
        channels=channels,
        quiet_hours=row.quiet_hours or None,
        email=row.email,
        chat_urls=list(row.chat_urls or []),
    )


def preferences_for_users(*, user_ids: Iterable[object]) -> dict[object, Preferences]:
    """user id → effective preferences (defaults for users who never saved any); one query."""
    ids = list(user_ids)
    rows = {row.user_id: row for row in NotificationPreference.objects.filter(user_id__in=ids)}
    return {user_id: _from_row(rows.get(user_id)) for user_id in ids}


def preferences_as_json(prefs: Preferences) -> dict[str, Any]:
    return {
        "channels": prefs.channels,
        "quiet_hours": prefs.quiet_hours,
        "email": prefs.email,
        "chat_urls": prefs.chat_urls,
    }


def _clean_channels(value: Any, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        errors["channels"] = ["An object: event name → list of channels."]
        return {}
    cleaned: dict[str, list[str]] = {}
    for event, chosen in value.items():
        if event not in EVENTS:
            errors[f"channels.{event}"] = [f"Unknown event; one of {', '.join(EVENTS)}."]
            continue
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            errors[f"channels.{event}"] = ["A list of channel names."]
            continue
        unknown = [c for c in chosen if c not in CHANNELS]
        if unknown:
            errors[f"channels.{event}"] = [
                f"Unknown channel {unknown[0]!r}; one of {', '.join(CHANNELS)}."
            ]
            continue
        cleaned[event] = [c for c in CHANNELS if c in chosen]  # stable order, no repeats
    return cleaned


def _clean_hhmm(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 5:
        raise ValueError
    return time.fromisoformat(value).strftime("%H:%M")


def _clean_quiet_hours(value: Any, errors: dict[str, list[str]]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors["quiet_hours"] = [
            'An object {"start": "22:00", "end": "07:00", "timezone"} or null.'
        ]
        return None
    out: dict[str, str] = {}
    for name in ("start", "end"):
        try:
            out[name] = _clean_hhmm(value.get(name))
        except (ValueError, TypeError):
            errors[f"quiet_hours.{name}"] = ["A time as HH:MM (24-hour)."]
    zone = value.get("timezone", "UTC")
    try:
        if not isinstance(zone, str) or not zone:
            raise ValueError
        ZoneInfo(zone)
        out["timezone"] = zone
    except (ZoneInfoNotFoundError, ValueError):
        errors["quiet_hours.timezone"] = ["An IANA time zone name, e.g. Europe/Berlin."]
    if out.get("start") and out.get("start") == out.get("end"):
        errors["quiet_hours.end"] = ["The end must differ from the start."]
    return out


def _clean_chat_urls(value: Any, errors: dict[str, list[str]]) -> list[str]:
    import apprise

    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        errors["chat_urls"] = ["A list of apprise URLs (e.g. tgram://token/chat_id)."]
        return []
    if len(value) > MAX_CHAT_URLS:
        errors["chat_urls"] = [f"At most {MAX_CHAT_URLS} URLs."]
        return []
    for index, url in enumerate(value):
        if apprise.Apprise.instantiate(url) is None:
            errors[f"chat_urls.{index}"] = ["Not a URL apprise understands."]
    return list(value)


def preferences_clean(data: Any) -> dict[str, Any]:
    """Validate a PUT body; ValidationFailed names every bad field. Missing keys keep
    their stored value (the caller merges)."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - {"channels", "quiet_hours", "email", "chat_urls"})
    for name in unknown:
        errors[name] = ["Unknown field."]
    cleaned: dict[str, Any] = {}
    if "channels" in data:
        cleaned["channels"] = _clean_channels(data["channels"], errors)
    if "quiet_hours" in data:
        cleaned["quiet_hours"] = _clean_quiet_hours(data["quiet_hours"], errors)
    if "email" in data:
        email = data["email"]
        if email in (None, ""):
            cleaned["email"] = ""
        elif not isinstance(email, str):
            errors["email"] = ["An email address or empty."]
        else:
            try:
                validate_email(email)
                cleaned["email"] = email
            except DjangoValidationError:
                errors["email"] = ["Enter a valid email address."]
    if "chat_urls" in data:
        cleaned["chat_urls"] = _clean_chat_urls(data["chat_urls"], errors)
    if errors:
        raise ValidationFailed("Some preferences are not valid.", fields=errors)
    return cleaned
