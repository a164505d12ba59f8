"""Modifying an order in place: the id stays, `version` goes up, a `modified` event
records old → new.

A held order (OMS-side only) changes at once. A live one changes at the venue: the request
is recorded (pending_modify) and committed, the venue is called outside any transaction,
and what it answers is applied through `order_apply_reports`. When the venue cannot be
reached the request is rolled back with an audit event and the caller gets 503
`broker_unavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, TradingAccount, User
from execution.protocol import (
    BrokerUnavailableError,
    ModifyRequest,
    PermanentBrokerError,
    ReportType,
)
from execution.services import broker_modify
from marketdata.models import Instrument
from marketdata.selectors import quote_latest
from oms_site.api import format_decimal
from oms_site.errors import BrokerUnavailable, InvalidState, RiskRejected, ValidationFailed
from oms_site.locks import lock_one
from orders.core import risk
from orders.core.lifecycle import Actor, actor_for, closed_error, order_record_event
from orders.core.placement import check_stop_side
from orders.core.publish import order_publish
from orders.core.reports import order_apply_reports
from orders.core.selectors import order_get_for_user
from orders.core.trigger_store import trigger_reprice_for_order
from orders.models import (
    TERMINAL_STATUSES,
    Order,
    OrderEventType,
    OrderSide,
    OrderStatus,
    OrderType,
)

ZERO = Decimal("0")


MODIFIABLE = ("qty", "limit_price", "stop_price", "trail_price", "trail_percent")


def _validate_modification(order: Order, instrument: Instrument, new: dict[str, Any]) -> None:
    rules = risk.InstrumentRules(
        symbol=instrument.symbol, tick_size=instrument.tick_size, lot_size=instrument.lot_size
    )
    errors = risk.FieldErrors()
    held = order.status == OrderStatus.HELD
    if "qty" in new:
        risk.check_qty(errors, "qty", new["qty"], rules)
        if not errors and new["qty"] <= order.filled_qty:
            errors.add(
                "qty",
                f"Must be above the filled quantity {format_decimal(order.filled_qty)}.",
            )
        if not errors and order.display_qty is not None and new["qty"] < order.display_qty:
            errors.add("qty", "Must not be below the display quantity.")
    if "limit_price" in new:
        if order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            errors.add("limit_price", f"A {order.type} order has no limit price.")
        else:
            risk.check_price(errors, "limit_price", new["limit_price"], rules)
    if "stop_price" in new:
        if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT):
            errors.add("stop_price", f"A {order.type} order has no stop price to change.")
        elif not held:
            errors.add("stop_price", "The stop has triggered; its stop price cannot change.")
        else:
            risk.check_price(errors, "stop_price", new["stop_price"], rules)
    trail_keys = {"trail_price", "trail_percent"} & set(new)
    if trail_keys:
        if order.type != OrderType.TRAILING_STOP:
            errors.add(next(iter(trail_keys)), f"A {order.type} order has no trail.")
        elif not held:
            errors.add(next(iter(trail_keys)), "The trailing stop has triggered already.")
        else:
            risk.check_trail(errors, new.get("trail_price"), new.get("trail_percent"), rules)
    errors.raise_if_any()


@dataclass
class _ModifyPlan:
    order: Order
    changes: dict[str, list[str | None]] = field(default_factory=dict)
    venue_request: ModifyRequest | None = None
    risk_message: str = ""


def order_modify(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    order_id: object,
    qty: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    trail_price: Decimal | None = None,
    trail_percent: Decimal | None = None,
) -> Order:
    """Modify in place: the id stays, `version` goes up, a `modified` event records old → new.

    Errors: 404 (not visible), 403 (view-only), 400 (bad values; qty not above filled_qty;
    a field the order type does not have), 409 invalid_state (terminal, or busy: being sent
    / canceled / already being modified; or the venue refused), 422 risk_rejected (the new
    values fail a limit; the order stays as it was), 503 broker_unavailable.
    """
    if user is not None:
        order_get_for_user(user=user, order_id=order_id, level="trade")
    actor = actor or actor_for(user=user, api_key=api_key)
    requested = {
        name: value
        for name, value in {
            "qty": qty,
            "limit_price": limit_price,
            "stop_price": stop_price,
            "trail_price": trail_price,
            "trail_percent": trail_percent,
        }.items()
        if value is not None
    }
    if not requested:
        raise ValidationFailed("Give at least one field to modify.")
    plan = _modify_locked(
        order_id=order_id, requested=requested, actor=actor, by_system=user is None
    )
    if plan.risk_message:
        raise RiskRejected(plan.risk_message, extra={"order_id": str(plan.order.pk)})
    if plan.venue_request is None:
        return plan.order
    try:
        reports = broker_modify(plan.venue_request)
    except (BrokerUnavailableError, PermanentBrokerError) as exc:
        _modify_abandon(order_id=plan.order.pk, actor=actor, reason=f"broker_unavailable: {exc}")
        raise BrokerUnavailable(
            f"The broker cannot be reached: {exc}", extra={"order_id": str(plan.order.pk)}
        ) from exc
    order_apply_reports(reports)
    refused = [r for r in reports if r.type == ReportType.MODIFY_REJECTED]
    order = Order.objects.get(pk=plan.order.pk)
    if refused:
        raise InvalidState(
            f"The venue refused the modification: {refused[0].reason or 'no reason given'}.",
            extra={"order_id": str(order.pk)},
        )
    return order


@transaction.atomic
def _modify_locked(
    *, order_id: object, requested: dict[str, Any], actor: Actor, by_system: bool = False
) -> _ModifyPlan:
    order = lock_one(Order.objects, pk=order_id)
    _check_modifiable(order, requested, by_system=by_system)
    instrument = Instrument.objects.select_related("exchange").get(pk=order.instrument_id)
    _validate_modification(order, instrument, requested)
    if {"trail_price", "trail_percent"} & set(requested):
        # A new trail replaces the old one entirely (exactly one of the two is set).
        requested.setdefault("trail_price", None)
        requested.setdefault("trail_percent", None)
    changes = {
        name: [
            None if getattr(order, name) is None else format_decimal(getattr(order, name)),
            None if value is None else format_decimal(value),
        ]
        for name, value in requested.items()
        if getattr(order, name) != value
    }
    plan = _ModifyPlan(order=order, changes=changes)
    if not changes:
        return plan
    account = lock_one(TradingAccount.objects, pk=order.account_id)
    decision = _modify_risk(order, account, instrument, requested)
    if not decision.ok or (decision.queue_for_open and order.status != OrderStatus.HELD):
        plan.risk_message = _modify_refused(order, actor, decision, changes)
    elif order.status == OrderStatus.HELD:
        _modify_held(order, actor, decision, requested, changes)
    else:
        _modify_at_venue(order, actor, decision, requested, changes)
        plan.venue_request = ModifyRequest(
            order_id=str(order.pk),
            account_id=str(order.account_id),
            symbol=order.symbol,
            new_qty=requested.get("qty"),
            new_limit_price=requested.get("limit_price"),
            version=order.version + 1,
            broker=order.broker or account.broker,
        )
    return plan


def _check_modifiable(order: Order, requested: dict[str, Any], *, by_system: bool) -> None:
    if order.status in TERMINAL_STATUSES:
        raise closed_error(order, "modified")
    if order.algo:
        raise InvalidState(
            "An algo parent cannot be modified; pause or cancel it and place a new one.",
            extra={"order_id": str(order.pk)},
        )
    if "qty" in requested and not by_system and (order.oco_group or order.leg_spec):
        raise ValidationFailed(
            "qty: the quantity of a contingent order follows its entry / OCO pair.",
            fields={"qty": ["Follows the entry / OCO pair; it cannot be changed by hand."]},
        )
    if not order.can_modify() or order.pending_modify:
        raise InvalidState(
            f"The order is {order.status.replace('_', ' ')}"
            + (" with a modification in flight" if order.pending_modify else "")
            + "; try again in a moment.",
            extra={"order_id": str(order.pk)},
        )


def _modify_risk(
    order: Order, account: TradingAccount, instrument: Instrument, requested: dict[str, Any]
) -> risk.RiskDecision:
    """The new values go through the same limits as a new order (not the placement
    counters); a new stop must not be crossed already."""
    new_qty = requested.get("qty", order.qty)
    draft = risk.OrderDraft(
        side=order.side,
        type=order.type,
        qty=new_qty - order.filled_qty,
        limit_price=requested.get("limit_price", order.limit_price),
        stop_price=requested.get("stop_price", order.stop_price),
        time_in_force=order.time_in_force,
    )
    own = (
        (order.qty - order.filled_qty) * (order.est_price or ZERO)
        if order.side == OrderSide.BUY
        else ZERO
    )
    ctx = risk.risk_context_build(
        account=account,
        instrument=instrument,
        draft=draft,
        quote=quote_latest(symbol=order.symbol),
        now=timezone.now(),
        exclude_order_id=order.pk,
        own_commitment=own,
        counting_checks=False,
    )
    if "stop_price" in requested:
        check_stop_side(draft, ctx.last, order.symbol)
    return risk.risk_evaluate(draft, order.symbol, ctx)


def _modify_refused(
    order: Order, actor: Actor, decision: risk.RiskDecision, changes: dict[str, Any]
) -> str:
    """Record the refusal on the order; returns the message for the caller's 422."""
    message = decision.message or "The market is closed."
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFY_REJECTED,
        actor=actor,
        data={"requested": changes, "reason": decision.reject_reason or message},
    )
    order_publish(order)
    return message


