"""The create form of the strategies page. It reads the page's fields into the shape
strategies.services.strategy_create takes; the rules (accounts the owner may trade, sizing,
symbols, defaults, window) are the service's, whose field errors land back on the form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from oms_site.errors import ApplicationError
from strategies.defaults import OFFSET_KINDS, ORDER_TYPES, PRODUCTS, TIMES_IN_FORCE
from strategies.models import DirectionMode
from strategies.sizing import RULE_FIELDS

SIZING_LABELS = {
    "fixed_qty": "Fixed quantity",
    "fixed_value": "Fixed value (money)",
    "equity_pct": "% of equity",
    "risk_pct": "Risk % (stop distance)",
    "multiplier": "× signal's qty",
}
OFFSET_LABELS = {"": "None", "ticks": "Ticks", "pct": "%", "price": "Price"}
AMOUNT = {"max_digits": 20, "decimal_places": 8, "min_value": Decimal("0")}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


class MemberForm(forms.Form):
    """One of the user's tradable accounts: take part or not, and its sizing rule."""

    account = forms.CharField(widget=forms.HiddenInput, max_length=64)
    include = forms.BooleanField(required=False, label="Trade")
    sizing_type = forms.ChoiceField(
        choices=[(kind, SIZING_LABELS[kind]) for kind in RULE_FIELDS], label="Sizing"
    )
    amount = forms.DecimalField(required=False, label="Amount", **AMOUNT)
    min_qty = forms.DecimalField(required=False, label="Min qty", **AMOUNT)
    max_qty = forms.DecimalField(required=False, label="Max qty", **AMOUNT)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("include") and data.get("amount") is None:
            self.add_error("amount", "Required for an account that trades.")
        return data

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        sizing = {
            "type": data["sizing_type"],
            RULE_FIELDS[data["sizing_type"]]: _plain(data["amount"]),
        }
        for bound in ("min_qty", "max_qty"):
            if data.get(bound) is not None:
                sizing[bound] = _plain(data[bound])
        return {"account": data["account"], "sizing": sizing}


MemberFormSet = forms.formset_factory(MemberForm, extra=0, max_num=500, absolute_max=500)


def member_formset(*, accounts: list[dict], data: Any = None) -> Any:
    """One row per tradable account (`accounts`: {"id", "name"}); each form carries the
    account's name for the page."""
    formset = MemberFormSet(
        data,
        prefix="m",
        initial=[{"account": a["id"], "sizing_type": "fixed_qty"} for a in accounts],
    )
    names = {a["id"]: a["name"] for a in accounts}
    for form in formset:
        form.account_name = names.get(str(form["account"].value()), form["account"].value())
    return formset


def _lines_to_symbols(text: str) -> dict[str, str]:
    symbols: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        ticker, sep, symbol = line.partition("=")
        if not sep or not ticker.strip() or not symbol.strip():
            raise forms.ValidationError(f"Line {number}: write ALERT_TICKER = OUR_SYMBOL.")
        symbols[ticker.strip()] = symbol.strip().upper()
    return symbols


