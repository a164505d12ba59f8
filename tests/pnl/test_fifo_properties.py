"""Property tests for the FIFO core over random fill sequences (no Django)."""

from __future__ import annotations

import random
from decimal import Context, Decimal, Inexact, Rounded, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from pnl.fifo import Fill, Match, PositionState, rebuild

# The test's own arithmetic must be exact too, independently of the core's context:
# any rounding would raise instead of hiding a mismatch.
EXACT = Context(prec=500, traps=[Inexact, Rounded])

PROPERTY_SETTINGS = settings(max_examples=120, deadline=None)


def scaled(units: int, places: int) -> Decimal:
    return Decimal(units).scaleb(-places)


# Small integers make exact lot-boundary closes and exact flats common; larger scaled
# values exercise fractional remainders.
quantities = st.one_of(
    st.integers(1, 20).map(Decimal),
    st.builds(scaled, st.integers(1, 1_000_000), st.sampled_from([0, 1, 2, 4])),
)
prices = st.one_of(
    st.integers(0, 200).map(Decimal),
    st.builds(scaled, st.integers(0, 10_000_000), st.sampled_from([0, 1, 2, 4])),
)
fees = st.one_of(st.just(Decimal(0)), st.builds(scaled, st.integers(0, 100_000), st.just(2)))
multipliers = st.sampled_from([Decimal(1), Decimal(50), Decimal("0.25"), Decimal("0.001")])


@st.composite
def fill_sequences(draw: st.DrawFn) -> list[Fill]:
    count = draw(st.integers(0, 60))
    return [
        Fill(
            fill_id=fill_id,
            side=draw(st.sampled_from(["buy", "sell"])),
            qty=draw(quantities),
            price=draw(prices),
            fee=draw(fees),
        )
        for fill_id in range(1, count + 1)
    ]


def signed(fill: Fill) -> Decimal:
    return fill.qty if fill.side == "buy" else -fill.qty


class ReferenceFifo:
    """Deliberately naive FIFO (lists, recomputation) used as an oracle."""

    def __init__(self, multiplier: Decimal) -> None:
        self.multiplier = multiplier
        self.lots: list[list] = []  # [fill_id, signed remaining, price], oldest first
        self.realized = Decimal(0)

    def apply(self, fill: Fill) -> None:
        with localcontext(EXACT):
            incoming = signed(fill)
            while incoming and self.lots and (self.lots[0][1] > 0) != (incoming > 0):
                lot = self.lots[0]
                closed = min(abs(lot[1]), abs(incoming))
                direction = 1 if lot[1] > 0 else -1
                self.realized += (fill.price - lot[2]) * closed * direction * self.multiplier
                lot[1] -= closed * direction
                incoming += closed * direction
                if lot[1] == 0:
                    self.lots.pop(0)
            if incoming:
                self.lots.append([fill.fill_id, incoming, fill.price])


def signed_lots(state: PositionState) -> list[tuple[object, Decimal, Decimal]]:
    sign = -1 if state.lot_side == "short" else 1
    return [(lot.fill_id, lot.remaining_qty * sign, lot.price) for lot in state.open_lots()]


# ----------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(fills=fill_sequences(), multiplier=multipliers)
def test_incremental_apply_equals_full_rebuild(fills: list[Fill], multiplier: Decimal) -> None:
    # given a position built one fill at a time
    incremental = PositionState(multiplier=multiplier)
    for fill in fills:
        incremental.apply(fill)
    # when the same history is replayed from scratch
    replayed = rebuild(fills, multiplier=multiplier)
    # then lots, realized, fees, qty, cash and sequence are identical
    assert incremental.snapshot() == replayed.snapshot()
    assert incremental.open_lots() == replayed.open_lots()
    assert (incremental.qty, incremental.realized, incremental.fees) == (
        replayed.qty,
        replayed.realized,
        replayed.fees,
    )


@PROPERTY_SETTINGS
@given(fills=fill_sequences(), multiplier=multipliers, seed=st.integers(0, 2**32))
def test_persist_and_restore_between_fills_equals_full_rebuild(
    fills: list[Fill], multiplier: Decimal, seed: int
) -> None:
    # given a DB layer that reloads the position from its lot rows before some fills
    rng = random.Random(seed)
    state = PositionState(multiplier=multiplier)
    for fill in fills:
        if rng.random() < 0.5:
            persisted = state.snapshot()
            rows = list(persisted.lots)
            rng.shuffle(rows)  # rows come back from the DB in no particular order
            state = PositionState.restore(
                lots=rows,
                realized=persisted.realized,
                fees=persisted.fees,
                cash_flow=persisted.cash_flow,
                fill_count=persisted.fill_count,
                multiplier=persisted.multiplier,
            )
        state.apply(fill)
    # then it ends exactly where a full replay does
    assert state.snapshot() == rebuild(fills, multiplier=multiplier).snapshot()


