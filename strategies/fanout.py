"""A stored signal becomes orders on every account of its strategy (run on the queue).

Per account: size (strategies/sizing.py), bound by direction and max position, and place
through orders' normal `order_place` as the strategy's owner, so membership, risk, audit
and automation all apply. Each order's client_order_id is derived from the signal (unique
per account), so a re-run finds the order instead of placing it twice; an account that
already has its outcome is skipped. One account refused does not stop the others.

A chunk of accounts (one task: OMS_SIGNAL_FANOUT_CHUNK of them) is one transaction: the
chunk's strategy accounts are locked in one query, what sizing needs (positions, the
strategy's working orders, equity) is read once for all of them under those locks, each
account's order(s) go through `order_place`, and the order links and per-account outcome
rows are written in one insert each. The chunk's orders commit together (and only then
go to the venue), so an account's row lock is held for the chunk (OMS_SIGNAL_FANOUT_CHUNK
bounds it); a chunk rolled back by a lock conflict runs again at once, an unexpected error
rolls it back for the sweeper to redo.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.models import TradingAccount
from marketdata.models import Instrument
from marketdata.selectors import instrument_get, quotes_latest
from notifications.services import pushes_sent_together
from oms_site.errors import ApplicationError, Conflict, RiskRejected
from oms_site.locks import lock_one_or_none, lock_rows
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
from strategies.services import enqueue_fan_out_chunks, fan_out_chunk_size
from strategies.signal_input import SignalInput, signal_input_parse
from strategies.sizing import Leg, Sized, parse_rule, plan, size

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
EQUITY_RULES = ("equity_pct", "risk_pct")
LOCK_CONFLICT_CODES = (1205, 1213)  # MariaDB: lock wait timeout, deadlock
CHUNK_ATTEMPTS = 3


@dataclass(slots=True)
class _Context:
    signal: Signal
    strategy: Strategy
    signal_in: SignalInput
    instrument: Instrument
    defaults: OrderDefaults
    last: Decimal | None
    actor: Actor
    links: list[StrategyOrder] = field(default_factory=list)  # written with the chunk


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What sizing reads per account, read once for the whole chunk under its locks."""

    net: dict[object, Decimal]  # position (+ the strategy's working orders but on exits)
    equity: dict[object, Decimal]  # only for the accounts whose rule needs it


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


def signal_fan_out(
    *, signal_id: object, account_ids: list[str] | None = None
) -> list[SignalOutcome]:
    """Place the signal's orders on the accounts (all of the strategy's, or `account_ids`)
    that have no outcome yet; the signal is done once every account has its outcome.

    Without `account_ids`, a strategy with more accounts than one chunk is split: a task
    for each chunk but the first is enqueued, and the first is placed here (its outcomes
    returned). The webhook sends one task, so its answer costs one enqueue whatever the
    strategy's size, and the fan-out starts with the first worker to take it."""
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
        account_ids = all_ids[:chunk]
        enqueue_fan_out_chunks(signal_id=signal.pk, account_ids=all_ids[chunk:])
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            return _fan_out_chunk(signal, account_ids, expected=len(all_ids))
        except OperationalError as exc:
            if not _retryable(exc) or attempt == CHUNK_ATTEMPTS:
                raise
            logger.warning(
                "signal %s: chunk rolled back by a lock conflict (%s), attempt %s of %s",
                signal.pk,
                exc,
                attempt,
                CHUNK_ATTEMPTS,
            )
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retryable(exc: OperationalError) -> bool:
    """A deadlock or lock wait timeout (MariaDB 1213 / 1205) rolled the chunk back, and no
    outer transaction is broken by it: the chunk can simply run again."""
    code = exc.args[0] if exc.args else None
    return code in LOCK_CONFLICT_CODES and not transaction.get_connection().in_atomic_block


def _fan_out_chunk(
    signal: Signal, account_ids: list[str] | None, *, expected: int
) -> list[SignalOutcome]:
    ctx = _context(signal)
    # The chunk's orders each push on commit: sent together, in one round trip.
    with pushes_sent_together(), transaction.atomic():
        members = _lock_members(signal.strategy, account_ids)
        done = set(SignalOutcome.objects.filter(signal=signal).values_list("account_id", flat=True))
        members = [member for member in members if member.account_id not in done]
        outcomes = _fan_out_members(ctx, members) if members else []
        _mark_done_if_complete(signal, expected=expected)
        outcomes_publish(outcomes=outcomes, strategy=signal.strategy)
    return outcomes


def _context(signal: Signal) -> _Context:
    """What every account of the signal shares: read once per chunk."""
    strategy = signal.strategy
    signal_in = signal_input_parse(signal.body)
    mapped = (strategy.symbols or {}).get(signal_in.symbol, signal_in.symbol)
    instrument = instrument_get(symbol=mapped)
    quote = quotes_latest(symbols=[instrument.symbol]).get(instrument.symbol)
    owner = strategy.owner
    return _Context(
        signal=signal,
        strategy=strategy,
        signal_in=signal_in,
        instrument=instrument,
        defaults=defaults_parse(strategy.defaults),
        last=getattr(quote, "last", None),
        actor=Actor(type="user", id=str(owner.pk), name=f"{owner.username} (strategy)"),
    )


