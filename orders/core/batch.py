"""Placing many orders at once, and the dry run of a placement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts import registry
from accounts.models import ApiKey, TradingAccount, User
from accounts.selectors import account_buying_power, global_kill_switch_engaged
from marketdata.models import Instrument
from notifications.services import PublishBatch, pushes_sent_together
from oms_site.errors import ApplicationError, RiskRejected, ValidationFailed
from orders.core import risk
from orders.core.lifecycle import actor_for
from orders.core.place import ClientOrderIds, Placement, place_locked, place_result
from orders.core.placement import (
    Lookups,
    PlacementLinks,
    PlaceRequest,
    Prepared,
    account_key,
    accounts_for_trading_locked,
    prepare,
    unknown_account,
)
from orders.core.selectors import order_commitment
from orders.core.submit_burst import submission_pace
from orders.models import Order, OrderClass


def order_place_batch(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    orders: list[dict[str, Any]],
    paced: bool = False,
) -> list[tuple[int, Order | None, ApplicationError | None]]:
    """Place up to 100 orders, each judged on its own: [(http status, order, error)].

    Items arrive as service kwargs (already type-parsed by the caller), and each is what
    `order_place` would make of it alone: validated, risk-checked under its account's row
    lock, stored with its audit event, pushed and submitted after commit. What they share
    is read once: instruments and quotes, the accounts (locked together, in pk order, with
    the caller's roles), the global kill switch and each account's buying power (kept up
    to date in hand as orders are added). The orders of one account are placed in one
    transaction, each in a savepoint of its own: one failing never affects another.
    `paced`: as for `order_place`, once all are stored.
    """
    if len(orders) > 100:
        raise ValidationFailed(
            "orders: at most 100 orders per batch.", fields={"orders": ["At most 100."]}
        )
    actor = actor_for(user=user, api_key=api_key)
    lookups = Lookups()
    items: list[tuple[int, str | None, Placement]] = []
    for index, kwargs in enumerate(orders):
        fields = dict(kwargs)
        key = account_key(fields.pop("account_id", None))
        request = PlaceRequest(**fields)
        try:
            prepared: Prepared | ApplicationError = prepare(
                user=user, account_id=key, request=request, read_account=False, lookups=lookups
            )
        except ApplicationError as exc:
            prepared = exc
        placement = Placement(
            prepared=prepared,
            actor=actor,
            user=user,
            api_key=api_key,
            client_order_id=request.client_order_id,
            tag=request.tag,
            links=PlacementLinks(),
        )
        items.append((index, key, placement))
    results: dict[int, tuple[int, Order | None, ApplicationError | None]] = {}
    for index, _key, _placement in items:
        if _key is None:
            results[index] = _refused(unknown_account())
    by_account: dict[str, list[tuple[int, Placement]]] = {}
    for index, key, placement in items:
        if key is not None:
            by_account.setdefault(key, []).append((index, placement))
    # Each account's transaction delivers its pushes on commit; the batch sends them all in
    # one round trip at its end (and the submission wakes of all its orders before that).
    with pushes_sent_together():
        for key in sorted(by_account):
            results.update(_place_for_account(user=user, key=key, items=by_account[key]))
    if paced:
        submission_pace(orders=[order for _, order, _ in results.values() if order is not None])
    return [results[index] for index in range(len(orders))]


def _refused(exc: ApplicationError) -> tuple[int, Order | None, ApplicationError | None]:
    return exc.status, None, exc


@transaction.atomic
def _place_for_account(
    *, user: User | None, key: str, items: list[tuple[int, Placement]]
) -> dict[int, tuple[int, Order | None, ApplicationError | None]]:
    """One account's orders of a batch, in one transaction holding its row lock."""
    account = accounts_for_trading_locked(user=user, account_ids=[key])[key]
    if isinstance(account, ApplicationError):
        return {index: _refused(account) for index, _ in items}
    facts = _AccountFacts(account)
    client_order_ids = ClientOrderIds(
        account_id=account.pk,
        client_order_ids={
            placement.client_order_id
            for _, placement in items
            if placement.client_order_id and not isinstance(placement.prepared, ApplicationError)
        },
    )
    pushes = PublishBatch()  # on commit, before the submissions the orders enqueue
    results = {}
    for index, placement in items:
        item_pushes = _ItemPushes()
        try:
            with transaction.atomic():  # a savepoint: a failing order undoes only its own
                placed = place_locked(
                    placement,
                    account=account,
                    known=facts.known(),
                    publish=item_pushes,
                    client_order_ids=client_order_ids,
                )
        except ApplicationError as exc:
            results[index] = _refused(exc)
            continue
        item_pushes.forward(pushes)
        facts.placed(placement, *placed)
        try:
            result = place_result(placed)
        except RiskRejected as exc:
            results[index] = (exc.status, placed[0], exc)
        else:
            results[index] = (201 if result.created else 200, result.order, None)
    return results


class _AccountFacts:
    """What every order of one account in a batch reads alike, read once under its lock:
    the global kill switch, and the buying power — less each order placed, as
    `open_buy_commitment` would count it. An order whose extensions may add more (legs,
    algo children, re-entries) or an account whose buying power the broker states makes
    the next order read it afresh."""

    def __init__(self, account: TradingAccount) -> None:
        self.account = account
        self.halted = global_kill_switch_engaged()
        self.buying_power: Decimal | None = None
        self.ledger = registry.account_funds(account) is None

    def known(self) -> risk.KnownFacts:
        if self.ledger and self.buying_power is None:
            self.buying_power = account_buying_power(account=self.account)
        return risk.KnownFacts(global_kill_switch=self.halted, buying_power=self.buying_power)

    def placed(
        self, placement: Placement, order: Order, decision: risk.RiskDecision, created: bool
    ) -> None:
        if not created:
            return
        prepared = placement.prepared
        plain = (
            isinstance(prepared, Prepared)
            and prepared.draft.order_class == OrderClass.SIMPLE
            and prepared.draft.algo is None
            and not prepared.extras
        )
        if plain and self.buying_power is not None:
            self.buying_power -= order_commitment(order)
        else:
            self.buying_power = None


class _ItemPushes:
    """One order's pushes, held until its savepoint is released, then added to the
    account's batch (a rolled-back order pushes nothing)."""

    def __init__(self) -> None:
        self._pushes: list[dict[str, Any]] = []

    def add(self, **push: Any) -> None:
        self._pushes.append(push)

    def forward(self, batch: PublishBatch) -> None:
        for push in self._pushes:
            batch.add(**push)


def order_preview(
    *, user: User | None, account_id: object, **values: Any
) -> tuple[risk.RiskDecision, risk.RiskContext, Instrument]:
    """Run validation and every risk check of `order_place` without storing anything.

    Raises the same 400/403 errors as placing; a risk failure is returned, not raised.
    """
    values.pop("client_order_id", None)
    prepared = prepare(user=user, account_id=account_id, request=PlaceRequest(**values))
    per_minute = risk.rate_window_count(
        account_id=prepared.account.pk, now=prepared.now, bump=False
    )
    ctx = risk.risk_context_build(
        account=prepared.account,
        instrument=prepared.instrument,
        draft=prepared.draft,
        quote=prepared.quote,
        now=prepared.now,
        orders_this_minute=per_minute + 1,
    )
    if ctx.buying_power is None:
        ctx.buying_power = account_buying_power(account=prepared.account)
    decision = risk.risk_evaluate(prepared.draft, prepared.instrument.symbol, ctx)
    return decision, ctx, prepared.instrument
