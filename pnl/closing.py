"""Flattening positions with market orders (`POST /api/v1/positions/close`).

pnl may not import orders (DESIGN.md), so the orders service is reached through the
placer registered in pnl.registry (wired from OrdersConfig.ready()). Each order is its
own transaction inside `order_place`, so this service is deliberately not atomic: an
order that was placed stays placed even if the next symbol is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accounts.models import ApiKey, User
from accounts.selectors import account_get_for_user
from marketdata.selectors import normalize_symbol
from oms_site.api import error_body
from oms_site.errors import ApplicationError, BrokerUnavailable
from pnl import registry
from pnl.models import Position


@dataclass
class CloseResult:
    orders: list[Mapping[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def positions_close(
    *,
    user: User,
    api_key: ApiKey | None = None,
    account_id: object,
    symbol: str | None = None,
) -> CloseResult:
    """Place one market order per open position of the account (or of `symbol`) for
    exactly its quantity on the opposite side.

    NotFound for an account the user cannot see, PermissionDenied for a view-only member.
    With `symbol`, a refusal (e.g. 422 risk_rejected) is raised as is; for "close all",
    each symbol is judged on its own: refusals are collected in `errors` and raised only
    if no order at all could be placed. No open position → no orders.

    Retries are made safe by the API's Idempotency-Key (accounts.idempotency), which
    replays the first answer.
    """
    account = account_get_for_user(user=user, account_id=account_id, level="trade")
    placer = registry.order_placer()
    if placer is None:
        raise BrokerUnavailable("Closing positions is not available right now.")
    positions = Position.objects.filter(account=account).exclude(qty=0)
    if symbol:
        positions = positions.filter(symbol=normalize_symbol(symbol))
    result = CloseResult()
    refused: list[ApplicationError] = []
    for position in positions.order_by("symbol"):
        try:
            placed = placer.place(
                user=user,
                api_key=api_key,
                account_id=account.pk,
                symbol=position.symbol,
                side="sell" if position.qty > 0 else "buy",
                order_type="market",
                qty=abs(position.qty),
            )
        except ApplicationError as exc:
            if symbol:
                raise
            refused.append(exc)
            result.errors.append(
                {
                    "symbol": position.symbol,
                    "status": exc.status,
                    **error_body(exc.code, exc.message, exc.fields or None, **exc.extra),
                }
            )
            continue
        result.orders.append(placer.serialize(placed.order))
    if refused and not result.orders:
        raise refused[0]
    return result
