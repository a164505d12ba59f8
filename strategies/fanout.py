"""A stored signal becomes orders on every account of its strategy (run on the queue).

Per account: size (strategies/sizing.py), bound by direction and max position, and place
through orders' normal `order_place` as the strategy's owner, so membership, risk, audit
and automation all apply. Each order's client_order_id is derived from the signal (unique
per account), so a re-run finds the order instead of placing it twice; an account that
already has its outcome is skipped. One account refused does not stop the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from marketdata.models import Instrument
from marketdata.selectors import instrument_get, quotes_latest
from oms_site.errors import ApplicationError, Conflict, RiskRejected
from oms_site.locks import lock_one_or_none
from orders import services as order_services
from orders.core.lifecycle import Actor
from orders.models import OPEN_STATUSES, Order
from pnl.models import Position
from strategies.defaults import OrderDefaults, bracket_for, defaults_parse, to_tick
from strategies.models import (
    Signal,
    SignalOutcome,
    SignalStatus,
    Strategy,
    StrategyAccount,
    StrategyOrder,
)
from strategies.publish import outcomes_publish, refusal_notify
from strategies.selectors import positions_by_account, strategy_working_by_account
from strategies.services import enqueue_fan_out
from strategies.signal_input import SignalInput, signal_input_parse
from strategies.sizing import Leg, Sized, parse_rule, plan, size

logger = logging.getLogger(__name__)

ZERO = Decimal("0")


@dataclass(slots=True)
class _Context:
    signal: Signal
    strategy: Strategy
    signal_in: SignalInput
    instrument: Instrument
    defaults: OrderDefaults
    last: Decimal | None
    actor: Actor


@dataclass(slots=True)
class _Result:
    qty: Decimal | None = None
    order_ids: list[str] = field(default_factory=list)
    reason: str | None = None
    refused: bool = False  # an order was refused (risk, validation): the owner is told


CLIENT_ORDER_ID_PREFIX = "sig-"


def client_order_id_for(*, signal_id: object, leg_index: int) -> str:
    """Deterministic per (signal, account): client_order_id is unique per account, so the
    signal and the leg's place in the plan are enough (38 characters, field max 64)."""
    return f"{CLIENT_ORDER_ID_PREFIX}{Signal.id.field.to_python(signal_id).hex}-{leg_index}"


def fan_out_chunk_size() -> int:
    """Accounts per fan-out task (OMS_SIGNAL_FANOUT_CHUNK, default 10): a strategy with more
    accounts is split into tasks that several workers run side by side."""
    return max(1, int(getattr(settings, "OMS_SIGNAL_FANOUT_CHUNK", 10)))


def signal_fan_out(
    *, signal_id: object, account_ids: list[str] | None = None
) -> list[SignalOutcome]:
    """Place the signal's orders on the accounts (all of the strategy's, or `account_ids`)
    that have no outcome yet; the signal is done once every account has its outcome.

    Without `account_ids`, a strategy with more accounts than one chunk is split: one task
    per chunk is enqueued and nothing is placed here (returns [])."""
    signal = Signal.objects.select_related("strategy__owner").filter(pk=signal_id).first()
    if signal is None or signal.status != SignalStatus.ACCEPTED:
        return []
    strategy = signal.strategy
    all_ids = [
        str(pk)
        for pk in StrategyAccount.objects.filter(strategy=strategy).values_list(
            "account_id", flat=True
        )
    ]
    chunk = fan_out_chunk_size()
    if account_ids is None and len(all_ids) > chunk:
        for start in range(0, len(all_ids), chunk):
            enqueue_fan_out(signal.pk, all_ids[start : start + chunk])
        return []
    signal_in = signal_input_parse(signal.body)
    mapped = (strategy.symbols or {}).get(signal_in.symbol, signal_in.symbol)
    instrument = instrument_get(symbol=mapped)
    quote = quotes_latest(symbols=[instrument.symbol]).get(instrument.symbol)
    owner = strategy.owner
    ctx = _Context(
        signal=signal,
        strategy=strategy,
        signal_in=signal_in,
        instrument=instrument,
        defaults=defaults_parse(strategy.defaults),
        last=getattr(quote, "last", None),
        actor=Actor(type="user", id=str(owner.pk), name=f"{owner.username} (strategy)"),
    )
    done = set(SignalOutcome.objects.filter(signal=signal).values_list("account_id", flat=True))
    members_qs = StrategyAccount.objects.filter(strategy=strategy).select_related("account")
    if account_ids is not None:
        members_qs = members_qs.filter(account_id__in=account_ids)
    members = [member for member in members_qs if member.account_id not in done]
    outcomes = [_fan_out_account(ctx, member) for member in members]
    with transaction.atomic():
        # The last chunk to finish (every account has its outcome) marks the signal done.
        if SignalOutcome.objects.filter(signal=signal).count() >= len(all_ids):
            Signal.objects.filter(pk=signal.pk, status=SignalStatus.ACCEPTED).update(
                status=SignalStatus.DONE, done_at=timezone.now()
            )
        outcomes_publish(outcomes=outcomes, strategy=strategy)
    return outcomes


