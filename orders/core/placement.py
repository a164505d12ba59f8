"""Pieces of a placement that concern automation: how a system placement links to other
orders (`PlacementLinks`), the re-entry rule of an order, and the fields of contingent
order classes set before the first save. Used by orders/services_place.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from oms_site.api import format_decimal
from orders.core import risk
from orders.models import LegRole, Order, OrderClass


@dataclass(frozen=True, slots=True)
class PlacementLinks:
    """How a system placement hangs together with other orders (exit legs, algo slices,
    GTT orders, re-entries) and how its risk check treats them.

    risk_exclude_ids: open orders that must not count against this one (the parent whose
    quantity a slice is part of; the OCO sibling a stop-loss replaces).
    own_commitment: buying power those excluded orders hold that this one may use.
    """

    parent_id: object = None
    leg_role: str = ""
    oco_group: object = None
    gtt_id: object = None
    reentry_of_id: object = None
    reentry_attempt: int = 0
    counting_checks: bool = True
    risk_exclude_ids: tuple = ()
    own_commitment: Decimal = Decimal("0")


MAX_REENTRIES = 10


def _check_reentry(reentry: dict | None, draft: risk.OrderDraft) -> None:
    """`reentry`: {"max_retries": 1..10, "reprice_ticks": 0..1000} (re-entry of a rejected
    entry order; re-pricing needs a limit price to move)."""
    if reentry is None:
        return
    errors = risk.FieldErrors()
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


def _leg_json(spec: dict | None) -> dict | None:
    if spec is None:
        return None
    return {key: (None if value is None else format_decimal(value)) for key, value in spec.items()}


def _apply_class_fields(order: Order, draft: risk.OrderDraft, reentry: dict | None) -> None:
    """Fields of contingent classes and re-entry, set before the first save."""
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
    if reentry is not None:
        order.reentry_max = reentry["max_retries"]
        order.reentry_ticks = reentry.get("reprice_ticks", 0)
