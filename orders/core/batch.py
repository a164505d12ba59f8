"""Placing many orders at once, and the dry run of a placement."""

from __future__ import annotations

from typing import Any

from accounts.models import ApiKey, User
from accounts.selectors import account_buying_power
from marketdata.models import Instrument
from oms_site.errors import ApplicationError, RiskRejected, ValidationFailed
from orders.core import risk
from orders.core.place import order_place
from orders.core.placement import PlaceRequest, prepare
from orders.models import Order


def order_place_batch(
    *, user: User | None, api_key: ApiKey | None = None, orders: list[dict[str, Any]]
) -> list[tuple[int, Order | None, ApplicationError | None]]:
    """Place up to 100 orders, each judged on its own: [(http status, order, error)].

    Each item is its own transaction; one failing never affects another. Items arrive as
    service kwargs (already type-parsed by the caller).
    """
    if len(orders) > 100:
        raise ValidationFailed(
            "orders: at most 100 orders per batch.", fields={"orders": ["At most 100."]}
        )
    results: list[tuple[int, Order | None, ApplicationError | None]] = []
    for kwargs in orders:
        try:
            result = order_place(user=user, api_key=api_key, **kwargs)
        except RiskRejected as exc:
            order = Order.objects.filter(pk=exc.extra.get("order_id")).first()
            results.append((exc.status, order, exc))
        except ApplicationError as exc:
            results.append((exc.status, None, exc))
        else:
            results.append((201 if result.created else 200, result.order, None))
    return results


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
