"""Reconciliation's reads of a real broker: its open orders and recent fills compared with
OMS's orders, and what the broker did outside OMS handed to the external sink.

pnl/reconcile.py calls `broker_orders_check` for every account at a real broker (on start of
the stream runner, after each stream reconnect and every minute). The comparison itself is
`orders_compare`, pure: an order OMS holds open that the broker does not (or the reverse),
or whose filled quantity differs, is a difference — unless it changed within `grace_s`
(updates may be on their way). Orders and fills the broker has that OMS never placed go to
`execution.registry.emit_external`; nobody importing them (no sink registered) makes them a
difference too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from execution.connections import connected_adapter
from execution.protocol import BrokerFillView, BrokerOrderView
from execution.registry import emit_external
from execution.services import broker_caller

GRACE = timedelta(seconds=60)
OPEN_STATUSES = frozenset({"pending_new", "new", "partially_filled", "pending_cancel", "held"})
TERMINAL_STATUSES = frozenset({"filled", "canceled", "rejected", "expired"})


@dataclass(frozen=True)
class OurOrder:
    """An order as OMS holds it (orders/ provides these through pnl.registry)."""

    order_id: str
    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    status: str
    updated_at: datetime


@dataclass(frozen=True)
class OrderDifference:
    ref: str  # our order id, or the broker's id of an order OMS does not know
    symbol: str
    ours: Decimal  # filled quantity in OMS (0 when OMS has no such order)
    theirs: Decimal  # filled quantity at the broker (0 when the broker has none)
    detail: str  # in words


@dataclass
class BrokerOrdersCheck:
    differences: list[OrderDifference] = field(default_factory=list)
    external_orders: list[BrokerOrderView] = field(default_factory=list)
    external_fills: list[BrokerFillView] = field(default_factory=list)
    imported: bool = False  # the external ones were handed to a sink


def _settled(order: OurOrder, now: datetime, grace: timedelta) -> bool:
    return now - order.updated_at >= grace


def orders_compare(
    *,
    ours: Iterable[OurOrder],
    theirs: Iterable[BrokerOrderView],
    now: datetime,
    grace: timedelta = GRACE,
) -> tuple[list[OrderDifference], list[BrokerOrderView]]:
    """(differences, the broker's orders OMS never placed). `ours`: OMS's open orders of the
    account plus any of its orders the broker names; `theirs`: the broker's open and recent
    orders."""
    mine = {order.order_id: order for order in ours}
    differences: list[OrderDifference] = []
    external: list[BrokerOrderView] = []
    seen: set[str] = set()
    for order in theirs:
        our = mine.get(order.client_order_id) if order.client_order_id else None
        if our is None:
            if order.status in OPEN_STATUSES or order.filled_qty:
                external.append(order)
            continue
        seen.add(our.order_id)
        if not _settled(our, now, grace):
            continue
        if order.status in OPEN_STATUSES and our.status in TERMINAL_STATUSES:
            differences.append(
                _diff(our, order, f"Open at the broker ({order.status}), {our.status} in OMS.")
            )
        elif order.status in TERMINAL_STATUSES and our.status in OPEN_STATUSES:
            differences.append(
                _diff(our, order, f"{order.status.capitalize()} at the broker, open in OMS.")
            )
        elif order.filled_qty != our.filled_qty:
            differences.append(
                _diff(
                    our,
                    order,
                    f"Filled {order.filled_qty.normalize():f} at the broker, "
                    f"{our.filled_qty.normalize():f} in OMS.",
                )
            )
    for our in mine.values():
        if our.order_id in seen or our.status not in OPEN_STATUSES:
            continue
        if _settled(our, now, grace):
            differences.append(
                OrderDifference(
                    ref=our.order_id,
                    symbol=our.symbol,
                    ours=our.filled_qty,
                    theirs=Decimal("0"),
                    detail="Open in OMS, unknown to the broker.",
                )
            )
    return differences, external


def _diff(our: OurOrder, order: BrokerOrderView, detail: str) -> OrderDifference:
    return OrderDifference(
        ref=our.order_id,
        symbol=our.symbol,
        ours=our.filled_qty,
        theirs=order.filled_qty,
        detail=detail,
    )


OursSource = Callable[..., Iterable[OurOrder]]


def broker_orders_check(
    *,
    account_id: str,
    broker: str,
    ours: OursSource | None,
    now: datetime,
    fills_since: datetime | None = None,
) -> BrokerOrdersCheck | None:
    """Read the broker's orders and fills of the account and compare them with ours (`ours`:
    callable(*, account_id, client_order_ids) → OMS's open orders plus those ids). None when
    the account's broker is not a real one. Broker errors propagate (the task reports them)."""
    adapter = connected_adapter(broker)
    if adapter is None:
        return None
    caller = broker_caller(broker=broker, account_id=account_id)
    theirs = caller.call(
        lambda: adapter.broker_orders(account_id=account_id, since=None), what="broker orders"
    )
    fills = caller.call(
        lambda: adapter.broker_fills(account_id=account_id, since=fills_since), what="fills"
    )
    ids = sorted({order.client_order_id for order in theirs if order.client_order_id})
    our_orders = list(ours(account_id=account_id, client_order_ids=ids)) if ours else []
    known = {order.order_id for order in our_orders}
    if ours is None:
        # Without OMS's side, an order carrying a client id may be ours: only the broker's
        # own orders (no client id) can be told apart.
        ours_at_broker = {o.broker_order_id for o in theirs if o.client_order_id}
        theirs = [order for order in theirs if not order.client_order_id]
    else:
        ours_at_broker = {o.broker_order_id for o in theirs if o.client_order_id in known}
    differences, external = orders_compare(ours=our_orders, theirs=theirs, now=now)
    external_ids = {order.broker_order_id for order in external}

    def is_external(fill: BrokerFillView) -> bool:
        if fill.broker_order_id in external_ids:
            return True
        if fill.broker_order_id in ours_at_broker:
            return False
        if fill.client_order_id:
            return ours is not None and fill.client_order_id not in known
        return True

    external_fills = [fill for fill in fills if is_external(fill)]
    check = BrokerOrdersCheck(
        differences=differences, external_orders=external, external_fills=external_fills
    )
    check.imported = emit_external(account_id=account_id, orders=external, fills=external_fills)
    if not check.imported:
        check.differences.extend(_unexplained(external, external_fills))
    return check


def _unexplained(
    orders: list[BrokerOrderView], fills: list[BrokerFillView]
) -> list[OrderDifference]:
    rows = [
        OrderDifference(
            ref=order.broker_order_id,
            symbol=order.symbol,
            ours=Decimal("0"),
            theirs=order.filled_qty,
            detail=(
                f"{order.side.capitalize()} {order.qty.normalize():f} {order.symbol} "
                f"({order.status}) at the broker was not placed by OMS and was not imported."
            ),
        )
        for order in orders
    ]
    listed = {order.broker_order_id for order in orders}
    for fill in fills:
        if fill.broker_order_id in listed:
            continue
        rows.append(
            OrderDifference(
                ref=fill.broker_order_id or fill.trade_id,
                symbol=fill.symbol,
                ours=Decimal("0"),
                theirs=fill.qty,
                detail=(
                    f"A {fill.side} fill of {fill.qty.normalize():f} {fill.symbol} at the "
                    "broker is unknown to OMS and was not imported."
                ),
            )
        )
    return rows
