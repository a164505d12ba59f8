"""The write API of pnl. Other apps import from here; bodies live in the modules named.

fill_record(*, order_id, account_id, instrument_id, symbol, side, qty, price, fee=0,
            liquidity=None, ts, report_id, trade_id="", tag="") -> Fill
position_rebuild(*, account_id, instrument_id=None, write=True) -> RebuildResult
positions_close(*, user, api_key=None, account_id, symbol=None) -> CloseResult
pnl_snapshot_take(*, day=None, account_id=None, now=None) -> SnapshotResult
reconcile_positions(*, account_id, now=None) -> ReconcileResult
reconciliation_alert_resolve(*, alert_id, actor, note="") -> ReconciliationAlert
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from pnl.booking import fill_book, to_decimal
from pnl.closing import CloseResult, positions_close
from pnl.models import Fill
from pnl.rebuild import RebuildResult, position_rebuild
from pnl.reconcile import ReconcileResult, reconcile_positions, reconciliation_alert_resolve
from pnl.snapshots import SnapshotResult, pnl_snapshot_take

ZERO = Decimal("0")

__all__ = [
    "CloseResult",
    "RebuildResult",
    "ReconcileResult",
    "SnapshotResult",
    "fill_record",
    "pnl_snapshot_take",
    "position_rebuild",
    "positions_close",
    "reconcile_positions",
    "reconciliation_alert_resolve",
]


def fill_record(
    *,
    order_id: object,
    account_id: object,
    instrument_id: object,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal = ZERO,
    liquidity: str | None = None,
    ts: datetime,
    report_id: str,
    trade_id: str = "",
    tag: str = "",
) -> Fill:
    """Book one execution: the fill row, its FIFO lots and realized matches, the position,
    and the account's cash, all in this transaction, then push `position.updated` on
    commit.

    Called by `orders.services.order_apply_report` inside its transaction with the order
    row locked. Lock order: order, account (caller) -> position (see pnl/booking.py).
    `report_id` is unique: a second call with the same id raises IntegrityError and, as any
    failure here, rolls back the transaction it runs in, so nothing is booked (callers
    de-duplicate reports before calling). `tag` is the order's strategy
    tag (PnL by tag). Cash: buy -= qty x price x multiplier + fee; sell += qty x price x
    multiplier - fee.
    """
    qty = to_decimal(qty, name="qty")
    price = to_decimal(price, name="price")
    fee = to_decimal(fee, name="fee")
    if qty <= 0:
        raise ValueError(f"fill qty must be positive, got {qty}")
    if price < 0:
        raise ValueError(f"fill price must not be negative, got {price}")
    if fee < 0:
        raise ValueError(f"fill fee must not be negative, got {fee}")
    if side not in ("buy", "sell"):
        raise ValueError(f"fill side must be buy or sell, got {side!r}")
    if ts.tzinfo is None:
        raise ValueError("fill ts must be time-zone aware")

    # Joins the caller's transaction without a savepoint (two statements fewer per fill):
    # any failure propagates and rolls the caller's whole transaction back.
    with transaction.atomic(savepoint=False):
        return fill_book(
            order_id=order_id,
            account_id=account_id,
            instrument_id=instrument_id,
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            fee=fee,
            liquidity=liquidity,
            ts=ts,
            report_id=report_id,
            trade_id=trade_id,
            tag=tag or "",
        )