class StrategyForm(forms.Form):
    name = forms.CharField(max_length=120)
    direction = forms.ChoiceField(choices=DirectionMode.choices, initial=DirectionMode.BOTH)
    order_type = forms.ChoiceField(
        choices=[(v, v.title()) for v in ORDER_TYPES], label="Order type"
    )
    time_in_force = forms.ChoiceField(
        choices=[(v, v.upper()) for v in TIMES_IN_FORCE], label="Time in force"
    )
    product = forms.ChoiceField(
        choices=[(v, v.title()) for v in PRODUCTS], initial="delivery", label="Product"
    )
    take_profit_kind = forms.ChoiceField(
        choices=[(k, OFFSET_LABELS[k]) for k in ("", *OFFSET_KINDS)],
        required=False,
        label="Take profit",
    )
    take_profit = forms.DecimalField(required=False, label="Take profit amount", **AMOUNT)
    stop_loss_kind = forms.ChoiceField(
        choices=[(k, OFFSET_LABELS[k]) for k in ("", *OFFSET_KINDS)],
        required=False,
        label="Stop loss",
    )
    stop_loss = forms.DecimalField(required=False, label="Stop loss amount", **AMOUNT)
    symbols = forms.CharField(
        required=False,
        label="Symbol mapping",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One per line: ALERT_TICKER = OUR_SYMBOL (e.g. NSE:ACME = ACME). "
        "A ticker not listed is taken as our symbol.",
    )
    window_start = forms.TimeField(
        required=False, label="Window from", widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_end = forms.TimeField(
        required=False, label="Window to", widget=forms.TimeInput(attrs={"type": "time"})
    )
    auto_exit = forms.BooleanField(required=False, label="Exit at the window's end")
    max_position = forms.DecimalField(required=False, label="Max position per symbol", **AMOUNT)
    rate_limit_per_minute = forms.IntegerField(
        required=False, min_value=1, max_value=100000, label="Signals per minute at most"
    )
    replay_window_seconds = forms.IntegerField(
        min_value=1, max_value=86400, initial=60, label="Replay window (s)"
    )

    ORDER_FIELDS = (
        "name",
        "direction",
        "order_type",
        "time_in_force",
        "product",
        "take_profit_kind",
        "take_profit",
        "stop_loss_kind",
        "stop_loss",
    )
    LIMIT_FIELDS = (
        "symbols",
        "window_start",
        "window_end",
        "auto_exit",
        "max_position",
        "rate_limit_per_minute",
        "replay_window_seconds",
    )

    def order_setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.ORDER_FIELDS]

    def limit_setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.LIMIT_FIELDS]

    def clean_symbols(self) -> dict[str, str]:
        return _lines_to_symbols(self.cleaned_data.get("symbols") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("take_profit", "stop_loss"):
            if data.get(f"{name}_kind") and data.get(name) is None:
                self.add_error(name, "Give the amount, or choose None.")
        return data

    def service_values(self) -> dict[str, Any]:
        """Everything but the accounts, as strategy_create takes it."""
        data = self.cleaned_data
        defaults: dict[str, Any] = {
            "order_type": data["order_type"],
            "time_in_force": data["time_in_force"],
            "product": data["product"],
        }
        for name in ("take_profit", "stop_loss"):
            kind = data.get(f"{name}_kind")
            if kind:
                defaults[name] = {kind: _plain(data[name])}
        return {
            "name": data["name"],
            "defaults": defaults,
            "symbols": data["symbols"],
            "direction": data["direction"],
            "max_position": data.get("max_position"),
            "window_start": data.get("window_start"),
            "window_end": data.get("window_end"),
            "auto_exit": data.get("auto_exit", False),
            "rate_limit_per_minute": data.get("rate_limit_per_minute"),
            "replay_window_seconds": data["replay_window_seconds"],
        }


def chosen_members(formset: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """The accounts entries for the service and the form of each (to place its errors)."""
    entries, forms_used = [], []
    for form in formset:
        if form.cleaned_data.get("include"):
            entries.append(form.entry())
            forms_used.append(form)
    return entries, forms_used


def apply_strategy_errors(
    exc: ApplicationError, *, form: StrategyForm, member_forms: list[Any]
) -> None:
    """A service error's fields on the page: "accounts.<n>.<key>" on that account's row,
    "defaults.take_profit…" on the take-profit amount, "symbols…" on the mapping."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for key, messages in exc.fields.items():
        parts = key.split(".")
        if parts[0] == "accounts" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(member_forms):
                target = member_forms[index]
                field = parts[2] if len(parts) > 2 else None
                if field in RULE_FIELDS.values():
                    field = "amount"
                if field not in target.fields or field == "account":
                    field = None
                target.add_error(field, messages)
                continue
            form.add_error(None, messages)
        elif parts[0] == "accounts":
            form.add_error(None, messages)
        elif parts[0] == "defaults" and len(parts) > 1 and parts[1] in form.fields:
            form.add_error(parts[1], messages)
        elif parts[0] in form.fields:
            form.add_error(parts[0], messages)
        else:
            form.add_error(None, messages)
