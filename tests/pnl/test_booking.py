"""Booking fills: DESIGN.md's worked cases through the API, lots and matches traced to
fills, multipliers, shorts and flips, cash and buying power, idempotency, live push."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.selectors import account_buying_power
from pnl.models import Fill, Lot, Position, RealizedMatch
from pnl.selectors import position_qty, realized_pnl_since
from tests.pnl.conftest import position_of

pytestmark = pytest.mark.django_db


def pnl_of(client, account):
    response = client.get(f"/api/v1/pnl?account={account.pk}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_design_worked_cases_hold_through_the_api(client, account, acme, book, quote):
    # step 1-2: buy 100 @ 10, buy 50 @ 12 → lots +100@10, +50@12
    book(account, acme, "buy", "100", "10")
    book(account, acme, "buy", "50", "12")
    quote("ACME", "12")
    position = position_of(client, account, "ACME")
    assert (position["qty"], position["realized_pnl"]) == ("150", "0")
    assert position["avg_entry_price"] == "10.66666667"  # (1000 + 600) / 150, 8 dp
    # step 3: sell 120 @ 13 → +30@12 left, realized 100×3 + 20×1 = 320
    book(account, acme, "sell", "120", "13")
    position = position_of(client, account, "ACME")
    assert (position["qty"], position["avg_entry_price"], position["realized_pnl"]) == (
        "30",
        "12",
        "320",
    )
    # step 4: mark 11 → unrealized (11 − 12) × 30 = −30
    quote("ACME", "11")
    position = position_of(client, account, "ACME")
    assert (position["market_price"], position["market_value"], position["unrealized_pnl"]) == (
        "11",
        "330",
        "-30",
    )
    # step 5: sell 50 @ 11 → closes 30@12 (−30), opens −20@11; realized 290
    book(account, acme, "sell", "50", "11")
    position = position_of(client, account, "ACME")
    assert (position["qty"], position["avg_entry_price"], position["realized_pnl"]) == (
        "-20",
        "11",
        "290",
    )
    # step 6: mark 10 → unrealized (11 − 10) × 20 = +20
    quote("ACME", "10")
    position = position_of(client, account, "ACME")
    assert (position["unrealized_pnl"], position["market_value"]) == ("20", "-200")
    assert pnl_of(client, account)["unrealized_pnl"] == "20"
    # step 7: buy 20 @ 10.5 → flat, realized 300; the flat position still shows today
    book(account, acme, "buy", "20", "10.5")
    position = position_of(client, account, "ACME")
    assert position == {
        "account": str(account.pk),
        "symbol": "ACME",
        "qty": "0",
        "avg_entry_price": None,
        "market_price": "10",
        "market_value": "0",
        "unrealized_pnl": "0",
        "realized_pnl": "300",
        "fees": "0",
    }
    report = pnl_of(client, account)
    assert (report["realized_pnl"], report["unrealized_pnl"], report["net_pnl"]) == (
        "300",
        "0",
        "300",
    )


def test_every_realized_rupee_is_traced_to_an_entry_and_an_exit_fill(account, acme, book):
    # given two entries and one exit larger than the first entry
    first = book(account, acme, "buy", "100", "10")
    second = book(account, acme, "buy", "50", "12")
    exit_ = book(account, acme, "sell", "120", "13")
    # then two matches: all of the first lot, 20 of the second, both closed by the exit
    matches = list(RealizedMatch.objects.order_by("id"))
    assert [
        (m.entry_fill_id, m.exit_fill_id, m.qty, m.entry_price, m.exit_price, m.amount, m.lot_side)
        for m in matches
    ] == [
        (first.pk, exit_.pk, 100, 10, 13, 300, "long"),
        (second.pk, exit_.pk, 20, 12, 13, 20, "long"),
    ]
    # and one open lot is left: 30 of the 50 the second fill opened
    lot = Lot.objects.get()
    assert (lot.opened_by_id, lot.original_qty, lot.remaining_qty, lot.price, lot.opened_seq) == (
        second.pk,
        50,
        30,
        12,
        2,
    )
    assert [f.seq for f in Fill.objects.order_by("seq")] == [1, 2, 3]


def test_fees_are_apart_from_realized_and_net_subtracts_them(client, account, acme, book, quote):
    book(account, acme, "buy", "10", "100", fee="1.25")
    book(account, acme, "sell", "4", "103", fee="0.75")
    quote("ACME", "101")
    position = position_of(client, account, "ACME")
    # realized (103 − 100) × 4 = 12; unrealized (101 − 100) × 6 = 6; fees 2
    assert (position["realized_pnl"], position["unrealized_pnl"], position["fees"]) == (
        "12",
        "6",
        "2",
    )
    assert pnl_of(client, account)["net_pnl"] == "16"


def test_multiplier_scales_pnl_cash_and_market_value(client, account, fut, book, quote):
    # given a 50× future: short 2 @ 20000, buy back 1 @ 19900
    book(account, fut, "sell", "2", "20000", fee="10")
    book(account, fut, "buy", "1", "19900", fee="10")
    quote("NIFTYFUT", "19950")
    position = position_of(client, account, "NIFTYFUT")
    # realized (20000 − 19900) × 1 × 50 = 5000; unrealized (20000 − 19950) × 1 × 50 = 2500
    assert (position["qty"], position["realized_pnl"], position["unrealized_pnl"]) == (
        "-1",
        "5000",
        "2500",
    )
    assert position["market_value"] == "-997500"  # −1 × 19950 × 50
    # cash: +2 × 20000 × 50 − 10, then −1 × 19900 × 50 − 10
    account.refresh_from_db()
    assert account.cash == Decimal("1000000") + 2_000_000 - 10 - 995_000 - 10


def test_flip_closes_the_whole_position_and_opens_the_rest_on_the_other_side(account, acme, book):
    book(account, acme, "buy", "30", "10")
    flip = book(account, acme, "sell", "50", "11")
    position = Position.objects.get()
    assert (position.qty, position.realized, position.avg_entry_price) == (-20, 30, 11)
    lot = Lot.objects.get()
    assert (lot.side, lot.opened_by_id, lot.original_qty, lot.remaining_qty) == (
        "short",
        flip.pk,
        20,
        20,
    )


def test_many_entries_and_split_exits_close_oldest_first(account, acme, book):
    for price in ("10", "11", "12", "13"):
        book(account, acme, "buy", "25", price)
    book(account, acme, "sell", "30", "14")  # 25 of lot 1, 5 of lot 2
    book(account, acme, "sell", "30", "9")  # 20 of lot 2, 10 of lot 3
    position = Position.objects.get()
    # 25×4 + 5×3 = 115; then 20×(9 − 11) + 10×(9 − 12) = −70 → 45
    assert position.realized == 45
    assert [(lot.price, lot.remaining_qty) for lot in Lot.objects.order_by("opened_seq")] == [
        (12, 15),
        (13, 25),
    ]
    assert position.qty == 40 and position.open_cost == 12 * 15 + 13 * 25


def test_cash_moves_with_each_fill_and_buying_power_follows(account, acme, book):
    # given 1,000,000 cash
    # when buying 100 @ 10.05 with a 1.50 fee, then selling 40 @ 11 with a 0.50 fee
    book(account, acme, "buy", "100", "10.05", fee="1.50")
    account.refresh_from_db()
    assert account.cash == Decimal("1000000") - Decimal("1005") - Decimal("1.5")
    book(account, acme, "sell", "40", "11", fee="0.50")
    account.refresh_from_db()
    # then cash = start − Σ signed notional − fees, and buying power sees it
    assert account.cash == Decimal("1000000") - Decimal("1005") + Decimal("440") - Decimal("2")
    assert account_buying_power(account=account) == account.cash
    assert Position.objects.get().cash_flow == Decimal("-567")


def test_risk_reads_position_qty_and_realized_today_from_the_positions(account, acme, book):
    from datetime import UTC, datetime, timedelta

    yesterday = datetime.now(UTC) - timedelta(days=1)
    book(account, acme, "buy", "10", "100", ts=yesterday)
    book(account, acme, "sell", "4", "90", ts=yesterday)  # −40 yesterday
    book(account, acme, "sell", "2", "110")  # +20 today
    assert position_qty(account_id=account.pk, symbol="ACME") == 4
    assert position_qty(account_id=account.pk, symbol="NOPE") == 0
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert realized_pnl_since(account_id=account.pk, since=today) == 20
    assert realized_pnl_since(account_id=account.pk, since=yesterday) == -20


def test_a_duplicate_report_id_books_nothing(account, acme, book):
    from pnl.services import fill_record

    first = book(account, acme, "buy", "10", "100")
    before = (Position.objects.get().qty, Lot.objects.count())
    account.refresh_from_db()
    cash = account.cash
    with pytest.raises(IntegrityError), transaction.atomic():
        fill_record(
            order_id=first.order_id,
            account_id=account.pk,
            instrument_id=acme.pk,
            symbol="ACME",
            side="buy",
            qty=Decimal("10"),
            price=Decimal("100"),
            ts=first.ts,
            report_id=first.report_id,
        )
    account.refresh_from_db()
    assert (Position.objects.get().qty, Lot.objects.count()) == before
    assert account.cash == cash and Fill.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("qty", Decimal("0")), ("price", Decimal("-1")), ("fee", Decimal("-0.01")), ("qty", 1.5)],
)
def test_bad_fills_are_refused_and_change_nothing(account, acme, field, value):
    from datetime import UTC, datetime

    from pnl.services import fill_record

    values = {"qty": Decimal("1"), "price": Decimal("10"), "fee": Decimal("0")}
    values[field] = value
    with pytest.raises((ValueError, TypeError)):
        fill_record(
            order_id="00000000-0000-0000-0000-000000000001",
            account_id=account.pk,
            instrument_id=acme.pk,
            symbol="ACME",
            side="buy",
            ts=datetime.now(UTC),
            report_id="bad",
            **values,
        )
    assert not Fill.objects.exists() and not Position.objects.exists()


def test_each_booked_fill_pushes_position_updated_on_commit(
    account, acme, book, submit, django_capture_on_commit_callbacks
):
    from pnl import registry

    pushed = []
    registry.register_position_publisher(lambda **kwargs: pushed.append(kwargs))
    with submit():
        book(account, acme, "buy", "10", "100")
        book(account, acme, "sell", "10", "101")
        assert pushed == []  # nothing before the commit
    assert [p["event"] for p in pushed] == ["position.updated", "position.updated"]
    last = pushed[-1]
    assert last["channel"] == "positions" and last["account_id"] == account.pk
    assert (last["data"]["qty"], last["data"]["realized_pnl"], last["data"]["symbol"]) == (
        "0",
        "10",
        "ACME",
    )


def test_the_real_publisher_delivers_positions_only_after_commit(account, acme, book, submit):
    # given the lead's wiring (notifications.services.publish): nothing goes out before commit
    from unittest import mock

    with mock.patch("notifications.publishing._deliver") as deliver, submit() as callbacks:
        book(account, acme, "buy", "10", "100")
        assert deliver.call_count == 0
    assert callbacks and deliver.call_count >= 1
    envelopes = deliver.call_args.args[0]
    assert any("positions" in str(envelope) for envelope in envelopes)


def test_the_pushed_payload_is_exactly_the_rest_shape(client, account, acme, foo, book, quote):
    from pnl.selectors import position_list
    from pnl.serializers import PositionSerializer, position_payload

    book(account, acme, "buy", "10", "100.05", fee="0.3")
    book(account, foo, "sell", "3", "20")
    quote("ACME", "101.2")
    views = position_list(user=account.memberships.get().user, account_id=account.pk)
    assert len(views) == 2  # one marked, one without a quote (nulls)
    for view in views:
        assert position_payload(view) == dict(PositionSerializer(view).data)


@pytest.mark.parametrize("exit_qty", ["3", "25", "57", "60", "75"])
def test_closes_across_many_lots_match_a_full_replay(account, acme, book, exit_qty):
    # given 20 entry lots of 3 (more than the booking path reads ahead)
    from pnl.services import position_rebuild

    for n in range(20):
        book(account, acme, "buy", "3", str(100 + n))
    # when one fill closes within the first lots, past them, all of them, or flips
    book(account, acme, "sell", exit_qty, "110")
    # then lots, matches and figures equal a replay of the fills from scratch
    assert position_rebuild(account_id=account.pk, write=False).identical
    position = Position.objects.get()
    assert position.qty == 60 - Decimal(exit_qty)
    closed = min(Decimal(exit_qty), Decimal(60))
    assert sum(m.qty for m in RealizedMatch.objects.all()) == closed
