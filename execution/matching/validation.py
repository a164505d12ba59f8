"""Input checks for the order book. Each returns a short reason code, or None when valid.

Reason codes are part of the public contract (``ExecutionResult.reject_reason``):
``invalid_order_id``, ``duplicate_order_id``, ``invalid_owner``, ``invalid_side``,
``invalid_type``, ``invalid_tif``, ``invalid_qty``, ``invalid_price``,
``market_order_with_price``, ``invalid_display_qty``, ``iceberg_must_rest`` (submit);
``invalid_qty``, ``invalid_price``, ``qty_not_above_filled`` (modify).
``load_resting`` additionally uses ``not_a_resting_limit_order``, ``invalid_filled_qty``,
``invalid_visible_qty`` and ``would_cross_book`` in its ValueError message.
"""

from __future__ import annotations

from decimal import Decimal

from execution.matching.types import ORDER_TYPES, RESTING_TIFS, SIDES, TIMES_IN_FORCE, ZERO, Order


def _positive_decimal(value: object) -> bool:
    # Floats/ints are refused on purpose: callers must hand over exact Decimals.
    return isinstance(value, Decimal) and value.is_finite() and value > ZERO


def new_order_problem(order: Order, live_orders: dict[str, Order]) -> str | None:
    """Why ``order`` cannot be accepted as a new incoming order, or None."""
    order_id = order.order_id
    if not isinstance(order_id, str) or not order_id:
        return "invalid_order_id"
    if not isinstance(order.owner, str) or not order.owner:
        return "invalid_owner"
    if order.side not in SIDES:
        return "invalid_side"
    if order.type not in ORDER_TYPES:
        return "invalid_type"
    if order.tif not in TIMES_IN_FORCE:
        return "invalid_tif"
    if not _positive_decimal(order.qty):
        return "invalid_qty"
    if order.type == "limit":
        if not _positive_decimal(order.price):
            return "invalid_price"
    elif order.price is not None:
        return "market_order_with_price"
    if order.display_qty is not None:
        if not _positive_decimal(order.display_qty):
            return "invalid_display_qty"
        if order.type == "market" or order.tif not in RESTING_TIFS:
            return "iceberg_must_rest"
    if order_id in live_orders:
        return "duplicate_order_id"
    return None


def modify_problem(order: Order, new_qty: Decimal | None, new_price: Decimal | None) -> str | None:
    """Why a modify of resting ``order`` must be rejected, or None."""
    if new_qty is not None:
        if not _positive_decimal(new_qty):
            return "invalid_qty"
        if new_qty <= order.filled_qty:
            return "qty_not_above_filled"
    if new_price is not None and not _positive_decimal(new_price):
        return "invalid_price"
    return None


def resting_problem(
    order: Order,
    filled_qty: Decimal,
    visible_qty: Decimal | None,
    live_orders: dict[str, Order],
) -> str | None:
    """Why ``order`` cannot be loaded as a resting order during a rebuild, or None."""
    problem = new_order_problem(order, live_orders)
    if problem is not None:
        return problem
    if order.type != "limit" or order.tif not in RESTING_TIFS:
        return "not_a_resting_limit_order"
    if not isinstance(filled_qty, Decimal) or not filled_qty.is_finite():
        return "invalid_filled_qty"
    if filled_qty < ZERO or filled_qty >= order.qty:
        return "invalid_filled_qty"
    if visible_qty is not None:
        remaining = order.qty - filled_qty
        display = order.display_qty
        full_slice = remaining if display is None or display > remaining else display
        if not _positive_decimal(visible_qty) or visible_qty > full_slice:
            return "invalid_visible_qty"
        if display is None and visible_qty != remaining:
            return "invalid_visible_qty"
    return None
