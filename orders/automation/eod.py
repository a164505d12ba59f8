"""Jobs around the trading day: re-entry of rejected entry orders and the intraday
square-off. (Expiry of day/gtd orders lives in orders/core/sweeps.py; the broker reconciliation
every minute is pnl's `pnl.reconcile_all` beat job, fed by the position source orders
registers in OrdersConfig.ready().)

Re-entry: an order placed with `reentry` {"max_retries": N, "reprice_ticks": M} that gets
rejected (by the risk checks, on release, or by the venue) is placed again — up to N
times, each time M ticks more aggressive (a buy higher, a sell lower) — as a new order
linked to the first one (`reentry_of`, `reentry_attempt`), under the client_order_id
`reentry-<first order id>-<attempt>` so a retry never doubles.

Square-off: positions built by `product="intraday"` orders are closed with market orders
at `OMS_SQUARE_OFF_MINUTES_BEFORE_CLOSE` (default 15) minutes before the session close of
their exchange; an exchange open around the clock (SIM) squares off daily at
`OMS_SIM_SQUARE_OFF_UTC` (default "23:45", UTC — 15 minutes before the SIM day ends and
its day orders expire). Open intraday orders of the symbol are cancelled first. The
order's client_order_id is `sqoff-<yyyymmdd>-<symbol>-<n>`: a run that finds one still
working does nothing, a re-run never doubles.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from marketdata.calendar import session_close, trading_date
from marketdata.models import Instrument
from oms_site.errors import ApplicationError, RiskRejected
from orders.core import jobs
from orders.core.cancel import order_cancel
from orders.core.lifecycle import actor_system
from orders.core.place import order_place
from orders.core.placement import PlacementLinks
from orders.models import (
    OPEN_STATUSES,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Product,
    TimeInForce,
)
from pnl.selectors import position_qty

logger = logging.getLogger(__name__)

REENTRY_ACTOR = actor_system("reentry")
SQUARE_OFF_ACTOR = actor_system("square_off")
ZERO = Decimal("0")


# --- re-entry ---------------------------------------------------------------------------------


def enqueue_reentry(order_id: object) -> None:
    order_id = str(order_id)
    jobs.enqueue(
        "orders.reenter",
        order_id,
        countdown=float(getattr(settings, "OMS_REENTRY_DELAY_SECS", 1)),
        what=f"the re-entry of rejected order {order_id}",
        recovery="it is not re-entered",
    )


def order_reenter(*, order_id: object) -> Order | None:
    """Place the next attempt of a rejected order with a re-entry rule (None when it has
    none left, or the attempt could not even be validated)."""
    order = Order.objects.select_related("instrument").filter(pk=order_id).first()
    if (
        order is None
        or order.status != OrderStatus.REJECTED
        or order.reentry_attempt >= order.reentry_max
    ):
        return None
    root_id = order.reentry_of_id or order.pk
    attempt = order.reentry_attempt + 1
    limit = order.limit_price
    if limit is not None and order.reentry_ticks:
        step = order.instrument.tick_size * order.reentry_ticks
        limit = limit + step if order.side == OrderSide.BUY else limit - step
        if limit <= 0:
            return None
    expire_at = order.expire_at
    if order.time_in_force == TimeInForce.GTD and (
        expire_at is None or expire_at <= timezone.now()
    ):
        return None
    try:
        result = order_place(
            user=None,
            actor=REENTRY_ACTOR,
            account_id=order.account_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.type,
            qty=order.qty,
            limit_price=limit,
            stop_price=order.stop_price
            if order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
            else None,
            trail_price=order.trail_price,
            trail_percent=order.trail_percent,
            time_in_force=order.time_in_force,
            expire_at=expire_at,
            display_qty=order.display_qty,
            client_order_id=f"reentry-{root_id}-{attempt}",
            tag=order.tag,
            product=order.product,
            reentry={"max_retries": order.reentry_max, "reprice_ticks": order.reentry_ticks},
            links=PlacementLinks(reentry_of_id=root_id, reentry_attempt=attempt),
        )
    except RiskRejected as exc:
        # Stored as rejected: its own rejection enqueues the next attempt.
        return Order.objects.filter(pk=exc.extra.get("order_id")).first()
    except ApplicationError as exc:
        logger.warning("Re-entry %s of order %s refused: %s", attempt, root_id, exc.message)
        return None
    return result.order


# --- intraday square-off ------------------------------------------------------------------------


def _sim_square_off_time() -> time:
    text = str(getattr(settings, "OMS_SIM_SQUARE_OFF_UTC", "23:45"))
    hours, minutes = text.split(":", 1)
    return time(int(hours), int(minutes), tzinfo=UTC)


def square_off_at(*, instrument: Instrument, day: date) -> datetime | None:
    """When intraday positions of `instrument` are closed on trading date `day` (UTC), or
    None when the market does not trade that day."""
    if instrument.exchange.always_open:
        return datetime.combine(day, _sim_square_off_time())
    close = session_close(instrument_or_exchange=instrument, on=day)
    if close is None:
        return None
    minutes = int(getattr(settings, "OMS_SQUARE_OFF_MINUTES_BEFORE_CLOSE", 15))
    return close - timedelta(minutes=minutes)


def _window(instrument: Instrument, now: datetime) -> date | None:
    """The trading date whose square-off window (square-off time → close) contains now."""
    day = trading_date(instrument_or_exchange=instrument, at=now)
    start = square_off_at(instrument=instrument, day=day)
    if start is None or now < start:
        return None
    if instrument.exchange.always_open:
        return day if now.astimezone(UTC).date() == day else None
    close = session_close(instrument_or_exchange=instrument, on=day)
    return day if close is not None and now < close else None


def orders_square_off_intraday(*, now: datetime | None = None) -> list[str]:
    """Close the intraday positions whose square-off time has come; returns the ids of the
    orders placed."""
    now = now or timezone.now()
    net, days = _intraday_net(now)
    placed: list[str] = []
    for (account_id, symbol), intraday in net.items():
        if intraday == 0:
            continue
        position = position_qty(account_id=account_id, symbol=symbol)
        # Close what the intraday orders opened, never more than the account holds.
        qty = min(abs(intraday), abs(position)) if (position > 0) == (intraday > 0) else ZERO
        if qty <= 0:
            continue
        order_id = _square_off(
            account_id=account_id, symbol=symbol, intraday=intraday, qty=qty, day=days[symbol]
        )
        if order_id is not None:
            placed.append(order_id)
    return placed


def _intraday_net(
    now: datetime,
) -> tuple[dict[tuple[object, str], Decimal], dict[str, date | None]]:
    """The net filled intraday quantity per (account, symbol) of the trading days whose
    square-off window is open, and that day per symbol."""
    candidates = (
        Order.objects.filter(
            product=Product.INTRADAY, filled_qty__gt=0, created_at__gte=now - timedelta(days=2)
        )
        .select_related("instrument__exchange")
        .order_by("created_at")
    )
    net: dict[tuple[object, str], Decimal] = defaultdict(lambda: ZERO)
    days: dict[str, date | None] = {}
    for order in candidates:
        symbol = order.symbol
        if symbol not in days:
            days[symbol] = _window(order.instrument, now)
        day = days[symbol]
        if day is None:
            continue
        if trading_date(instrument_or_exchange=order.instrument, at=order.created_at) != day:
            continue
        signed = order.filled_qty if order.side == OrderSide.BUY else -order.filled_qty
        net[(order.account_id, symbol)] += signed
    return net, days


def _square_off(
    *, account_id: object, symbol: str, intraday: Decimal, qty: Decimal, day: date | None
) -> str | None:
    """Cancel the account's open intraday orders of `symbol`, then place the closing order
    (once per day: its client_order_id names the day)."""
    prefix = f"sqoff-{day:%Y%m%d}-{symbol}-"
    earlier = Order.objects.filter(account_id=account_id, client_order_id__startswith=prefix)
    if earlier.filter(status__in=OPEN_STATUSES).exists():
        return None
    for open_id in Order.objects.filter(
        account_id=account_id,
        symbol=symbol,
        product=Product.INTRADAY,
        status__in=OPEN_STATUSES,
        parent__isnull=True,
    ).values_list("id", flat=True):
        try:
            order_cancel(user=None, actor=SQUARE_OFF_ACTOR, order_id=open_id, reason="square_off")
        except ApplicationError as exc:
            logger.warning("Square-off could not cancel order %s: %s", open_id, exc.message)
    try:
        result = order_place(
            user=None,
            actor=SQUARE_OFF_ACTOR,
            account_id=account_id,
            symbol=symbol,
            side=OrderSide.SELL if intraday > 0 else OrderSide.BUY,
            order_type=OrderType.MARKET,
            qty=qty,
            time_in_force=TimeInForce.DAY,
            client_order_id=f"{prefix}{earlier.count()}",
            tag="square-off",
            product=Product.INTRADAY,
            links=PlacementLinks(counting_checks=False),
        )
    except RiskRejected as exc:
        logger.error("Square-off of %s on %s rejected: %s", symbol, account_id, exc.message)
        return None
    except ApplicationError as exc:
        logger.error("Square-off of %s on %s refused: %s", symbol, account_id, exc.message)
        return None
    return str(result.order.pk)