def _modify_held(
    order: Order,
    actor: Actor,
    decision: risk.RiskDecision,
    requested: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    """A held order changes at once (its trigger moves with it)."""
    for name, value in requested.items():
        setattr(order, name, value)
    order.version += 1
    if decision.est_price is not None:
        order.est_price = decision.est_price
    trigger_reprice_for_order(order=order)
    if order.type == OrderType.TRAILING_STOP:
        # The stop recomputed from the mark with the new trail is part of the change.
        old_stop = changes.get("stop_price", [None])[0]
        changes["stop_price"] = [old_stop, format_decimal(order.stop_price)]
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFIED,
        actor=actor,
        data={"changes": changes, "version": order.version},
        update_fields=[*requested, "stop_price", "version", "est_price"],
    )
    order_publish(order)


def _modify_at_venue(
    order: Order,
    actor: Actor,
    decision: risk.RiskDecision,
    requested: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    """Live at the venue: remember what was asked (sent after commit by the caller)."""
    order.pending_modify = {
        "qty": None if "qty" not in requested else format_decimal(requested["qty"]),
        "limit_price": (
            None if "limit_price" not in requested else format_decimal(requested["limit_price"])
        ),
        "est_price": None if decision.est_price is None else format_decimal(decision.est_price),
    }
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFY_REQUESTED,
        actor=actor,
        data={"requested": changes},
        update_fields=["pending_modify"],
    )


@transaction.atomic
def _modify_abandon(*, order_id: object, actor: Actor, reason: str) -> None:
    order = lock_one(Order.objects, pk=order_id)
    if order.pending_modify is None or order.status in TERMINAL_STATUSES:
        return
    order.pending_modify = None
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFY_REJECTED,
        actor=actor,
        data={"reason": reason},
        update_fields=["pending_modify"],
    )
