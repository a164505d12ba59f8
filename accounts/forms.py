"""Page forms. They parse input; the services apply the rules (same as the API)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils import timezone

from accounts import registry
from accounts.models import ACCOUNT_STATUS_TRANSITIONS, AccountStatus, TradingAccount, User
from accounts.risk_services import RISK_LIMIT_FIELDS
from oms_site.errors import ApplicationError


def apply_service_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Show a service's field errors on the form (unknown fields as form-wide errors)."""
    if not exc.fields:
        form.add_error(None, exc.message)
    for field, messages in exc.fields.items():
        form.add_error(field if field in form.fields else None, messages)


def _parse_credentials(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError("Not valid JSON.") from exc
    if not isinstance(value, dict):
        raise forms.ValidationError('A JSON object is required, e.g. {"api_key": "…"}.')
    return value


class AccountCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    broker = forms.ChoiceField(choices=())
    starting_cash = forms.DecimalField(min_value=0, max_digits=24, decimal_places=8)
    currency = forms.RegexField(
        r"^[A-Z]{3}$",
        initial="INR",
        max_length=3,
        error_messages={"invalid": "A three-letter ISO code in capitals, e.g. INR."},
    )
    credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Optional broker login as a JSON object. Stored encrypted, never shown again.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["broker"].choices = [(kind, kind) for kind in registry.broker_kinds()]

    def clean_credentials(self) -> dict[str, Any] | None:
        return _parse_credentials(self.cleaned_data.get("credentials") or "")


def status_choices(*, account: TradingAccount, user: User) -> list[tuple[str, str]]:
    """The current status and every status this user may move the account to."""
    allowed = {account.status, *ACCOUNT_STATUS_TRANSITIONS.get(account.status, ())}
    if not user.is_oms_admin and account.status != AccountStatus.ACTIVE:
        allowed.discard(AccountStatus.ACTIVE)
    return [(value, label) for value, label in AccountStatus.choices if value in allowed]


class AccountEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    status = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, account: TradingAccount, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"name": account.name, "status": account.status})
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = status_choices(account=account, user=user)


class SymbolListField(forms.CharField):
    """Allowed symbols as one comma-separated line; in Python a list, or None for any symbol.

    Shared by the account page and the back office, which would otherwise show the stored
    JSON ("null", '["ACME"]')."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Allowed symbols")
        kwargs.setdefault(
            "help_text",
            "The only symbols this account may trade, comma-separated (e.g. ACME, INFY). "
            "Empty: any symbol.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(symbol) for symbol in value)
        return "" if value is None else value

    def to_python(self, value: Any) -> list[str] | None:
        text = super().to_python(value)
        symbols = [part.strip() for part in text.split(",") if part.strip()]
        return symbols or None


class RiskLimitsForm(forms.Form):
    max_order_value = forms.DecimalField(
        required=False, min_value=0, max_digits=24, decimal_places=8
    )
    max_order_qty = forms.DecimalField(required=False, min_value=0, max_digits=20, decimal_places=8)
    max_open_orders = forms.IntegerField(required=False, min_value=0)
    max_orders_per_day = forms.IntegerField(required=False, min_value=0)
    max_orders_per_minute = forms.IntegerField(required=False, min_value=0)
    max_daily_loss = forms.DecimalField(
        required=False, min_value=0, max_digits=24, decimal_places=8
    )
    price_band_pct = forms.DecimalField(
        label="Price band (%)",
        required=False,
        min_value=0,
        max_value=100,
        max_digits=7,
        decimal_places=3,
        help_text="Max distance from the last price.",
    )
    allowed_symbols = SymbolListField()
    allow_short = forms.BooleanField(label="Allow short selling", required=False)
    kill_switch = forms.BooleanField(label="Kill switch (stop new orders)", required=False)

    @staticmethod
    def initial_from(limits: Any) -> dict[str, Any]:
        return {field: getattr(limits, field) for field in RISK_LIMIT_FIELDS}


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In UTC. Empty: never expires.",
    )

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Must be in the future.")
        return value


class BrokerConnectForm(forms.Form):
    """Open an account at a real broker: its name, the broker's credential keys (write-only,
    password inputs) and settings (base URLs, prefilled with the broker's defaults). Field
    names: `cred_<key>`, `set_<name>`; `broker_values()` gives the service's dicts."""

    name = forms.CharField(max_length=120, label="Account name")

    def __init__(self, *args: Any, spec: registry.BrokerConnectionSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        for field in spec.credentials:
            self.fields[f"cred_{field.name}"] = forms.CharField(
                label=field.label,
                required=field.required,
                help_text=field.help,
                strip=True,
                widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )
        for field in spec.settings:
            self.fields[f"set_{field.name}"] = forms.CharField(
                label=field.label,
                required=False,
                initial=field.default,
                help_text=f"{field.help} Default: {field.default}" if field.default else field.help,
                widget=forms.TextInput(attrs={"spellcheck": "false", "inputmode": "url"}),
            )

    def broker_values(self) -> tuple[dict[str, str], dict[str, str]]:
        data = self.cleaned_data
        credentials = {
            field.name: data[f"cred_{field.name}"]
            for field in self.spec.credentials
            if data.get(f"cred_{field.name}")
        }
        settings = {
            field.name: data[f"set_{field.name}"]
            for field in self.spec.settings
            if data.get(f"set_{field.name}")
        }
        return credentials, settings

    def add_service_errors(self, exc: ApplicationError) -> None:
        """The service names fields `credentials.<key>` / `settings.<name>`: shown on them."""
        for name, messages in (exc.fields or {}).items():
            if name.startswith("credentials."):
                target = "cred_" + name.split(".", 1)[1]
            elif name.startswith("settings."):
                target = "set_" + name.split(".", 1)[1]
            else:
                target = name
            self.add_error(target if target in self.fields else None, messages)
        if not exc.fields:
            self.add_error(None, exc.message)
