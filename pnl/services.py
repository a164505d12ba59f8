"""The write API of pnl. Other apps import from here; bodies live in the modules named.

fill_record(*, order_id, account_id, instrument_id, symbol, side, qty, price, fee=0,
            liquidity=None, ts, report_id, trade_id="", tag="") -> Fill
fills_record(*, fills: Sequence[FillInput]) -> list[Fill]
position_rebuild(*, account_id, instrument_id=None, write=True) -> RebuildResult
positions_close(*, user, api_key=None, account_id, symbol=None) -> CloseResult
pnl_snapshot_take(*, day=None, account_id=None, now=None) -> SnapshotResult
reconcile_positions(*, account_id, now=None) -> ReconcileResult
reconciliation_alert_resolve(*, alert_id, actor, note="") -> ReconciliationAlert
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from pnl.booking import FillInput, fills_book
from pnl.closing import CloseResult, positions_close
from pnl.models import Fill
from pnl.rebuild import RebuildResult, position_rebuild
from pnl.reconcile import ReconcileResult, reconcile_positions, reconciliation_alert_resolve
from pnl.snapshots import SnapshotResult, pnl_snapshot_take

ZERO = Decimal("0")

__all__ = [
    "CloseResult",
    "FillInput",
    "RebuildResult",
    "ReconcileResult",
    "SnapshotResult",
    "fill_record",
    "fills_record",
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
    fill = FillInput(
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
        tag=tag,
    )
    # Joins the caller's transaction without a savepoint (two statements fewer per fill):
    # any failure propagates and rolls the caller's whole transaction back.
    with transaction.atomic(savepoint=False):
        return fills_book([fill], lock_accounts=False)[0]


def fills_record(*, fills: Sequence[FillInput]) -> list[Fill]:
    """Book a burst of executions (e.g. the trades one exchange command produced, or
    several fills of one order applied together) in ONE transaction: the same rows and
    figures as calling `fill_record` for each in order, with the row locks taken once
    (accounts, then positions, each in primary-key order; after the caller's order locks)
    and the writes grouped (one multi-row INSERT per table, one UPDATE per position and
    per account). Returns the Fill rows in input order; one `position.updated` push per
    position touched, on commit.

    Each item is a `FillInput` (fill_record's keyword arguments, validated on
    construction). Fills of one position are applied in list order. As with fill_record,
    a duplicate `report_id` (or any failure) raises and rolls back the transaction it
    runs in: nothing of the burst is booked.
    """
    fills = list(fills)
    with transaction.atomic(savepoint=False):
        return fills_book(fills, lock_accounts=True)
