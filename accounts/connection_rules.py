"""What a real broker's connection must hold: its credential keys and its settings (URLs),
checked against the broker's spec (accounts.registry.BrokerConnectionSpec, registered by
execution). Pure checks returning errors per field (`credentials.<key>`, `settings.<name>`);
the services raise them."""

from __future__ import annotations

import re
from typing import Any

from django.views.decorators.debug import sensitive_variables

from accounts import registry

_URL_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def connection_settings_errors(
    *, broker: str, settings_in: Any
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A real broker's settings with its defaults filled in, and the errors per field
    (`settings.<name>`): only the known names, URLs of the allowed schemes only."""
    spec = registry.broker_connection_spec(broker)
    if settings_in is None:
        settings_in = {}
    if not isinstance(settings_in, dict):
        return {}, {"settings": ["Must be a JSON object."]}
    if spec is None:
        return (
            ({}, {})
            if not settings_in
            else ({}, {"settings": [f"A {broker} account takes no settings."]})
        )
    errors: dict[str, list[str]] = {}
    known = {field.name: field for field in spec.settings}
    for name in sorted(set(settings_in) - set(known)):
        errors[f"settings.{name}"] = [f"Unknown setting; known: {', '.join(known)}."]
    clean: dict[str, Any] = {}
    for name, field in known.items():
        value = settings_in.get(name)
        if value is None or value == "":
            if field.default:
                clean[name] = field.default
            elif field.required:
                errors[f"settings.{name}"] = ["This setting is required."]
            continue
        match = _URL_RE.match(value) if isinstance(value, str) else None
        if match is None or len(value) > 500:
            errors[f"settings.{name}"] = [
                "A URL is required, e.g. " + (field.default or "https://…")
            ]
        elif field.schemes and match["scheme"].lower() not in field.schemes:
            errors[f"settings.{name}"] = [f"Only {' or '.join(field.schemes)} URLs are allowed."]
        else:
            clean[name] = value.rstrip("/")
    return clean, errors


@sensitive_variables("credentials")
def connection_credentials_errors(*, broker: str, credentials: Any) -> dict[str, list[str]]:
    """What is missing or malformed in a real broker's credentials (`credentials.<key>`)."""
    spec = registry.broker_connection_spec(broker)
    if spec is None:
        return {}
    if not isinstance(credentials, dict):
        keys = ", ".join(field.name for field in spec.credentials)
        return {"credentials": [f"A JSON object with {keys}."]}
    errors: dict[str, list[str]] = {}
    known = {field.name for field in spec.credentials}
    for name in sorted(set(credentials) - known):
        errors[f"credentials.{name}"] = [f"Unknown key; known: {', '.join(sorted(known))}."]
    for field in spec.credentials:
        value = credentials.get(field.name)
        if value is None or value == "":
            if field.required:
                errors[f"credentials.{field.name}"] = ["This key is required."]
        elif not isinstance(value, str) or len(value) > 500 or value != value.strip():
            errors[f"credentials.{field.name}"] = ["Text of at most 500 characters, no spaces."]
    return errors
