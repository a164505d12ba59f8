"""The automation wing's part in placing an order (placement extensions of
orders/core/hooks.py): contingent order classes (bracket / oco / oto), execution algos and
the re-entry rule of a rejected entry."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from marketdata.models import Instrument
from oms_site.api import format_decimal
from orders.automation.algo_runner import enqueue_algo_step
from orders.automation.algo_schedule import algo_plan
from orders.automation.classes import check_algo, check_contingent_prices, check_order_class
from orders.automation.contingent import bracket_legs_create, oco_stop_leg_create
from orders.core.hooks import PlacementExtension
from orders.core.lifecycle import Actor
from orders.core.risk import RiskDecision
from orders.core.validation import FieldErrors, InstrumentRules, OrderDraft
from orders.models import LegRole, Order, OrderClass, OrderStatus

MAX_REENTRIES = 10


# --- contingent order classes -----------------------------------------------------------------


def _leg_json(spec: dict | None) -> dict | None:
    if spec is None:
        return None
    return {key: (None if value is None else format_decimal(value)) for key, value in spec.items()}


def _contingent_market(draft: OrderDraft, last: Decimal | None) -> None:
    if draft.order_class != OrderClass.SIMPLE:
        check_contingent_prices(draft, last)


def _contingent_fields(*, order: Order, draft: OrderDraft, **_: Any) -> None:
    """The legs' specification, set before the first save."""
    if draft.order_class in (OrderClass.BRACKET, OrderClass.OTO):
        order.leg_spec = {
            "take_profit": _leg_json(draft.take_profit),
            "stop_loss": _leg_json(draft.stop_loss),
        }
    elif draft.order_class == OrderClass.OCO:
        # The order itself is the take-profit limit; its stop-loss leg is its sibling, and
        # the two together cover `pair_qty` once.
        order.limit_price = draft.take_profit["limit_price"]
        order.leg_role = LegRole.TAKE_PROFIT
        order.oco_group = uuid.uuid4()
        order.leg_spec = {
            "pair_qty": format_decimal(draft.qty),
            "stop_loss": _leg_json(draft.stop_loss),
        }


def _contingent_legs(*, order: Order, draft: OrderDraft, actor: Actor) -> None:
    """oco: the held stop-loss sibling; bracket / oto: the legs waiting for the entry."""
    if draft.order_class == OrderClass.OCO:
        oco_stop_leg_create(parent=order, spec=draft.stop_loss, actor=actor)
    elif draft.order_class in (OrderClass.BRACKET, OrderClass.OTO):
        bracket_legs_create(entry=order, actor=actor)


CONTINGENT = PlacementExtension(
    name="contingent",
    check=check_order_class,
    check_market=_contingent_market,
    prepare=_contingent_fields,
    created=_contingent_legs,
)


# --- re-entry ---------------------------------------------------------------------------------


def check_reentry(reentry: dict | None, draft: OrderDraft) -> None:
    """`reentry`: {"max_retries": 1..10, "reprice_ticks": 0..1000} (re-entry of a rejected
    entry order; re-pricing needs a limit price to move)."""
    if reentry is None:
        return
    errors = FieldErrors()
    if not isinstance(reentry, dict):
        errors.add("reentry", "Must be an object with max_retries and reprice_ticks.")
        errors.raise_if_any()
    for name in sorted(set(reentry) - {"max_retries", "reprice_ticks"}):
        errors.add(f"reentry.{name}", "Unknown field.")
    retries = reentry.get("max_retries")
    ticks = reentry.get("reprice_ticks", 0)
    if (
        not isinstance(retries, int)
        or isinstance(retries, bool)
        or not 1 <= retries <= MAX_REENTRIES
    ):
        errors.add("reentry.max_retries", f"A whole number from 1 to {MAX_REENTRIES}.")
    if not isinstance(ticks, int) or isinstance(ticks, bool) or not 0 <= ticks <= 1000:
        errors.add("reentry.reprice_ticks", "A whole number from 0 to 1000.")
    elif ticks and draft.limit_price is None:
        errors.add("reentry.reprice_ticks", "Re-pricing needs a limit price.")
    if draft.algo is not None or draft.order_class != "simple":
        errors.add("reentry", "Re-entry is for simple orders.")
    errors.raise_if_any()


def _reentry_request(draft: OrderDraft, extras: dict[str, Any]) -> None:
    check_reentry(extras.get("reentry"), draft)


def _reentry_fields(*, order: Order, extras: dict[str, Any], **_: Any) -> None:
    reentry = extras.get("reentry")
    if reentry is not None:
        order.reentry_max = reentry["max_retries"]
        order.reentry_ticks = reentry.get("reprice_ticks", 0)


REENTRY = PlacementExtension(
    name="reentry", check_request=_reentry_request, prepare=_reentry_fields
)


# --- execution algos --------------------------------------------------------------------------


def _algo_check(errors: FieldErrors, draft: OrderDraft, rules: InstrumentRules) -> None:
    if draft.algo is not None:
        check_algo(errors, draft, rules)


def _algo_decide(draft: OrderDraft, decision: RiskDecision, symbol: str) -> RiskDecision:
    """An algo starts only while its market is open (it never waits for the open)."""
    if not (decision.ok and decision.queue_for_open and draft.algo is not None):
        return decision
    return dataclasses.replace(
        decision,
        ok=False,
        code="market_closed",
        message=f"The market for {symbol} is closed; an algo starts only while it is open.",
        queue_for_open=False,
    )


def _algo_plan(
    *,
    order: Order,
    draft: OrderDraft,
    decision: RiskDecision,
    instrument: Instrument,
    now: datetime,
    **_: Any,
) -> None:
    if decision.ok and draft.algo is not None:
        # The parent never goes to a venue: it is working from the start.
        order.status = OrderStatus.NEW
        order.accepted_at = now
        algo_plan(order=order, raw=draft.algo, instrument=instrument, now=now)


def _algo_start(order: Order) -> bool:
    if not order.algo:
        return False
    enqueue_algo_step(order.pk)
    return True


ALGO = PlacementExtension(
    name="algo", check=_algo_check, decide=_algo_decide, prepare=_algo_plan, start=_algo_start
)
