"""Flattening positions with market orders (`POST /api/v1/positions/close`).

pnl may not import orders (DESIGN.md), so the orders services are reached through the
placer registered in pnl.registry (wired from OrdersConfig.ready()). Each cancel and each
order is its own transaction inside the orders services, so this service is deliberately
not atomic: an order that was placed stays placed even if the next symbol is refused.

Before a symbol's market order goes out, the account's resting orders in that symbol are
canceled (`cancel_open`, the orders app's cancel-all: one lifecycle cancel per order, with
its events and pushes). A working sell limit next to a long would otherwise sell a second
time once the close has flattened it, a held stop-loss would later open a short, and an
opposite resting order would meet the close on the internal exchange (self-trade
prevention cancels the close) or re-open the position. The close is then sized from the
position as it stands after the cancels, so an order that filled instead of canceling
(the venue refused the cancel) is already counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import ApiKey, User
from accounts.selectors import account_get_for_user
from marketdata.selectors import normalize_symbol
from oms_site.api import error_body
from oms_site.errors import ApplicationError, BrokerUnavailable
from pnl import registry
from pnl.models import Position

logger = logging.getLogger(__name__)

# order_cancel's only refusals: the order closed meanwhile (e.g. it filled: nothing rests
# any more, the position shows it) or the venue could not be asked (it may still rest).
CLOSED_MEANWHILE = "invalid_state"


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
    """Cancel the account's resting orders in each symbol to close, then place one market
    order per open position of the account (or of `symbol`) for exactly its quantity on
    the opposite side.

    NotFound for an account the user cannot see, PermissionDenied for a view-only member
    (checked before anything is canceled). With `symbol`, a refusal (e.g. 422
    risk_rejected, or 503 broker_unavailable when a resting order could not be canceled)
    is raised as is; for "close all", each symbol is judged on its own: refusals are
    collected in `errors` and raised only if no order at all could be placed. No open
    position → no orders, and nothing canceled.

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
    symbols = list(positions.order_by("symbol").values_list("symbol", flat=True))
    result = CloseResult()
    refused: list[ApplicationError] = []
    for position_symbol in symbols:
        try:
            placed = _close_symbol(
                placer=placer,
                user=user,
                api_key=api_key,
                account_id=account.pk,
                symbol=position_symbol,
            )
        except ApplicationError as exc:
            if symbol:
                raise
            refused.append(exc)
            result.errors.append(
                {
                    "symbol": position_symbol,
                    "status": exc.status,
                    **error_body(exc.code, exc.message, exc.fields or None, **exc.extra),
                }
            )
            continue
        if placed is not None:
            result.orders.append(placer.serialize(placed.order))
    if refused and not result.orders:
        raise refused[0]
    return result


def _close_symbol(
    *,
    placer: registry.OrderPlacer,
    user: User,
    api_key: ApiKey | None,
    account_id: object,
    symbol: str,
) -> Any:
    """Cancel the symbol's resting orders, then flatten what the position is now (None when
    it is flat by then)."""
    _cancel_resting(placer=placer, user=user, api_key=api_key, account_id=account_id, symbol=symbol)
    qty = (
        Position.objects.filter(account_id=account_id, symbol=symbol)
        .values_list("qty", flat=True)
        .first()
    ) or Decimal("0")
    if not qty:
        return None
    return placer.place(
        user=user,
        api_key=api_key,
        account_id=account_id,
        symbol=symbol,
        side="sell" if qty > 0 else "buy",
        order_type="market",
        qty=abs(qty),
    )


def _cancel_resting(
    *,
    placer: registry.OrderPlacer,
    user: User,
    api_key: ApiKey | None,
    account_id: object,
    symbol: str,
) -> None:
    if placer.cancel_open is None:
        logger.warning(
            "positions close of %s: no cancel_open registered; resting orders stay", symbol
        )
        return
    outcome = placer.cancel_open(user=user, api_key=api_key, account_id=account_id, symbol=symbol)
    stuck = [item for item in outcome.failed if item["code"] != CLOSED_MEANWHILE]
    if stuck:
        raise BrokerUnavailable(
            f"{len(stuck)} open {symbol} order(s) could not be canceled "
            f"({stuck[0]['message']}); the position was not closed, so that a close "
            "cannot add to them. Try again.",
            extra={"order_ids": [item["id"] for item in stuck]},
        )
