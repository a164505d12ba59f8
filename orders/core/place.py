"""Placing orders: validation, pre-trade risk, persistence, enqueueing the submission.

Order classes, algos and re-entry take part through the placement extensions the
automation wing registers (orders/core/hooks.py): the core validates, prices, stores and
submits; an extension checks its own fields, sets them before the first save, creates what
comes with the order (exit legs) and may start it itself (an algo parent never goes to a
venue).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Unpack

from django.db import IntegrityError, transaction

from accounts.models import ApiKey, TradingAccount, User
from notifications.services import PublishBatch
from oms_site.compiled_query import insert_new
from oms_site.errors import ApplicationError, Conflict, RiskRejected
from orders.core import risk
from orders.core.hooks import PlacementExtension, placement_extensions
from orders.core.lifecycle import Actor, actor_for, order_event_created, order_transition
from orders.core.placement import (
    OrderFields,
    PlacementLinks,
    PlaceRequest,
    PlaceResult,
    Prepared,
    account_key,
    good_till,
    lock_account_for_trading,
    prepare,
)
from orders.core.publish import order_publish
from orders.core.submit_burst import enqueue_submission, submission_pace
from orders.core.trigger_store import trigger_create_for_order
from orders.models import TRIGGERED_TYPES, HoldReason, Order, OrderEventType, OrderStatus

logger = logging.getLogger(__name__)


class ClientOrderIds:
    """An account's orders by client_order_id, read in one query under the account's lock
    for every id a batch of orders names, and kept up to date as the batch adds orders."""

    def __init__(self, *, account_id: object, client_order_ids: set[str]) -> None:
        self._orders: dict[str, Order] = {}
        if client_order_ids:
            self._orders = {
                order.client_order_id: order
                for order in Order.objects.filter(
                    account_id=account_id, client_order_id__in=sorted(client_order_ids)
                )
            }

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def add(self, order: Order) -> None:
        if order.client_order_id:
            self._orders[order.client_order_id] = order


def _existing_for_client_order_id(
    *,
    account_id: object,
    client_order_id: str | None,
    fingerprint: str,
    known: ClientOrderIds | None = None,
) -> Order | None:
    if not client_order_id:
        return None
    if known is not None:
        existing = known.get(client_order_id)
    else:
        existing = Order.objects.filter(
            account_id=account_id, client_order_id=client_order_id
        ).first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise Conflict(
            f"client_order_id {client_order_id!r} was already used with a different order.",
            extra={"order_id": str(existing.pk)},
        )
    return existing


# --- place ------------------------------------------------------------------------------------


def order_place(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    account_id: object,
    links: PlacementLinks | None = None,
    paced: bool = False,
    **fields: Unpack[OrderFields],
) -> PlaceResult:
    """Validate, risk-check and persist one order; submit it after commit.

    `fields`: the order as asked for (orders/core/placement.py `OrderFields`: symbol, side,
    order_type, qty, prices, time_in_force, order_class with take_profit / stop_loss,
    client_order_id, tag, product, algo, reentry).

    Raises ValidationFailed (400, nothing stored), PermissionDenied (403, nothing stored),
    Conflict (409: client_order_id reused with another body), RiskRejected (422: the order
    IS stored as rejected; `extra["order_id"]`). A repeated client_order_id with the same
    body returns the existing order with created=False.

    `user` None = a system placement (strategies, automation): no membership check; pass
    `actor` to name who placed it, and `links` to attach it to a parent / GTT. `paced`
    (the API): once stored, the answer waits while the submission queue is behind
    (orders/core/submit_burst.py `submission_pace`).

    order_class bracket/oto: the exit legs are created when the entry fills (sized to the
    filled quantity). oco: the order is the take-profit limit and a held stop-loss leg is
    created with it. `algo` ({"type": "twap"|"vwap"|"iceberg", ...}) makes it a parent
    order that releases child orders. `reentry` ({"max_retries", "reprice_ticks"})
    re-enters it if it is rejected.
    """
    request = PlaceRequest(**fields)
    # The account is read once, locked, with the caller's role on it (`_place_locked`);
    # what the request says is checked first, and its errors raised after the account's
    # (an unknown or view-only account answers before a bad field, as it always did).
    key = account_key(account_id)
    try:
        prepared: Prepared | ApplicationError = prepare(
            user=user, account_id=key, request=request, read_account=False
        )
    except ApplicationError as exc:
        prepared = exc
    placement = Placement(
        prepared=prepared,
        actor=actor or actor_for(user=user, api_key=api_key),
        user=user,
        api_key=api_key,
        client_order_id=request.client_order_id,
        tag=request.tag,
        links=links or PlacementLinks(),
    )
    placed = _place_or_replay(placement, account_id=key)
    if paced and placed[2]:
        submission_pace(orders=[placed[0]])
    return place_result(placed)


def place_result(placed: tuple[Order, risk.RiskDecision, bool]) -> PlaceResult:
    """The answer to a placement: created, a replay, or RiskRejected (the order is stored)."""
    order, decision, created = placed
    if not created:
        return PlaceResult(order=order, created=False)
    if order.status == OrderStatus.REJECTED:
        raise RiskRejected(decision.message, fields=None, extra={"order_id": str(order.pk)})
    return PlaceResult(order=order, created=True)


def _place_or_replay(
    placement: Placement, *, account_id: str | None
) -> tuple[Order, risk.RiskDecision, bool]:
    """`_place_locked`, or the order another request with this client_order_id stored."""
    try:
        with transaction.atomic():
            account = lock_account_for_trading(user=placement.user, account_id=account_id)
            return place_locked(placement, account=account)
    except IntegrityError:
        # Two requests with one client_order_id raced to the insert (one of them not
        # serialised by this account's lock): the unique constraint let one in; answer
        # the other as a replay (or a conflict).
        prepared = placement.prepared
        if isinstance(prepared, ApplicationError) or not placement.client_order_id:
            raise
        existing = _existing_for_client_order_id(
            account_id=account_id,
            client_order_id=placement.client_order_id,
            fingerprint=prepared.hash,
        )
        if existing is None:
            raise
        return existing, risk.RiskDecision(ok=True), False


@dataclass(frozen=True, slots=True)
class Placement:
    """One placement's inputs, as `place_locked` and its steps read them. `prepared` is
    the request's own error (raised once the account is known good) when it failed."""

    prepared: Prepared | ApplicationError
    actor: Actor
    user: User | None
    api_key: ApiKey | None
    client_order_id: str | None
    tag: str
    links: PlacementLinks