@PROPERTY_SETTINGS
@given(fills=fill_sequences(), multiplier=multipliers, mark=prices)
def test_realized_plus_unrealized_equals_cash_flow_marked_to_market(
    fills: list[Fill], multiplier: Decimal, mark: Decimal
) -> None:
    state = rebuild(fills, multiplier=multiplier)
    with localcontext(EXACT):
        # given cash flow computed independently from the raw fills
        fees = sum((fill.fee for fill in fills), Decimal(0))
        trade_cash = -sum((signed(f) * f.price * multiplier for f in fills), Decimal(0))
        position = sum((signed(fill) for fill in fills), Decimal(0))
        marked_trade_pnl = trade_cash + position * mark * multiplier
        # then PnL excluding fees is the trade cash marked to market, to the last digit
        assert state.realized + state.unrealized(mark) == marked_trade_pnl
        # and including fees it is cash flow plus market value
        assert state.fees == fees
        assert state.cash_flow == trade_cash - fees
        assert state.net_pnl(mark) == state.cash_flow + state.market_value(mark)
        assert state.net_pnl(mark) == marked_trade_pnl - fees


@PROPERTY_SETTINGS
@given(fills=fill_sequences(), multiplier=multipliers)
def test_position_and_lots_match_the_signed_sum_of_fills_and_an_oracle(
    fills: list[Fill], multiplier: Decimal
) -> None:
    state = PositionState(multiplier=multiplier)
    oracle = ReferenceFifo(multiplier)
    for fill in fills:
        state.apply(fill)
        oracle.apply(fill)
        # then after every fill the FIFO core agrees with the naive model
        assert signed_lots(state) == [tuple(lot) for lot in oracle.lots]
        assert state.realized == oracle.realized
    with localcontext(EXACT):
        assert state.qty == sum((signed(fill) for fill in fills), Decimal(0))
        assert sum((lot.remaining_qty for lot in state.open_lots()), Decimal(0)) == abs(state.qty)
    assert {lot.side for lot in state.open_lots()} <= {state.lot_side}
    assert state.fill_count == len(fills)
    seqs = [lot.opened_seq for lot in state.open_lots()]
    assert seqs == sorted(set(seqs))


@PROPERTY_SETTINGS
@given(fills=fill_sequences(), multiplier=multipliers)
def test_matches_account_for_every_closed_unit_and_every_rupee(
    fills: list[Fill], multiplier: Decimal
) -> None:
    state = PositionState(multiplier=multiplier)
    all_matches: list[Match] = []
    matched_by_lot: dict[object, Decimal] = {}
    opened_by_lot: dict[object, Decimal] = {}
    with localcontext(EXACT):
        for fill in fills:
            position_before = state.qty
            matches = state.apply(fill)
            closing = position_before != 0 and (position_before > 0) != (fill.side == "buy")
            matched_qty = sum((m.qty for m in matches), Decimal(0))
            # then a fill closes min(its qty, open qty) when opposite, nothing otherwise
            expected = min(fill.qty, abs(position_before)) if closing else Decimal(0)
            assert matched_qty == expected
            for match in matches:
                direction = 1 if match.lot_side == "long" else -1
                assert match.exit_fill_id == fill.fill_id
                assert match.exit_price == fill.price
                assert match.qty > 0
                assert match.realized == (
                    (match.exit_price - match.entry_price) * match.qty * direction * multiplier
                )
                matched_by_lot[match.entry_fill_id] = (
                    matched_by_lot.get(match.entry_fill_id, Decimal(0)) + match.qty
                )
            # and whatever was not matched opened one lot owned by this fill
            if fill.qty > matched_qty:
                opened_by_lot[fill.fill_id] = fill.qty - matched_qty
            all_matches.extend(matches)
        # then realized is exactly the sum of the recorded matches
        assert sum((m.realized for m in all_matches), Decimal(0)) == state.realized
        # and every lot's opened qty == what was matched against it + what remains open
        remaining = {lot.fill_id: lot.remaining_qty for lot in state.open_lots()}
        for fill_id, opened in opened_by_lot.items():
            assert matched_by_lot.get(fill_id, Decimal(0)) + remaining.get(fill_id, 0) == opened
        assert set(matched_by_lot) <= set(opened_by_lot)
