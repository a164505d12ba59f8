"""Placing orders: validation, pre-trade risk, persistence, enqueueing the submission; the
release of held orders (trigger fired, market opened) through the same risk checks."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, TradingAccount, User
from accounts.selectors import account_get_for_user
from marketdata.calendar import next_open, session_close, trading_date
from marketdata.models import Instrument
from marketdata.selectors import instrument_get, quote_latest
from oms_site.api import format_decimal
from oms_site.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RiskRejected,
    ValidationFailed,
)
from oms_site.task_enqueue import enqueue_after_commit
from orders.core import risk
from orders.core.lifecycle import Actor, actor_for, order_event_created, order_transition
from orders.core.placement import PlacementLinks, _apply_class_fields, _check_reentry
from orders.core.publish import order_publish
from orders.models import (
    TRIGGERED_TYPES,
    HoldReason,
    Order,
    OrderClass,
    OrderEventType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

logger = logging.getLogger(__name__)

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    created: bool  # False: an idempotent replay of an existing client_order_id


# --- helpers ---------------------------------------------------------------------------------


def _account_for_trading(*, user: User | None, account_id: object) -> TradingAccount:
    """The account to place on. Not visible → 400 naming `account` (API.md); view-only → 403."""
    if user is None:
        account = TradingAccount.objects.filter(pk=account_id).first()
        if account is None:
            raise ValidationFailed(
                "account: unknown account.", fields={"account": ["Unknown account."]}
            )
        return account
    try:
        return account_get_for_user(user=user, account_id=account_id, level="trade")
    except NotFound as exc:
        raise ValidationFailed(
            "account: unknown account.", fields={"account": ["Unknown account."]}
        ) from exc
    except PermissionDenied as exc:
        raise PermissionDenied("You may only view this account, not trade on it.") from exc


def _instrument_for_trading(symbol: str) -> Instrument:
    try:
        return instrument_get(symbol=symbol)
    except NotFound as exc:
        raise ValidationFailed(
            f"symbol: unknown symbol {symbol!r}.", fields={"symbol": ["Unknown symbol."]}
        ) from exc


def instrument_rules(instrument: Instrument) -> risk.InstrumentRules:
    return risk.InstrumentRules(
        symbol=instrument.symbol,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        tradable=instrument.tradable,
        price_band_pct=instrument.price_band_pct,
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    return value


def request_hash(values: dict[str, Any]) -> str:
    """Fingerprint of an order request: same values (however spelled) → same hash."""
    payload = json.dumps(_canonical(values), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _good_till(
    *, instrument: Instrument, tif: str, expire_at: datetime | None, now: datetime, queued: bool
) -> datetime | None:
    """When the order stops being good: gtd → expire_at; day → the close of its trading day
    (for SIM, open 24×7, the next UTC midnight: the SIM "day" is the UTC calendar day)."""
    if tif == TimeInForce.GTD:
        return expire_at
    if tif != TimeInForce.DAY:
        return None
    start = now
    if queued:
        start = next_open(instrument_or_exchange=instrument, at=now) or now
    day = trading_date(instrument_or_exchange=instrument, at=start)
    return session_close(instrument_or_exchange=instrument, on=day)


def _check_stop_side(draft: risk.OrderDraft, last: Decimal | None, symbol: str) -> None:
    """A stop the market has already crossed would fire at once: refuse it (400)."""
    if last is None or draft.stop_price is None:
        return
    if draft.side == OrderSide.BUY and draft.stop_price <= last:
        raise ValidationFailed(
            f"stop_price: a buy stop must be above the last price {format_decimal(last)}.",
            fields={"stop_price": [f"Must be above the last price {format_decimal(last)}."]},
        )
    if draft.side == OrderSide.SELL and draft.stop_price >= last:
        raise ValidationFailed(
            f"stop_price: a sell stop must be below the last price {format_decimal(last)}.",
            fields={"stop_price": [f"Must be below the last price {format_decimal(last)}."]},
        )


def _trailing_start(
    draft: risk.OrderDraft, instrument: Instrument, last: Decimal | None
) -> Decimal:
    from orders.triggers import trailing_stop_price
    from orders.triggers.trailing import Side

    if last is None:
        raise ValidationFailed(
            f"trail_price: there is no last price for {instrument.symbol} yet to trail from.",
            fields={"trail_price": ["No last price to trail from yet."]},
        )
    return trailing_stop_price(
        Side(draft.side),
        last,
        instrument.tick_size,
        trail_price=draft.trail_price,
        trail_percent=draft.trail_percent,
    )


def enqueue_submit(order_id: object, *, resubmit: bool = False) -> None:
    """After commit: hand the order to the execution queue."""
    from orders.tasks import order_submit_task

    order_id = str(order_id)
    enqueue_after_commit(
        lambda: order_submit_task.delay(order_id, resubmit=resubmit),
        what=f"order {order_id}",
        recovery="the pending_new sweeper submits it",
    )


# --- preparing a placement (shared by place and preview) ---------------------------------------


@dataclass(slots=True)
class _Prepared:
    account: TradingAccount
    instrument: Instrument
    draft: risk.OrderDraft
    quote: Any
    now: datetime
    hash: str
    reentry: dict | None = None


def _prepare(
    *,
    user: User | None,
    account_id: object,
    symbol: str,
    side: str,
    order_type: str,
    qty: Decimal,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    trail_price: Decimal | None,
    trail_percent: Decimal | None,
    time_in_force: str,
    expire_at: datetime | None,
    display_qty: Decimal | None,
    order_class: str,
    take_profit: dict | None,
    stop_loss: dict | None,
    client_order_id: str | None,
    tag: str,
    product: str,
    algo: dict | None = None,
    reentry: dict | None = None,
) -> _Prepared:
    now = timezone.now()
    account = _account_for_trading(user=user, account_id=account_id)
    instrument = _instrument_for_trading(symbol)
    if order_class == "oco" and limit_price is None and isinstance(take_profit, dict):
        # An oco order is its take-profit limit: the leg's price is the order's limit.
        limit_price = take_profit.get("limit_price")
    draft = risk.OrderDraft(
        side=side,
        type=order_type,
        qty=qty,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_price=trail_price,
        trail_percent=trail_percent,
        time_in_force=time_in_force,
        expire_at=expire_at,
        display_qty=display_qty,
        order_class=order_class,
        take_profit=take_profit,
        stop_loss=stop_loss,
        product=product,
        algo=algo,
    )
    risk.validate_order(draft, instrument_rules(instrument), now=now)
    _check_reentry(reentry, draft)
    extra_hash: dict[str, Any] = {}
    if algo is not None:
        extra_hash["algo"] = algo
    if reentry is not None:
        extra_hash["reentry"] = reentry
    fingerprint = request_hash(
        {
            **extra_hash,
            "account": str(account.pk),
            "symbol": instrument.symbol,
            "side": side,
            "type": order_type,
            "qty": qty,
            "limit_price": limit_price,
            "stop_price": stop_price,
            "trail_price": trail_price,
            "trail_percent": trail_percent,
            "time_in_force": time_in_force,
            "expire_at": expire_at,
            "display_qty": display_qty,
            "order_class": order_class,
            "take_profit": take_profit,
            "stop_loss": stop_loss,
            "client_order_id": client_order_id,
            "tag": tag,
            "product": product,
        }
    )
    quote = quote_latest(symbol=instrument.symbol)
    last = getattr(quote, "last", None)
    if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        _check_stop_side(draft, last, instrument.symbol)
    elif order_type == OrderType.TRAILING_STOP:
        draft.stop_price = _trailing_start(draft, instrument, last)
    if order_class != "simple":
        risk.check_contingent_prices(draft, last)
    return _Prepared(account, instrument, draft, quote, now, fingerprint, reentry)


def _existing_for_client_order_id(
    *, account: TradingAccount, client_order_id: str | None, fingerprint: str
) -> Order | None:
    if not client_order_id:
        return None
    existing = Order.objects.filter(account=account, client_order_id=client_order_id).first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise Conflict(
            f"client_order_id {client_order_id!r} was already used with a different order.",
            extra={"order_id": str(existing.pk)},
        )
    return existing


# --- place -------------------------------------------------------------------------------------


def order_place(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    account_id: object,
    symbol: str,
    side: str,
    order_type: str,
    qty: Decimal,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    trail_price: Decimal | None = None,
    trail_percent: Decimal | None = None,
    time_in_force: str = TimeInForce.DAY,
    expire_at: datetime | None = None,
    display_qty: Decimal | None = None,
    order_class: str = "simple",
    take_profit: dict | None = None,
    stop_loss: dict | None = None,
    client_order_id: str | None = None,
    tag: str = "",
    product: str = "delivery",
    algo: dict | None = None,
    reentry: dict | None = None,
    links: PlacementLinks | None = None,
) -> PlaceResult:
    """Validate, risk-check and persist one order; submit it after commit.

    Raises ValidationFailed (400, nothing stored), PermissionDenied (403, nothing stored),
    Conflict (409: client_order_id reused with another body), RiskRejected (422: the order
    IS stored as rejected; `extra["order_id"]`). A repeated client_order_id with the same
    body returns the existing order with created=False.

    `user` None = a system placement (strategies, automation): no membership check; pass
    `actor` to name who placed it, and `links` to attach it to a parent / GTT.

    order_class bracket/oto: the exit legs are created when the entry fills (sized to the
    filled quantity; orders/contingent.py). oco: the order is the take-profit limit and a
    held stop-loss leg is created with it. `algo` ({"type": "twap"|"vwap"|"iceberg", ...})
    makes it a parent order that releases child orders (orders/services_algo.py).
    `reentry` ({"max_retries", "reprice_ticks"}) re-enters it if it is rejected.
    """
    links = links or PlacementLinks()
    prepared = _prepare(
        user=user,
        account_id=account_id,
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=qty,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_price=trail_price,
        trail_percent=trail_percent,
        time_in_force=time_in_force,
        expire_at=expire_at,
        display_qty=display_qty,
        order_class=order_class,
        take_profit=take_profit,
        stop_loss=stop_loss,
        client_order_id=client_order_id,
        tag=tag,
        product=product,
        algo=algo,
        reentry=reentry,
    )
    existing = _existing_for_client_order_id(
        account=prepared.account, client_order_id=client_order_id, fingerprint=prepared.hash
    )
    if existing is not None:
        return PlaceResult(order=existing, created=False)

    actor = actor or actor_for(user=user, api_key=api_key)
    per_minute = (
        risk.rate_window_count(account_id=prepared.account.pk, now=prepared.now)
        if links.counting_checks
        else None
    )
    try:
        order, decision, created = _place_locked(
            prepared,
            actor=actor,
            user=user,
            api_key=api_key,
            client_order_id=client_order_id,
            tag=tag,
            per_minute=per_minute,
            links=links,
        )
    except IntegrityError:
        # Two requests with one client_order_id raced past the first lookup: the unique
        # constraint let one in; answer the other as a replay (or a conflict).
        existing = _existing_for_client_order_id(
            account=prepared.account, client_order_id=client_order_id, fingerprint=prepared.hash
        )
        if existing is None:
            raise
        return PlaceResult(order=existing, created=False)
    if not created:
        # Another request with this client_order_id committed between our first lookup and
        # the account lock: this one is the replay (API.md: 200 with that order).
        return PlaceResult(order=order, created=False)
    if order.status == OrderStatus.REJECTED:
        raise RiskRejected(decision.message, fields=None, extra={"order_id": str(order.pk)})
    return PlaceResult(order=order, created=True)


@transaction.atomic
def _place_locked(
    prepared: _Prepared,
    *,
    actor: Actor,
    user: User | None,
    api_key: ApiKey | None,
    client_order_id: str | None,
    tag: str,
    per_minute: int | None,
    links: PlacementLinks,
) -> tuple[Order, risk.RiskDecision, bool]:
    """The stored order, its risk decision, and whether this call created it."""
    # The account row lock serialises this account's placements: buying power, open-order
    # and per-day counts are judged against a stable picture.
    account = (
        TradingAccount.objects.select_for_update()
        .select_related("risk_limits")
        .get(pk=prepared.account.pk)
    )
    existing = _existing_for_client_order_id(
        account=account, client_order_id=client_order_id, fingerprint=prepared.hash
    )
    if existing is not None:
        return existing, risk.RiskDecision(ok=True), False
    instrument, draft, now = prepared.instrument, prepared.draft, prepared.now
    ctx = risk.risk_context_build(
        account=account,
        instrument=instrument,
        draft=draft,
        quote=prepared.quote,
        now=now,
        orders_this_minute=per_minute,
        counting_checks=links.counting_checks,
        exclude_order_id=list(links.risk_exclude_ids) or None,
        own_commitment=links.own_commitment,
    )
    decision = risk.risk_evaluate(draft, instrument.symbol, ctx)
    if decision.ok and decision.queue_for_open and draft.algo is not None:
        decision = risk.RiskDecision(
            ok=False,
            code="market_closed",
            message=f"The market for {instrument.symbol} is closed; an algo starts only "
            "while it is open.",
            est_price=decision.est_price,
            est_value=decision.est_value,
            checks=decision.checks,
        )
    held_for_trigger = draft.type in TRIGGERED_TYPES
    queued = decision.ok and decision.queue_for_open and not held_for_trigger
    status = (
        OrderStatus.HELD
        if decision.ok and (held_for_trigger or queued)
        else (OrderStatus.PENDING_NEW)
    )
    order = Order(
        account=account,
        instrument=instrument,
        symbol=instrument.symbol,
        side=draft.side,
        type=draft.type,
        qty=draft.qty,
        limit_price=draft.limit_price,
        stop_price=draft.stop_price,
        trail_price=draft.trail_price,
        trail_percent=draft.trail_percent,
        time_in_force=draft.time_in_force,
        expire_at=draft.expire_at,
        display_qty=draft.display_qty,
        order_class=draft.order_class,
        status=status,
        hold_reason=(
            HoldReason.TRIGGER
            if status == OrderStatus.HELD and held_for_trigger
            else HoldReason.QUEUED_FOR_OPEN
            if status == OrderStatus.HELD
            else ""
        ),
        client_order_id=client_order_id,
        request_hash=prepared.hash,
        tag=tag,
        product=draft.product,
        broker=account.broker,
        est_price=decision.est_price,
        good_till=_good_till(
            instrument=instrument,
            tif=draft.time_in_force,
            expire_at=draft.expire_at,
            now=now,
            queued=not ctx.market_open,
        ),
        created_by=user if user is not None and user.pk else None,
        api_key=api_key,
        created_at=now,
        updated_at=now,
        event_seq=1,
        parent_id=links.parent_id,
        leg_role=links.leg_role,
        oco_group=links.oco_group,
        gtt_id=links.gtt_id,
        reentry_of_id=links.reentry_of_id,
        reentry_attempt=links.reentry_attempt,
    )
    _apply_class_fields(order, draft, prepared.reentry)
    algo_start = decision.ok and draft.algo is not None
    if algo_start:
        from orders.automation.algo_runner import algo_plan

        # The parent never goes to a venue: it is working from the start.
        order.status = OrderStatus.NEW
        order.accepted_at = now
        algo_plan(order=order, raw=draft.algo, instrument=instrument, now=now)
    order.save(force_insert=True)
    created: dict[str, Any] = {"hold_reason": order.hold_reason} if order.hold_reason else {}
    for name, value in (
        ("parent_id", links.parent_id),
        ("leg_role", links.leg_role),
        ("gtt_id", links.gtt_id),
        ("reentry_of", links.reentry_of_id),
        ("reentry_attempt", links.reentry_attempt or None),
        ("order_class", draft.order_class if draft.order_class != "simple" else None),
        ("algo", order.algo and {k: order.algo.get(k) for k in ("type", "slices_total")}),
    ):
        if value:
            created[name] = str(value) if name in ("parent_id", "gtt_id", "reentry_of") else value
    order_event_created(order=order, actor=actor, data=created or None)
    if not decision.ok:
        order.reject_reason = decision.reject_reason
        order_transition(
            order=order,
            to_status=OrderStatus.REJECTED,
            event_type=OrderEventType.REJECTED,
            actor=actor,
            data={"reason": order.reject_reason, "checks": decision.checks},
            update_fields=["reject_reason"],
        )
    elif held_for_trigger:
        from orders.core.trigger_store import trigger_create_for_order

        trigger_create_for_order(order=order, last=getattr(prepared.quote, "last", None))
    if decision.ok and draft.order_class == OrderClass.OCO:
        from orders.automation.contingent import oco_stop_leg_create

        oco_stop_leg_create(parent=order, spec=draft.stop_loss, actor=actor)
    elif decision.ok and draft.order_class in (OrderClass.BRACKET, OrderClass.OTO):
        from orders.automation.contingent import bracket_legs_create

        bracket_legs_create(entry=order, actor=actor)
    # Push before enqueueing: on-commit callbacks run in order, so this state reaches the
    # stream before anything the submission publishes (clients also order by `seq`).
    order_publish(order)
    if algo_start:
        from orders.automation.algo_runner import enqueue_algo_step

        enqueue_algo_step(order.pk)
    elif decision.ok and not held_for_trigger and not queued:
        enqueue_submit(order.pk)
    return order, decision, True


def __getattr__(name: str):
    # order_place_batch / order_preview moved to orders.services_batch; old imports work.
    if name in ("order_place_batch", "order_preview"):
        from orders.core import batch as services_batch

        return getattr(services_batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
