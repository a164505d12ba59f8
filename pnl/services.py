"""Writes to the fill ledger. Issue 5 extends `fill_record` with FIFO lots and positions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from pnl.models import Fill


@transaction.atomic
def fill_record(
    *,
    order_id: object,
    account_id: object,
    instrument_id: object,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal = Decimal("0"),
    liquidity: str | None = None,
    ts: datetime,
    report_id: str,
    trade_id: str = "",
) -> Fill:
    """Book one execution. Called by `orders.services.order_apply_report` inside its
    transaction, with the order row locked, so the fill, the order's filled quantity and
    its audit event commit together. `report_id` is unique: a second call with the same
    id raises IntegrityError (callers de-duplicate reports before calling).

    Ids, not objects: the caller has only the order row locked and must not lock the
    account row through a join. Issue 5 adds here, in the same transaction: lock the
    position row (account, symbol), apply the fill to its FIFO lots, move the account's
    cash (locking the account row after the order's, the fixed lock order).
    """
    if qty <= 0:
        raise ValueError(f"fill qty must be positive, got {qty}")
    if price < 0:
        raise ValueError(f"fill price must not be negative, got {price}")
    return Fill.objects.create(
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
    )
