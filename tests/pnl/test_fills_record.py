"""Booking a burst of fills in one call (`pnl.services.fills_record`): the same ledger as
booking them one by one, across positions and accounts, with one transaction's locks,
one push per position, and nothing booked when any fill of the burst fails."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pnl.models import Fill, Lot, Position, RealizedMatch
from pnl.services import FillInput, fill_record, fills_record, position_rebuild
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db

START = datetime.now(UTC) - timedelta(hours=2)
_accounts = itertools.count(1)


def fill_input(account, instrument, number, side, qty, price, fee="0", *, prefix="r"):
    """A FillInput numbered `number` (its report id and a timestamp that many seconds in);
    string amounts become Decimals, anything else is passed as given."""
    qty, price, fee = (Decimal(v) if isinstance(v, str) else v for v in (qty, price, fee))
    return FillInput(
        order_id=uuid.uuid4(),
        account_id=account.pk,
        instrument_id=instrument.pk,
        symbol=instrument.symbol,
        side=side,
        qty=qty,
        price=price,
        fee=fee,
        liquidity="maker",
        ts=START + timedelta(seconds=number),
        report_id=f"{prefix}-{account.name}-{number}",
        trade_id=f"t{number}",
        tag="burst",
    )


def one_by_one(fills):
    for fill in fills:
        fill_record(
            order_id=fill.order_id,
            account_id=fill.account_id,
            instrument_id=fill.instrument_id,
            symbol=fill.symbol,
            side=fill.side,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            liquidity=fill.liquidity,
            ts=fill.ts,
            report_id=fill.report_id,
            trade_id=fill.trade_id,
            tag=fill.tag,
        )


def ledger_of(account):
    """Everything booked for the account, fills named by their report's number (fill ids
    are fresh per booking)."""
    number = {
        pk: report.rsplit("-", 1)[1]
        for pk, report in Fill.objects.filter(account=account).values_list("id", "report_id")
    }
    fills = sorted(
        (number[f.pk], f.symbol, f.seq, f.side, f.qty, f.price, f.fee, f.ts, f.trade_date, f.tag)
        for f in Fill.objects.filter(account=account)
    )
    positions = list(
        Position.objects.filter(account=account)
        .order_by("symbol")
        .values_list(
            "symbol", "qty", "open_cost", "avg_entry_price", "realized", "fees", "cash_flow",
            "fill_count", "last_fill_at", "multiplier",
        )
    )  # fmt: skip
    lots = [
        (lot.position.symbol, number[lot.opened_by_id], lot.side, lot.original_qty,
         lot.remaining_qty, lot.price, lot.opened_seq, lot.opened_at)
        for lot in Lot.objects.filter(account=account).order_by("position__symbol", "opened_seq")
    ]  # fmt: skip
    matches = [
        (m.symbol, number[m.entry_fill_id], number[m.exit_fill_id], m.qty, m.entry_price,
         m.exit_price, m.amount, m.lot_side, m.ts, m.trade_date)
        for m in RealizedMatch.objects.filter(account=account).order_by("symbol", "id")
    ]  # fmt: skip
    account.refresh_from_db()
    return fills, positions, lots, matches, account.cash


def fresh_account(trader):
    return account_with_member(user=trader, name=f"B{next(_accounts)}", cash=Decimal("1000000"))


quantities = st.one_of(
    st.integers(1, 60).map(Decimal), st.integers(1, 999).map(lambda n: Decimal(n).scaleb(-2))
)
prices = st.integers(1, 20_000).map(lambda paise: Decimal(paise).scaleb(-2))
fees = st.one_of(st.just(Decimal(0)), st.integers(0, 500).map(lambda p: Decimal(p).scaleb(-2)))
steps = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), quantities, prices, fees, st.booleans()),
    max_size=40,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_bursts_book_exactly_what_one_by_one_booking_does(steps, trader, acme, fut):
    # given the same random fills (two instruments, one with a multiplier), booked one by
    # one into one account and as bursts cut at random points into another
    single, burst = fresh_account(trader), fresh_account(trader)
    rows = [
        (step, acme if step % 3 else fut, side, qty, price, fee, cut)
        for step, (side, qty, price, fee, cut) in enumerate(steps)
    ]
    one_by_one([fill_input(single, inst, n, side, q, p, f) for n, inst, side, q, p, f, _ in rows])
    chunk = []
    for n, instrument, side, qty, price, fee, cut in rows:
        chunk.append(fill_input(burst, instrument, n, side, qty, price, fee))
        if cut:
            fills_record(fills=chunk)
            chunk = []
    fills_record(fills=chunk)

    # then fills, positions, lots, matches and cash are the same, and rebuild agrees
    assert ledger_of(burst) == ledger_of(single)
    assert position_rebuild(account_id=burst.pk, write=False).identical


def test_a_burst_over_several_accounts_and_positions_creates_and_books_them_all(
    trader, acme, foo, fut
):
    # given two accounts with no positions yet and fills interleaved over three instruments
    first, second = fresh_account(trader), fresh_account(trader)
    plan = [
        (first, acme, "buy", "10", "100"),
        (second, foo, "sell", "5", "20"),
        (first, fut, "buy", "2", "18000"),
        (first, acme, "sell", "4", "101"),
        (second, foo, "buy", "8", "19"),
        (first, acme, "sell", "10", "99"),
    ]
    fills = [fill_input(acct, inst, n, *rest) for n, (acct, inst, *rest) in enumerate(plan)]
    # when they are booked in one call
    booked = fills_record(fills=fills)
    # then the fills come back in input order, numbered per position in booking order
    assert [f.report_id for f in booked] == [f.report_id for f in fills]
    assert [f.seq for f in booked] == [1, 1, 1, 2, 2, 3]
    assert all(Fill.objects.filter(pk=f.pk).exists() for f in booked)
    # and every position holds its figures: acme +10 -4 -10 flips to -4, foo -5 +8 = +3
    qty = dict(Position.objects.values_list("symbol", "qty").order_by())
    assert qty == {"ACME": Decimal("-4"), "FOO": Decimal("3"), "NIFTYFUT": Decimal("2")}
    acme_position = Position.objects.get(symbol="ACME")
    assert acme_position.realized == 4 * 1 + 6 * -1  # 4 @ 101, then 6 @ 99 of the 100 lot
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.cash == Decimal(1000000) - 1000 + 404 + 990 - 2 * 18000 * 50
    assert second.cash == Decimal(1000000) + 100 - 152
    for account in (first, second):
        assert position_rebuild(account_id=account.pk, write=False).identical


def test_a_close_reaching_past_many_lots_reads_further_and_matches_a_replay(trader, acme):
    # given 100 lots of 1 (far more than the first look-ahead)
    account = fresh_account(trader)
    fills_record(fills=[fill_input(account, acme, n, "buy", "1", str(100 + n)) for n in range(100)])
    # when one fill closes 90 of them, then a burst closes the rest and flips
    one_by_one([fill_input(account, acme, 100, "sell", "90", "150")])
    fills_record(
        fills=[
            fill_input(account, acme, 101, "sell", "5", "151"),
            fill_input(account, acme, 102, "sell", "7", "152"),
        ]
    )
    # then the lots and matches are those of a full replay
    assert position_rebuild(account_id=account.pk, write=False).identical
    position = Position.objects.get()
    assert position.qty == -2 and Lot.objects.get().remaining_qty == 2
    assert RealizedMatch.objects.count() == 100


def test_a_burst_that_closes_only_the_first_lots_adds_after_the_unread_ones(trader, acme):
    # given 20 lots of 1: a burst closing 5 reads only the first few
    account = fresh_account(trader)
    fills_record(fills=[fill_input(account, acme, n, "buy", "1", str(100 + n)) for n in range(20)])
    # when the burst closes 3, adds a lot of 5, and closes 2 more
    fills_record(
        fills=[
            fill_input(account, acme, 20, "sell", "3", "130"),
            fill_input(account, acme, 21, "buy", "5", "90"),
            fill_input(account, acme, 22, "sell", "2", "131"),
        ]
    )
    # then the closes took the oldest lots, and the new lot sits after the unread ones
    assert position_rebuild(account_id=account.pk, write=False).identical
    lots = list(Lot.objects.order_by("opened_seq").values_list("price", "remaining_qty"))
    assert lots[0] == (Decimal(105), 1) and lots[-1] == (Decimal(90), 5) and len(lots) == 16


def test_a_duplicate_report_in_a_burst_books_nothing_of_it(trader, acme):
    account = fresh_account(trader)
    fills_record(fills=[fill_input(account, acme, 1, "buy", "10", "100")])
    account.refresh_from_db()
    before = (account.cash, Position.objects.get().qty, Fill.objects.count(), Lot.objects.count())
    # when a burst repeats a booked report after a new fill
    with pytest.raises(IntegrityError), transaction.atomic():
        fills_record(
            fills=[
                fill_input(account, acme, 2, "sell", "3", "101"),
                fill_input(account, acme, 1, "buy", "10", "100"),
            ]
        )
    # then nothing of the burst is booked
    account.refresh_from_db()
    after = (account.cash, Position.objects.get().qty, Fill.objects.count(), Lot.objects.count())
    assert after == before


def test_one_push_per_position_after_the_commit(trader, acme, foo, submit):
    from pnl import registry

    account = fresh_account(trader)
    pushed = []
    registry.register_position_publisher(lambda **kwargs: pushed.append(kwargs))
    with submit():
        fills_record(
            fills=[
                fill_input(account, acme, 1, "buy", "10", "100"),
                fill_input(account, foo, 2, "buy", "1", "20"),
                fill_input(account, acme, 3, "sell", "4", "110"),
            ]
        )
        assert pushed == []
    assert sorted((p["data"]["symbol"], p["data"]["qty"]) for p in pushed) == [
        ("ACME", "6"),
        ("FOO", "1"),
    ]


def test_inputs_are_validated_and_an_empty_burst_books_nothing(trader, acme):
    account = fresh_account(trader)
    with pytest.raises(TypeError):
        fill_input(account, acme, 1, "buy", 1.5, "10")
    with pytest.raises(ValueError, match="side"):
        fill_input(account, acme, 1, "hold", "1", "10")
    with pytest.raises(ValueError, match="aware"):
        FillInput(
            order_id=uuid.uuid4(),
            account_id=account.pk,
            instrument_id=acme.pk,
            symbol="ACME",
            side="buy",
            qty=Decimal(1),
            price=Decimal(1),
            ts=datetime(2024, 1, 1),  # naive on purpose
            report_id="naive",
        )
    assert fills_record(fills=[]) == []
    assert not Fill.objects.exists() and not Position.objects.exists()