def _equity(account: TradingAccount) -> Decimal:
    """Cash plus the market value of open positions at the latest quotes."""
    positions = list(Position.objects.filter(account=account).exclude(qty=0))
    quotes = quotes_latest(symbols=sorted({p.symbol for p in positions}))
    value = account.cash
    for position in positions:
        quote = quotes.get(position.symbol)
        mark = getattr(quote, "last", None) or position.avg_entry_price or ZERO
        value += position.market_value_at(mark)
    return value


def _cancel_working(ctx: _Context, account: TradingAccount) -> None:
    """Before an exit or reverse: the strategy's own open orders of this symbol go."""
    working = Order.objects.filter(
        strategy_link__strategy=ctx.strategy,
        account=account,
        symbol=ctx.instrument.symbol,
        status__in=OPEN_STATUSES,
        parent__isnull=True,
    ).values_list("pk", flat=True)
    for order_id in working:
        try:
            order_services.order_cancel(
                user=None, actor=ctx.actor, order_id=order_id, reason="strategy_exit"
            )
        except ApplicationError as exc:  # filled or canceled meanwhile: nothing to cancel
            logger.info("signal %s: order %s not canceled: %s", ctx.signal.pk, order_id, exc)


def _plan_for(
    ctx: _Context, member: StrategyAccount
) -> tuple[list[Leg], Decimal | None, str | None]:
    account, signal_in, lot = member.account, ctx.signal_in, ctx.instrument.lot_size
    rule = parse_rule(member.sizing)
    symbol, account_ids = ctx.instrument.symbol, [account.pk]
    if signal_in.action in ("exit", "reverse"):
        _cancel_working(ctx, account)
    # Read now, under the member's lock (not a snapshot from the fan-out's start): exit and
    # reverse the position alone, after the cancels (an order may have filled instead);
    # the others count the strategy's working orders, incl. another signal's just placed.
    net = positions_by_account(symbol=symbol, account_ids=account_ids).get(account.pk, ZERO)
    if signal_in.action not in ("exit", "reverse"):
        net += strategy_working_by_account(
            strategy_id=ctx.strategy.pk, symbol=symbol, account_ids=account_ids
        ).get(account.pk, ZERO)
    price = signal_in.price or ctx.last
    needs_equity = rule.type in ("equity_pct", "risk_pct")
    target = None
    if signal_in.action is None:
        wanted = signal_in.position or ZERO
        sized = Sized(ZERO)
        if wanted != ZERO:
            sized = size(
                rule,
                signal_qty=abs(wanted),
                price=price,
                stop=signal_in.stop,
                equity=_equity(account) if needs_equity else ZERO,
                lot_size=lot,
            )
            if sized.reason:
                return [], None, sized.reason
        target = sized.qty if wanted > ZERO else -sized.qty
    elif signal_in.action == "exit":
        sized = Sized(ZERO)
    else:
        sized = size(
            rule,
            signal_qty=signal_in.qty,
            price=price,
            stop=signal_in.stop,
            equity=_equity(account) if needs_equity else ZERO,
            lot_size=lot,
        )
    result = plan(
        action=signal_in.action,
        sized=sized,
        target=target,
        net=net,
        direction=ctx.strategy.direction,
        max_position=ctx.strategy.max_position,
        lot_size=lot,
    )
    if not result.legs:
        return [], sized.qty if not sized.reason else None, result.reason
    return list(result.legs), sum((leg.qty for leg in result.legs), ZERO), None


