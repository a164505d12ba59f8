"""GTT (good-till-triggered) instructions: create, modify, cancel, fire, expire (API.md § GTT).

Firing is orders/automation/gtt_fire.py.

A GTT holds one (`single`) or two (`oco`: lower, upper) price triggers, each with the order
it places. A trigger's direction comes from the last price when the GTT is created (or
modified): a value below it fires on `last <= value`, above it on `last >= value` (equal
is refused). The triggers are `Trigger` rows (kind `gtt`) in the same index as held
orders' stops, so ticks find them the same way (orders/automation/ticks.py).

Firing exactly once: the GTT row is locked, the trigger is taken with a compare-and-set,
the other trigger of an oco is cancelled, the GTT becomes `triggered` and its order is
placed through `order_place` (every risk check) under the client_order_id
`gtt-<id>-<leg>` — all in one transaction. A placement the risk checks refuse is stored as
a rejected order and marks the GTT `rejected` with the reason (so does a venue rejecting
the order later). Every change appends a GttEvent and pushes `gtt.updated` on channel
`gtt` after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, TradingAccount, User
from marketdata.models import Instrument
from marketdata.selectors import quote_latest
from notifications.services import publish
from oms_site.api import format_decimal
from oms_site.errors import InvalidState, ValidationFailed
from oms_site.locks import lock_one
from oms_site.parsing import InputError, decimal_from_input
from orders.automation.notify import gtt_event_notify
from orders.automation.selectors import gtt_get_for_user
from orders.automation.serializers import GttSerializer
from orders.core import risk
from orders.core.lifecycle import Actor, actor_for, actor_system
from orders.core.placement import account_for_trading, instrument_for_trading, instrument_rules
from orders.core.values import json_value
from orders.models import (
    Gtt,
    GttEvent,
    GttStatus,
    GttType,
    OrderSide,
    OrderType,
    Product,
    Trigger,
    TriggerDirection,
    TriggerKind,
    TriggerStatus,
)

logger = logging.getLogger(__name__)

GTT_ACTOR = actor_system("gtt")
EXPIRY_ACTOR = actor_system("expiry")
DEFAULT_EXPIRY = timedelta(days=365)
GTT_CHANNEL = "gtt"


@dataclass(frozen=True, slots=True)
class GttLegOrder:
    side: str
    qty: Decimal
    type: str
    limit_price: Decimal | None
    product: str = Product.DELIVERY

    def as_json(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "qty": format_decimal(self.qty),
            "type": self.type,
            "limit_price": None if self.limit_price is None else format_decimal(self.limit_price),
            "product": self.product,
        }


# --- validation ---------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else decimal_from_input(value)
    except InputError:
        return None


def _clean_values(
    errors: risk.FieldErrors, trigger_type: str, raw: Any, rules: risk.InstrumentRules
) -> list[Decimal]:
    want = 1 if trigger_type == GttType.SINGLE else 2
    if not isinstance(raw, list) or len(raw) != want:
        errors.add("trigger_values", f"A {trigger_type} GTT takes {want} trigger value(s).")
        return []
    values: list[Decimal] = []
    for index, item in enumerate(raw):
        value = _decimal(item)
        if value is None:
            errors.add(f"trigger_values.{index}", "Must be a number.")
            continue
        risk.check_price(errors, f"trigger_values.{index}", value, rules)
        values.append(value)
    if len(values) == 2 and values[0] >= values[1]:
        errors.add("trigger_values", "An oco GTT lists the lower trigger first, then the upper.")
    return values


def _clean_orders(
    errors: risk.FieldErrors, trigger_type: str, raw: Any, rules: risk.InstrumentRules
) -> list[GttLegOrder]:
    want = 1 if trigger_type == GttType.SINGLE else 2
    if not isinstance(raw, list) or len(raw) != want:
        errors.add("orders", f"A {trigger_type} GTT takes {want} order(s), one per trigger.")
        return []
    legs: list[GttLegOrder] = []
    for index, item in enumerate(raw):
        name = f"orders.{index}"
        if not isinstance(item, dict):
            errors.add(name, "Must be an object with side, qty, type, limit_price.")
            continue
        for key in sorted(set(item) - {"side", "qty", "type", "limit_price", "product"}):
            errors.add(f"{name}.{key}", "Unknown field.")
        side, order_type = item.get("side"), item.get("type", OrderType.LIMIT)
        product = item.get("product") or Product.DELIVERY
        if side not in OrderSide.values:
            errors.add(f"{name}.side", "Use buy or sell.")
        if order_type not in (OrderType.LIMIT, OrderType.MARKET):
            errors.add(f"{name}.type", "Use limit or market.")
        if product not in Product.values:
            errors.add(f"{name}.product", "Use intraday or delivery.")
        qty = _decimal(item.get("qty"))
        if qty is None:
            errors.add(f"{name}.qty", "Must be a number.")
        else:
            risk.check_qty(errors, f"{name}.qty", qty, rules)
        limit = _decimal(item.get("limit_price"))
        if order_type == OrderType.LIMIT:
            if limit is None:
                errors.add(f"{name}.limit_price", "Required for a limit order.")
            else:
                risk.check_price(errors, f"{name}.limit_price", limit, rules)
        elif item.get("limit_price") is not None:
            errors.add(f"{name}.limit_price", "Not used by market orders; leave it null.")
        if qty is not None:
            legs.append(GttLegOrder(side, qty, order_type, limit, product))
    return legs


def _last_price(instrument: Instrument) -> Decimal:
    quote = quote_latest(symbol=instrument.symbol)
    last = getattr(quote, "last", None)
    if last is None:
        raise ValidationFailed(
            f"symbol: there is no last price for {instrument.symbol} yet to place triggers "
            "against.",
            fields={"symbol": ["No last price yet."]},
        )
    return last


def _check_sides(values: list[Decimal], last: Decimal) -> None:
    errors = risk.FieldErrors()
    text = format_decimal(last)
    for index, value in enumerate(values):
        if value == last:
            errors.add(
                f"trigger_values.{index}", f"Equals the last price {text}: it would fire at once."
            )
    if len(values) == 2 and not values[0] < last < values[1]:
        errors.add(
            "trigger_values",
            f"An oco GTT needs one trigger below and one above the last price {text}.",
        )
    errors.raise_if_any()


def _clean_expiry(expires_at: datetime | None, now: datetime) -> datetime:
    if expires_at is None:
        return now + DEFAULT_EXPIRY
    if expires_at <= now:
        raise ValidationFailed(
            "expires_at: must be in the future.", fields={"expires_at": ["Must be in the future."]}
        )
    return expires_at


def _rules(instrument: Instrument) -> risk.InstrumentRules:
    return instrument_rules(instrument)


def _direction(value: Decimal, last: Decimal) -> str:
    return TriggerDirection.DOWN if value < last else TriggerDirection.UP


# --- writing helpers ------------------------------------------------------------------------------


def gtt_event(gtt: Gtt, event_type: str, actor: Actor, data: dict[str, Any] | None = None) -> None:
    gtt.event_seq += 1
    GttEvent.objects.create(
        gtt=gtt,
        seq=gtt.event_seq,
        type=event_type,
        at=timezone.now(),
        actor=actor.as_json(),
        data=json_value(dict(data or {})),
    )
    if event_type in ("triggered", "rejected"):
        gtt_event_notify(gtt=gtt, event_type=event_type, data=dict(data or {}))


def gtt_save(gtt: Gtt, *fields: str) -> None:
    gtt.updated_at = timezone.now()
    gtt.save(update_fields=sorted({"updated_at", "event_seq", *fields}))


def gtt_publish(gtt: Gtt) -> None:
    publish(
        channel=GTT_CHANNEL,
        event="gtt.updated",
        data=GttSerializer(gtt).data,
        account_id=gtt.account_id,
    )


def _create_triggers(gtt: Gtt, values: list[Decimal], last: Decimal) -> None:
    Trigger.objects.bulk_create(
        [
            Trigger(
                gtt=gtt,
                leg=index,
                symbol=gtt.symbol,
                kind=TriggerKind.GTT,
                direction=_direction(value, last),
                price=value,
                tick_size=gtt.instrument.tick_size,
            )
            for index, value in enumerate(values)
        ]
    )


def gtt_triggers_cancel(gtt: Gtt) -> int:
    return Trigger.objects.filter(gtt=gtt, status=TriggerStatus.ACTIVE).update(
        status=TriggerStatus.CANCELED
    )


def _account_for(user: User | None, account_id: object) -> TradingAccount:
    return account_for_trading(user=user, account_id=account_id)


def _instrument_for(symbol: str) -> Instrument:
    return instrument_for_trading(symbol)


# --- create / modify / cancel ---------------------------------------------------------------------


def gtt_create(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    account_id: object,
    symbol: str,
    trigger_type: str,
    trigger_values: list[Any],
    orders: list[dict[str, Any]],
    expires_at: datetime | None = None,
    tag: str = "",
) -> Gtt:
    """Create an active GTT. 400 validation_error naming the field (trigger values off the
    tick grid or on the wrong side of the last price, bad orders, no last price, an account
    the caller cannot see), 403 for a view-only account."""
    now = timezone.now()
    account = _account_for(user, account_id)
    instrument = _instrument_for(symbol)
    errors = risk.FieldErrors()
    if trigger_type not in GttType.values:
        errors.add("trigger_type", "Use single or oco.")
        errors.raise_if_any()
    rules = _rules(instrument)
    values = _clean_values(errors, trigger_type, trigger_values, rules)
    legs = _clean_orders(errors, trigger_type, orders, rules)
    errors.raise_if_any()
    expiry = _clean_expiry(expires_at, now)
    last = _last_price(instrument)
    _check_sides(values, last)
    actor = actor or actor_for(user=user, api_key=api_key)
    with transaction.atomic():
        gtt = Gtt.objects.create(
            account=account,
            instrument=instrument,
            symbol=instrument.symbol,
            trigger_type=trigger_type,
            trigger_values=[format_decimal(v) for v in values],
            orders=[leg.as_json() for leg in legs],
            last_price=last,
            expires_at=expiry,
            tag=tag,
            created_by=user if user is not None and user.pk else None,
            created_at=now,
            updated_at=now,
        )
        _create_triggers(gtt, values, last)
        gtt_event(gtt, "created", actor, {"trigger_values": values, "last_price": last})
        gtt_save(gtt)
        gtt_publish(gtt)
    return gtt


def _locked_active(gtt_id: object, action: str) -> Gtt:
    gtt = lock_one(Gtt.objects.select_related("instrument"), pk=gtt_id)
    if gtt.status != GttStatus.ACTIVE:
        raise InvalidState(f"The GTT is {gtt.status}; only an active GTT can be {action}.")
    return gtt


def gtt_modify(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    gtt_id: object,
    trigger_values: list[Any] | None = None,
    orders: list[dict[str, Any]] | None = None,
    expires_at: datetime | None = None,
) -> Gtt:
    """Change an active GTT's triggers, orders or expiry (409 invalid_state otherwise).
    New trigger directions are judged against the last price now."""
    if user is not None:
        gtt_get_for_user(user=user, gtt_id=gtt_id, level="trade")
    if trigger_values is None and orders is None and expires_at is None:
        raise ValidationFailed("Give trigger_values, orders or expires_at to change.")
    actor = actor or actor_for(user=user, api_key=api_key)
    now = timezone.now()
    with transaction.atomic():
        gtt = _locked_active(gtt_id, "modified")
        rules = _rules(gtt.instrument)
        errors = risk.FieldErrors()
        changes: dict[str, Any] = {}
        if trigger_values is not None:
            values = _clean_values(errors, gtt.trigger_type, trigger_values, rules)
        if orders is not None:
            legs = _clean_orders(errors, gtt.trigger_type, orders, rules)
        errors.raise_if_any()
        if expires_at is not None:
            expiry = _clean_expiry(expires_at, now)
            changes["expires_at"] = [gtt.expires_at, expiry]
            gtt.expires_at = expiry
        if orders is not None:
            new_orders = [leg.as_json() for leg in legs]
            changes["orders"] = [gtt.orders, new_orders]
            gtt.orders = new_orders
        if trigger_values is not None:
            last = _last_price(gtt.instrument)
            _check_sides(values, last)
            new_values = [format_decimal(v) for v in values]
            changes["trigger_values"] = [gtt.trigger_values, new_values]
            gtt.trigger_values = new_values
            gtt.last_price = last
            gtt_triggers_cancel(gtt)
            _create_triggers(gtt, values, last)
        gtt_event(gtt, "modified", actor, {"changes": changes})
        gtt_save(gtt, "expires_at", "orders", "trigger_values", "last_price")
        gtt_publish(gtt)
    return gtt


def _close(gtt: Gtt, status: str, event_type: str, actor: Actor, reason: str = "") -> None:
    gtt_triggers_cancel(gtt)
    gtt.status = status
    if reason:
        gtt.reason = reason[:300]
    gtt_event(gtt, event_type, actor, {"reason": reason} if reason else None)
    gtt_save(gtt, "status", "reason")
    gtt_publish(gtt)


def gtt_cancel(
    *, user: User | None, api_key: ApiKey | None = None, actor: Actor | None = None, gtt_id: object
) -> Gtt:
    """DELETE: an active GTT becomes `cancelled` (409 invalid_state otherwise)."""
    if user is not None:
        gtt_get_for_user(user=user, gtt_id=gtt_id, level="trade")
    actor = actor or actor_for(user=user, api_key=api_key)
    with transaction.atomic():
        gtt = _locked_active(gtt_id, "cancelled")
        _close(gtt, GttStatus.CANCELLED, "cancelled", actor)
    return gtt


def gtt_disable(
    *, actor: Actor, gtt_id: object, reason: str = "disabled by the back office"
) -> Gtt:
    """Back office: take an active GTT out of service (`disabled`)."""
    with transaction.atomic():
        gtt = _locked_active(gtt_id, "disabled")
        _close(gtt, GttStatus.DISABLED, "disabled", actor, reason)
    return gtt


def gtts_expire_due(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """The beat job: active GTTs past `expires_at` become `expired`."""
    now = now or timezone.now()
    due = list(
        Gtt.objects.filter(status=GttStatus.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    )
    expired = []
    for gtt_id in due:
        with transaction.atomic():
            gtt = lock_one(Gtt.objects, pk=gtt_id)
            if gtt.status != GttStatus.ACTIVE or gtt.expires_at > now:
                continue
            _close(gtt, GttStatus.EXPIRED, "expired", EXPIRY_ACTOR)
        expired.append(str(gtt_id))
    return expired
