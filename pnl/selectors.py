"""Reads of the fill ledger.

`position_qty` and `realized_pnl_since` are what pre-trade risk (orders/risk.py) asks of
pnl. Until issue 5 stores positions they are computed from fills; issue 5 swaps their
bodies for reads of the position rows and keeps the signatures.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, QuerySet, Sum, Value, When

from accounts.models import User
from accounts.selectors import account_list_for_user
from pnl.fifo import PositionState
from pnl.fifo_types import Fill as FifoFill
from pnl.models import Fill, FillSide

ZERO = Decimal("0")


def fill_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[Fill]:
    """Fills of the accounts `user` may see, newest first.

    filters: account (id), symbol, order (order id); an account the user cannot see
    simply yields nothing (never leak existence).
    """
    filters = filters or {}
    qs = Fill.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(account__in=account_list_for_user(user=user).values("id"))
    if filters.get("account"):
        qs = qs.filter(account_id=filters["account"])
    if filters.get("symbol"):
        qs = qs.filter(symbol=str(filters["symbol"]).upper())
    if filters.get("order"):
        qs = qs.filter(order_id=filters["order"])
    return qs.order_by("-ts", "-created_at", "-id")


def fill_list_for_order(*, order_id: object) -> QuerySet[Fill]:
    return Fill.objects.filter(order_id=order_id).order_by("ts", "created_at", "id")


def position_qty(*, account_id: object, symbol: str) -> Decimal:
    """Signed open quantity of (account, symbol): long > 0, short < 0.

    Issue 4 computes it as the signed sum of the account's fills of the symbol; issue 5
    replaces the body with a read of the position row.
    """
    signed = Case(
        When(side=FillSide.BUY, then=F("qty")),
        default=-F("qty"),
        output_field=DecimalField(max_digits=20, decimal_places=8),
    )
    total = Fill.objects.filter(account_id=account_id, symbol=symbol).aggregate(
        qty=Sum(signed, default=Value(ZERO))
    )["qty"]
    return Decimal(total or 0)


def realized_pnl_since(*, account_id: object, since: datetime) -> Decimal:
    """Realized PnL (FIFO, fees excluded) booked by fills at or after `since`.

    Simple version for the max-daily-loss check: for each symbol the account traded since
    `since`, replay that symbol's whole fill history through the FIFO core and sum the
    realized amount of matches whose closing fill is recent. Cost grows with history;
    issue 5 replaces it with realized figures stored on the positions.
    """
    symbols = list(
        Fill.objects.filter(account_id=account_id, ts__gte=since)
        .values_list("symbol", flat=True)
        .distinct()
    )
    total = ZERO
    for symbol in symbols:
        rows = Fill.objects.filter(account_id=account_id, symbol=symbol).order_by(
            "ts", "created_at", "id"
        )
        state = PositionState()
        recent: set[str] = set()
        fifo_fills = []
        for row in rows.values("id", "side", "qty", "price", "fee", "ts"):
            fill_id = str(row["id"])
            if row["ts"] >= since:
                recent.add(fill_id)
            fifo_fills.append(FifoFill(fill_id, row["side"], row["qty"], row["price"], row["fee"]))
        for match in state.apply_many(fifo_fills):
            if match.exit_fill_id in recent:
                total += match.realized
    return total