def _lock_members(strategy: Strategy, account_ids: list[str] | None) -> list[StrategyAccount]:
    """The chunk's strategy accounts, locked in one query (pk order) for the transaction:
    one fan-out at a time per strategy account (MariaDB's row locks; SQLite's IMMEDIATE
    transactions are one at a time anyway), so two signals fanned out side by side by two
    workers never both send the same difference. Their accounts are read without a lock
    (order_place takes its own), and the members come back in account order: the chunk
    takes the account locks in the same order as other chunks and the fill path
    (accounts in pk order, pnl/booking.py), so they wait for each other, never deadlock."""
    members_qs = StrategyAccount.objects.filter(strategy=strategy)
    if account_ids is not None:
        members_qs = members_qs.filter(account_id__in=account_ids)
    members = {member.account_id: member for member in lock_rows(members_qs)}
    # In the database's own pk order: the order the fill path locks accounts in.
    accounts = TradingAccount.objects.filter(pk__in=list(members)).order_by("pk")
    ordered = []
    for account in accounts:
        member = members[account.pk]
        member.account = account
        ordered.append(member)
    return ordered


def _mark_done_if_complete(signal: Signal, *, expected: int) -> None:
    """The last chunk to finish (every account has its outcome) marks the signal done. The
    signal's row lock makes chunks finishing together count one after the other."""
    lock_one_or_none(Signal.objects.all(), pk=signal.pk)
    if SignalOutcome.objects.filter(signal=signal).count() >= expected:
        Signal.objects.filter(pk=signal.pk, status=SignalStatus.ACCEPTED).update(
            status=SignalStatus.DONE, done_at=timezone.now()
        )


def _fan_out_members(ctx: _Context, members: list[StrategyAccount]) -> list[SignalOutcome]:
    """Inside the chunk's transaction: every member's outcome, written in one insert."""
    if ctx.signal_in.action in ("exit", "reverse"):
        for member in members:
            _cancel_working(ctx, member.account)
    inputs = _read_inputs(ctx, members)
    pairs = [(member, _fan_out_account(ctx, member, inputs)) for member in members]
    StrategyOrder.objects.bulk_create(ctx.links)
    outcomes = [
        SignalOutcome(
            signal=ctx.signal,
            account=member.account,
            qty=result.qty,
            order_ids=result.order_ids,
            reason=result.reason if not result.order_ids or result.refused else None,
        )
        for member, result in pairs
    ]
    SignalOutcome.objects.bulk_create(outcomes)
    for outcome, (_, result) in zip(outcomes, pairs, strict=True):
        if result.refused:
            refusal_notify(outcome=outcome, strategy=ctx.strategy, symbol=ctx.instrument.symbol)
    return outcomes


def _read_inputs(ctx: _Context, members: list[StrategyAccount]) -> _Inputs:
    """Positions (after an exit's cancels: an order may have filled instead), the
    strategy's working orders (incl. another signal's just placed) and the equity of the
    accounts sized by it, each in one query for the chunk, under the members' locks."""
    symbol, account_ids = ctx.instrument.symbol, [member.account_id for member in members]
    net = defaultdict(lambda: ZERO, positions_by_account(symbol=symbol, account_ids=account_ids))
    if ctx.signal_in.action not in ("exit", "reverse"):
        working = strategy_working_by_account(
            strategy_id=ctx.strategy.pk, symbol=symbol, account_ids=account_ids
        )
        for account_id, qty in working.items():
            net[account_id] += qty
    needs_equity = [m.account for m in members if (m.sizing or {}).get("type") in EQUITY_RULES]
    return _Inputs(net=dict(net), equity=_equities(needs_equity) if needs_equity else {})


def _equities(accounts: list[TradingAccount]) -> dict[object, Decimal]:
    """Per account: cash plus the market value of open positions at the latest quotes
    (one query for the positions, one for the quotes)."""
    positions = list(
        Position.objects.filter(account_id__in=[a.pk for a in accounts]).exclude(qty=0)
    )
    quotes = quotes_latest(symbols=sorted({p.symbol for p in positions}))
    values = {account.pk: account.cash for account in accounts}
    for position in positions:
        quote = quotes.get(position.symbol)
        mark = getattr(quote, "last", None) or position.avg_entry_price or ZERO
        values[position.account_id] += position.market_value_at(mark)
    return values


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
    ctx: _Context, member: StrategyAccount, inputs: _Inputs
) -> tuple[list[Leg], Decimal | None, str | None]:
    account, signal_in, lot = member.account, ctx.signal_in, ctx.instrument.lot_size
    rule = parse_rule(member.sizing)
    net = inputs.net.get(account.pk, ZERO)
    price = signal_in.price or ctx.last
    equity = inputs.equity.get(account.pk, ZERO)
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
                equity=equity,
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
            equity=equity,
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


def _fan_out_account(ctx: _Context, member: StrategyAccount, inputs: _Inputs) -> _Result:
    """One account's order(s), or the reason there are none; a refusal (risk, validation,
    access) is this account's outcome and the chunk goes on."""
    account, result = member.account, _Result()
    try:
        legs, result.qty, result.reason = _plan_for(ctx, member, inputs)
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
    return result


def _link(
    ctx: _Context, account: TradingAccount, order_id: object, *, created: bool, opening: bool
) -> None:
    """The order belongs to the strategy's signal: a new order's link is written with the
    chunk's; an order found again (a re-run) may be linked already."""
    values = {
        "strategy": ctx.strategy,
        "signal": ctx.signal,
        "account": account,
        "symbol": ctx.instrument.symbol,
        "opening": opening,
    }
    if created:
        ctx.links.append(StrategyOrder(order_id=order_id, **values))
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