def _place_leg(ctx: _Context, account: TradingAccount, leg: Leg, index: int) -> Order:
    signal_in, instrument, defaults = ctx.signal_in, ctx.instrument, ctx.defaults
    limit = to_tick(signal_in.price, instrument.tick_size) if signal_in.price else None
    bracket = bracket_for(
        defaults if leg.opening else OrderDefaults(),
        side=leg.side,
        ref=limit or ctx.last,
        signal_stop=signal_in.stop if leg.opening else None,
        tick_size=instrument.tick_size,
    )
    client_order_id = client_order_id_for(signal_id=ctx.signal.pk, leg_index=index)
    try:
        result = order_services.order_place(
            user=ctx.strategy.owner,
            actor=ctx.actor,
            account_id=account.pk,
            symbol=instrument.symbol,
            side=leg.side,
            order_type="limit" if limit is not None else "market",
            qty=leg.qty,
            limit_price=limit,
            time_in_force=defaults.time_in_force,
            order_class=bracket.order_class,
            take_profit=bracket.take_profit,
            stop_loss=bracket.stop_loss,
            client_order_id=client_order_id,
            tag=f"strategy {ctx.strategy.name}"[:200],
            product=defaults.product,
        )
        order, created = result.order, result.created
    except Conflict:
        # A re-run after a crash between placing and recording: the position has moved
        # since, so the request differs, but the signal's order for this leg exists.
        order = Order.objects.get(account=account, client_order_id=client_order_id)
        created = False
    _link(ctx, account, order.pk, created=created, opening=leg.opening)
    return order


def _fan_out_account(ctx: _Context, member: StrategyAccount) -> SignalOutcome:
    account = member.account
    result = _Result()
    with transaction.atomic():
        # One fan-out at a time per strategy account (MariaDB's row lock; SQLite's IMMEDIATE
        # transactions are one at a time anyway): two signals fanned out side by side by
        # two workers must not both send the same difference.
        lock_one_or_none(StrategyAccount.objects.all(), pk=member.pk)
        try:
            legs, result.qty, result.reason = _plan_for(ctx, member)
            for index, leg in enumerate(legs):
                try:
                    order = _place_leg(ctx, account, leg, index)
                except RiskRejected as exc:
                    order_id = exc.extra.get("order_id")
                    if order_id:
                        result.order_ids.append(str(order_id))
                        _link(ctx, account, order_id, created=True, opening=False)
                    result.reason, result.refused = f"Refused by risk: {exc.message}", True
                    break
                result.order_ids.append(str(order.pk))
        except ApplicationError as exc:  # not tradable, bad price, no access any more, ...
            result.reason, result.refused = exc.message, True
        outcome = SignalOutcome.objects.create(
            signal=ctx.signal,
            account=account,
            qty=result.qty,
            order_ids=result.order_ids,
            reason=result.reason if not result.order_ids or result.refused else None,
        )
        if result.refused:
            refusal_notify(outcome=outcome, strategy=ctx.strategy, symbol=ctx.instrument.symbol)
    return outcome


def _link(
    ctx: _Context, account: TradingAccount, order_id: object, *, created: bool, opening: bool
) -> None:
    """The order belongs to the strategy's signal (an order found again may be linked)."""
    values = {
        "strategy": ctx.strategy,
        "signal": ctx.signal,
        "account": account,
        "symbol": ctx.instrument.symbol,
        "opening": opening,
    }
    if created:
        StrategyOrder.objects.create(order_id=order_id, **values)
    else:
        StrategyOrder.objects.get_or_create(order_id=order_id, defaults=values)


def signals_sweep_accepted(*, older_than_seconds: int = 30) -> list[str]:
    """Signals still `accepted` a while after they arrived (the enqueue was lost, or a
    worker died mid-way): fan them out again (accounts already done are skipped)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Signal.objects.filter(status=SignalStatus.ACCEPTED, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:100]
    )
    for signal_id in ids:
        signal_fan_out(signal_id=signal_id)
    return [str(pk) for pk in ids]