def place_locked(
    placement: Placement,
    *,
    account: TradingAccount,
    known: risk.KnownFacts | None = None,
    publish: PublishBatch | None = None,
    client_order_ids: ClientOrderIds | None = None,
) -> tuple[Order, risk.RiskDecision, bool]:
    """The stored order, its risk decision, and whether this call created it. Runs in a
    transaction holding `account`'s row lock (`lock_account_for_trading`), which
    serialises this account's placements: buying power, open-order and per-day counts are
    judged against a stable picture.

    A batch passes `known` (facts it read once for its orders under the same locks),
    `publish` (their pushes, sent together on commit) and `client_order_ids` (the
    account's orders its client_order_ids name, read at once)."""
    prepared = placement.prepared
    if isinstance(prepared, ApplicationError):
        raise prepared  # the request's own error, now that the account's are ruled out
    existing = _existing_for_client_order_id(
        account_id=account.pk,
        client_order_id=placement.client_order_id,
        fingerprint=prepared.hash,
        known=client_order_ids,
    )
    if existing is not None:
        return existing, risk.RiskDecision(ok=True), False
    per_minute = (
        risk.rate_window_count(account_id=account.pk, now=prepared.now)
        if placement.links.counting_checks
        else None
    )
    extensions = placement_extensions()
    decision, market_open = _decide(placement, account, per_minute, extensions, known)
    order = _order_build(placement, account=account, decision=decision, market_open=market_open)
    for extension in extensions:
        if extension.prepare is not None:
            extension.prepare(
                order=order,
                draft=prepared.draft,
                extras=prepared.extras,
                decision=decision,
                instrument=prepared.instrument,
                now=prepared.now,
            )
    insert_new([order])  # order.save(force_insert=True), its statement written once
    order_event_created(order=order, actor=placement.actor, data=_created_data(order, placement))
    _settle(order, placement, decision, extensions)
    # Push before enqueueing: on-commit callbacks run in order, so this state reaches the
    # stream before anything the submission publishes (clients also order by `seq`).
    if publish is None:
        order_publish(order)
    else:
        order_publish(order, batch=publish)
    _start(order, placement, decision, extensions)
    if client_order_ids is not None:
        client_order_ids.add(order)
    return order, decision, True


