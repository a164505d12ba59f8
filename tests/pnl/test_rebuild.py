"""A full rebuild from the fills reproduces exactly what incremental booking stored; the
command reports (--check) and repairs drift."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from pnl.models import Fill, Lot, Position, RealizedMatch
from pnl.services import position_rebuild

pytestmark = pytest.mark.django_db


def state_of(account):
    """Everything derived from the fills, as comparable values."""
    positions = [
        (
            p.symbol,
            p.qty,
            p.open_cost,
            p.avg_entry_price,
            p.realized,
            p.fees,
            p.cash_flow,
            p.fill_count,
            p.last_fill_at,
            p.multiplier,
        )
        for p in Position.objects.filter(account=account).order_by("symbol")
    ]
    lots = [
        (
            lot.position.symbol,
            lot.opened_by_id,
            lot.side,
            lot.original_qty,
            lot.remaining_qty,
            lot.price,
            lot.opened_seq,
            lot.opened_at,
        )
        for lot in Lot.objects.filter(account=account).order_by("position__symbol", "opened_seq")
    ]
    matches = [
        (
            m.symbol,
            m.entry_fill_id,
            m.exit_fill_id,
            m.qty,
            m.entry_price,
            m.exit_price,
            m.amount,
            m.lot_side,
            m.ts,
            m.trade_date,
        )
        for m in RealizedMatch.objects.filter(account=account).order_by("symbol", "id")
    ]
    seqs = sorted(Fill.objects.filter(account=account).values_list("id", "seq"))
    return positions, lots, matches, seqs


def random_activity(account, instruments, book, *, count=120, seed=7):
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=3)
    for _ in range(count):
        instrument = rng.choice(instruments)
        book(
            account,
            instrument,
            rng.choice(("buy", "sell")),
            str(rng.randint(1, 40)),
            f"{rng.randint(9000, 11000) / 100:.2f}",
            fee=f"{rng.randint(0, 300) / 100:.2f}",
            # venue timestamps out of order on purpose: booking order is what counts
            ts=start + timedelta(minutes=rng.randint(0, 4000)),
        )


def test_rebuild_of_an_incrementally_booked_ledger_is_identical(account, acme, foo, fut, book):
    # given a long random history over three instruments (one with a multiplier)
    random_activity(account, [acme, foo, fut], book)
    before = state_of(account)
    # when rebuilding from the fills
    result = position_rebuild(account_id=account.pk)
    # then nothing differed and nothing was written
    assert result.identical and not result.written and result.positions_checked == 3
    assert state_of(account) == before


def test_check_reports_drift_and_rebuild_repairs_it_identically(account, acme, foo, book):
    random_activity(account, [acme, foo], book, count=60)
    before = state_of(account)
    # given corrupted derived rows
    Position.objects.filter(symbol="ACME").update(realized=Decimal("12345"), qty=Decimal("1"))
    Lot.objects.filter(position__symbol="FOO").delete()
    RealizedMatch.objects.filter(symbol="ACME").order_by("id").first().delete()
    # when checking: the command fails and names what differs, writing nothing
    with pytest.raises(CommandError, match="2 differ"):
        call_command("rebuild_positions", "--account", str(account.pk), "--check")
    assert Position.objects.get(symbol="ACME").realized == 12345
    # when rebuilding: back to exactly what booking had produced
    call_command("rebuild_positions", "--account", str(account.pk))
    assert state_of(account) == before
    call_command("rebuild_positions", "--check")  # and now every account checks clean


def test_check_output_lists_the_fields(account, acme, book, capsys):
    book(account, acme, "buy", "10", "100")
    Position.objects.update(fees=Decimal("9"))
    with pytest.raises(CommandError):
        call_command("rebuild_positions", "--check")
    out = capsys.readouterr().out
    assert "ACME differs" in out and "fees: stored 9" in out and "rebuilt 0" in out


def test_fills_booked_before_positions_existed_are_numbered_and_built(account, acme, book):
    # given fills without position rows or sequence numbers (the ledger before issue 5)
    book(account, acme, "buy", "10", "100")
    book(account, acme, "sell", "4", "103")
    expected = state_of(account)
    Lot.objects.all().delete()
    RealizedMatch.objects.all().delete()
    Position.objects.all().delete()
    Fill.objects.update(seq=None)
    # when rebuilding
    result = position_rebuild(account_id=account.pk)
    # then the positions are built and the fills numbered in time order
    assert result.written and [d.symbol for d in result.diffs] == ["ACME"]
    assert state_of(account) == expected


def test_a_position_without_fills_is_removed(account, acme, book):
    book(account, acme, "buy", "10", "100")
    Lot.objects.all().delete()
    RealizedMatch.objects.all().delete()
    Fill.objects.all().delete()
    assert not position_rebuild(account_id=account.pk, write=False).identical
    assert Position.objects.exists()  # --check wrote nothing
    position_rebuild(account_id=account.pk)
    assert not Position.objects.exists()


def test_an_unknown_account_is_an_error(db):
    with pytest.raises(CommandError, match="not found"):
        call_command("rebuild_positions", "--account", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(CommandError, match="not found"):
        call_command("rebuild_positions", "--account", "garbage")
