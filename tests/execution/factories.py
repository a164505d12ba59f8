"""Builders of execution requests for tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from execution.protocol import ModifyRequest, OrderRequest


def order_request(
    *,
    broker: str,
    account_id: str,
    side: str,
    qty: str,
    symbol: str = "ACME",
    type: str = "limit",
    limit_price: str | None = None,
    tif: str = "day",
    display_qty: str | None = None,
    order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        order_id=order_id or str(uuid.uuid4()),
        account_id=account_id,
        broker=broker,
        symbol=symbol,
        side=side,
        type=type,
        qty=Decimal(qty),
        limit_price=None if limit_price is None else Decimal(limit_price),
        time_in_force=tif,
        display_qty=None if display_qty is None else Decimal(display_qty),
    )


def modify_request(
    *,
    order_id: str,
    account_id: str,
    symbol: str = "ACME",
    new_qty: str | None = None,
    new_limit_price: str | None = None,
    broker: str = "",
) -> ModifyRequest:
    return ModifyRequest(
        order_id=order_id,
        account_id=account_id,
        symbol=symbol,
        new_qty=None if new_qty is None else Decimal(new_qty),
        new_limit_price=None if new_limit_price is None else Decimal(new_limit_price),
        broker=broker,
    )