def _decide(
    placement: Placement,
    account: TradingAccount,
    per_minute: int | None,
    extensions: tuple[PlacementExtension, ...],
    known: risk.KnownFacts | None,
) -> tuple[risk.RiskDecision, bool]:
    """The risk decision (as the extensions may refine it) and whether the market is open."""
    prepared, links = placement.prepared, placement.links
    ctx = risk.risk_context_build(
        known=known,
        account=account,
        instrument=prepared.instrument,
        draft=prepared.draft,
        quote=prepared.quote,
        now=prepared.now,
        orders_this_minute=per_minute,
        counting_checks=links.counting_checks,
        exclude_order_id=list(links.risk_exclude_ids) or None,
        own_commitment=links.own_commitment,
    )
    symbol = prepared.instrument.symbol
    decision = risk.risk_evaluate(prepared.draft, symbol, ctx)
    for extension in extensions:
        if extension.decide is not None:
            decision = extension.decide(prepared.draft, decision, symbol)
    return decision, ctx.market_open


def _held_for_trigger(placement: Placement) -> bool:
    return placement.prepared.draft.type in TRIGGERED_TYPES


def _queued(placement: Placement, decision: risk.RiskDecision) -> bool:
    return decision.ok and decision.queue_for_open and not _held_for_trigger(placement)


def _order_build(
    placement: Placement,
    *,
    account: TradingAccount,
    decision: risk.RiskDecision,
    market_open: bool,
) -> Order:
    prepared, links = placement.prepared, placement.links
    instrument, draft, now = prepared.instrument, prepared.draft, prepared.now
    held = decision.ok and (_held_for_trigger(placement) or _queued(placement, decision))
    hold_reason = ""
    if held:
        hold_reason = (
            HoldReason.TRIGGER if _held_for_trigger(placement) else HoldReason.QUEUED_FOR_OPEN
        )
    user = placement.user
    return Order(
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
        status=OrderStatus.HELD if held else OrderStatus.PENDING_NEW,
        hold_reason=hold_reason,
        client_order_id=placement.client_order_id,
        request_hash=prepared.hash,
        tag=placement.tag,
        product=draft.product,
        broker=account.broker,
        est_price=decision.est_price,
        good_till=good_till(
            instrument=instrument,
            tif=draft.time_in_force,
            expire_at=draft.expire_at,
            now=now,
            queued=not market_open,
        ),
        created_by=user if user is not None and user.pk else None,
        api_key=placement.api_key,
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


def _created_data(order: Order, placement: Placement) -> dict[str, Any] | None:
    """What the `created` event records besides the order's values: its links."""
    links, draft = placement.links, placement.prepared.draft
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
    return created or None


def _settle(
    order: Order,
    placement: Placement,
    decision: risk.RiskDecision,
    extensions: tuple[PlacementExtension, ...],
) -> None:
    """A refused order becomes rejected; an accepted one gets its trigger (held stops) and
    what its extensions create with it (exit legs)."""
    if not decision.ok:
        order.reject_reason = decision.reject_reason
        order_transition(
            order=order,
            to_status=OrderStatus.REJECTED,
            event_type=OrderEventType.REJECTED,
            actor=placement.actor,
            data={"reason": order.reject_reason, "checks": decision.checks},
            update_fields=["reject_reason"],
        )
        return
    if _held_for_trigger(placement):
        trigger_create_for_order(order=order, last=getattr(placement.prepared.quote, "last", None))
    for extension in extensions:
        if extension.created is not None:
            extension.created(order=order, draft=placement.prepared.draft, actor=placement.actor)


def _start(
    order: Order,
    placement: Placement,
    decision: risk.RiskDecision,
    extensions: tuple[PlacementExtension, ...],
) -> None:
    """After commit: an extension starts the order (an algo's first step), or the venue
    gets it — unless it is held for its trigger or for the open."""
    if not decision.ok:
        return
    for extension in extensions:
        if extension.start is not None and extension.start(order):
            return
    if not _held_for_trigger(placement) and not _queued(placement, decision):
        enqueue_submission(order)
