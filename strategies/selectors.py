"""Reads of strategies and signals. Only the owner sees a strategy (others: 404)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from accounts.models import User
from oms_site.errors import NotFound
from oms_site.locks import lock_one
from orders.models import OPEN_STATUSES, Order, OrderSide
from pnl.models import Position
from strategies.models import Signal, Strategy, StrategyOrder

ZERO = Decimal("0")


def strategy_list(*, user: User) -> QuerySet[Strategy]:
    return (
        Strategy.objects.filter(owner=user, deleted_at__isnull=True)
        .prefetch_related("members")
        .order_by("name", "id")
    )


def strategy_get_for_user(*, user: User, strategy_id: object, for_update: bool = False) -> Strategy:
    qs = Strategy.objects.filter(owner=user, deleted_at__isnull=True)
    try:
        return lock_one(qs, pk=strategy_id) if for_update else qs.get(pk=strategy_id)
    except (Strategy.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Strategy not found.") from exc


def signal_list(*, strategy: Strategy) -> QuerySet[Signal]:
    return (
        Signal.objects.filter(strategy=strategy)
        .prefetch_related("outcomes")
        .order_by("-received_at", "-id")
    )


def signal_get_for_user(*, user: User, signal_id: object) -> Signal:
    try:
        return (
            Signal.objects.filter(strategy__owner=user)
            .prefetch_related("outcomes")
            .get(pk=signal_id)
        )
    except (Signal.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Signal not found.") from exc


def strategy_working_by_account(
    *, strategy_id: object, symbol: str, account_ids: list[object]
) -> dict[object, Decimal]:
    """Per account: the signed quantity still to fill on this strategy's open orders of
    `symbol` (buys up, sells down), in one query. Exit legs of a bracket (placed by
    automation, not linked) do not count: they only ever reduce a position."""
    rows = Order.objects.filter(
        strategy_link__strategy_id=strategy_id,
        strategy_link__symbol=symbol,
        account_id__in=account_ids,
        status__in=OPEN_STATUSES,
    ).values_list("account_id", "side", "qty", "filled_qty")
    totals: dict[object, Decimal] = defaultdict(lambda: ZERO)
    for account_id, side, qty, filled in rows:
        leaves = qty - filled
        totals[account_id] += leaves if side == OrderSide.BUY else -leaves
    return dict(totals)


def positions_by_account(*, symbol: str, account_ids: list[object]) -> dict[object, Decimal]:
    """Signed open quantity of `symbol` per account (absent: flat), in one query."""
    return dict(
        Position.objects.filter(account_id__in=account_ids, symbol=symbol).values_list(
            "account_id", "qty"
        )
    )


def order_strategy_links(*, order_ids: list[object]) -> dict[str, dict[str, str]]:
    """For the blotter: order id → {"strategy", "strategy_name", "signal"}."""
    links = StrategyOrder.objects.filter(order_id__in=order_ids).select_related("strategy")
    return {
        str(link.order_id): {
            "strategy": str(link.strategy_id),
            "strategy_name": link.strategy.name,
            "signal": str(link.signal_id),
        }
        for link in links
    }
