"""The scripted session's steps, through OMS's HTTP API only, and the in-step checks."""

from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache

from execution.connections import _funds_keys
from tests.execution.conformance.drivers import ORDERS, VenueDriver

QUOTE = {"bid": "99.90", "ask": "100.10", "last": "100"}


def place(venue: VenueDriver, *, expect: int = 201, **overrides) -> dict:
    body = {
        "account": str(venue.account.pk),
        "symbol": venue.symbol,
        "side": "buy",
        "type": "limit",
        "qty": "10",
        "limit_price": "99.50",
        "time_in_force": "day",
    }
    body.update(overrides)
    answer = venue.client.post(ORDERS, body, format="json")
    assert answer.status_code == expect, answer.json()
    return answer.json()


def order(venue: VenueDriver, order_id: str) -> dict:
    answer = venue.client.get(f"{ORDERS}/{order_id}")
    assert answer.status_code == 200, answer.json()
    return answer.json()


def state(venue: VenueDriver, order_id: str) -> tuple:
    """(status, qty, filled_qty, avg_fill_price, limit_price) as decimals."""
    got = order(venue, order_id)
    avg = got["avg_fill_price"]
    return (
        got["status"],
        Decimal(got["qty"]),
        Decimal(got["filled_qty"]),
        Decimal(avg) if avg is not None else None,
        Decimal(got["limit_price"]) if got["limit_price"] is not None else None,
    )


def modify(venue: VenueDriver, order_id: str, **changes) -> dict:
    answer = venue.client.patch(f"{ORDERS}/{order_id}", changes, format="json")
    assert answer.status_code == 200, answer.json()
    return answer.json()


def cancel(venue: VenueDriver, order_id: str) -> dict:
    answer = venue.client.delete(f"{ORDERS}/{order_id}")
    assert answer.status_code == 200, answer.json()
    venue.deliver(lambda: order(venue, order_id)["status"] == "canceled")
    return order(venue, order_id)


def position(venue: VenueDriver) -> dict | None:
    answer = venue.client.get(f"/api/v1/positions?account={venue.account.pk}")
    assert answer.status_code == 200, answer.json()
    rows = [p for p in _rows(answer.json()) if p["symbol"] == venue.symbol]
    return rows[0] if rows else None


def position_numbers(venue: VenueDriver) -> tuple:
    row = position(venue)
    assert row is not None, "no position row"
    keys = ("qty", "avg_entry_price", "realized_pnl", "unrealized_pnl")
    return tuple(Decimal(row[k]) if row[k] is not None else None for k in keys)


def oms_orders(venue: VenueDriver) -> list[dict]:
    answer = venue.client.get(f"{ORDERS}?account={venue.account.pk}&status=all&limit=1000")
    assert answer.status_code == 200, answer.json()
    return _rows(answer.json())


def oms_fills(venue: VenueDriver) -> list[dict]:
    answer = venue.client.get(f"/api/v1/fills?account={venue.account.pk}&limit=1000")
    assert answer.status_code == 200, answer.json()
    return _rows(answer.json())


def cash(venue: VenueDriver) -> Decimal:
    """The account's cash as the API shows it (a real broker's, asked afresh: OMS keeps the
    broker's figures FUNDS_FRESH_S seconds)."""
    cache.delete_many(list(_funds_keys(venue.account.pk)))
    answer = venue.client.get(f"/api/v1/accounts/{venue.account.pk}")
    assert answer.status_code == 200, answer.json()
    return Decimal(answer.json()["cash"])


def _rows(payload) -> list[dict]:
    return payload["results"] if isinstance(payload, dict) else payload


def assert_nothing_lost_or_doubled(venue: VenueDriver) -> None:
    """Orders at the venue vs OMS, fills booked vs the venue's executions, position = Σ fills."""
    venue.deliver()
    orders = {o["id"]: o for o in oms_orders(venue)}
    totals = venue.venue_totals()
    # every order the venue holds for this account is an OMS order, held once
    assert set(totals) <= set(orders), f"orders at the venue OMS does not know: {totals}"
    for order_id, total in totals.items():
        assert total.orders == 1, f"{order_id}: {total.orders} orders at the venue"
    fills = oms_fills(venue)
    for order_id, row in orders.items():
        total = totals.get(order_id)
        venue_filled = total.filled_qty if total else Decimal("0")
        booked = [f for f in fills if f["order_id"] == order_id]
        booked_qty = sum((Decimal(f["qty"]) for f in booked), Decimal("0"))
        assert Decimal(row["filled_qty"]) == venue_filled == booked_qty, (order_id, row, total)
        if venue_filled:
            oms_avg = Decimal(row["avg_fill_price"])
            assert abs(oms_avg - total.avg_price) < Decimal("0.0001"), (oms_avg, total)
    signed = sum(
        (Decimal(f["qty"]) * (1 if f["side"] == "buy" else -1) for f in fills), Decimal("0")
    )
    row = position(venue)
    assert (Decimal(row["qty"]) if row else Decimal("0")) == signed
