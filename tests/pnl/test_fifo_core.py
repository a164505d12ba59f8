"""Example-based tests for the pure FIFO core (no Django)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pnl.fifo import (
    FifoInputError,
    Fill,
    InvalidFillError,
    InvalidLotError,
    LotRecord,
    Match,
    PositionState,
    quantize_money,
    rebuild,
)

D = Decimal


def buy(fill_id: int, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(fill_id=fill_id, side="buy", qty=D(qty), price=D(price), fee=D(fee))


def sell(fill_id: int, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(fill_id=fill_id, side="sell", qty=D(qty), price=D(price), fee=D(fee))


def lots_of(state: PositionState) -> list[tuple[str, Decimal, Decimal]]:
    """Open lots as (side, remaining qty, price), oldest first."""
    return [(lot.side, lot.remaining_qty, lot.price) for lot in state.open_lots()]


# ------------------------------------------------------------------ worked cases


def test_worked_cases_step_by_step() -> None:
    state = PositionState()

    # given a flat position, when buying 100@10, then one long lot and nothing realized
    assert state.apply(buy(1, "100", "10")) == []
    assert lots_of(state) == [("long", D(100), D(10))]
    assert state.realized == 0

    # when buying 50@12, then a second lot queues behind the first
    assert state.apply(buy(2, "50", "12")) == []
    assert lots_of(state) == [("long", D(100), D(10)), ("long", D(50), D(12))]
    assert state.avg_entry_price == D(1600) / D(150)

    # when selling 120@13, then the oldest lot closes fully and 20 of the second
    matches = state.apply(sell(3, "120", "13"))
    assert matches == [
        Match(1, 3, D(100), D(10), D(13), D(300), "long"),
        Match(2, 3, D(20), D(12), D(13), D(20), "long"),
    ]
    assert lots_of(state) == [("long", D(30), D(12))]
    assert state.realized == 320

    # when marking at 11, then the remaining 30@12 is 30 under water
    assert state.unrealized(D(11)) == -30

    # when selling 50@11, then 30 close at a loss of 30 and 20 open short
    matches = state.apply(sell(5, "50", "11"))
    assert matches == [Match(2, 5, D(30), D(12), D(11), D(-30), "long")]
    assert lots_of(state) == [("short", D(20), D(11))]
    assert state.qty == -20
    assert state.realized == 290

    # when marking at 10, then the short is 20 in the money
    assert state.unrealized(D(10)) == 20

    # when buying 20@10.5, then the short closes with +10 and the position is flat
    matches = state.apply(buy(7, "20", "10.5"))
    assert matches == [Match(5, 7, D(20), D(11), D("10.5"), D(10), "short")]
    assert state.is_flat
    assert state.open_lots() == ()
    assert state.realized == 300
    assert state.avg_entry_price is None
    assert state.lot_side is None
    assert state.unrealized(D(99)) == 0


# ---------------------------------------------------------------- scenarios


def test_partial_fills_reduce_one_lot_in_steps() -> None:
    # given one long lot of 10@100
    state = PositionState()
    state.apply(buy(1, "10", "100"))
    # when three partial sells arrive
    state.apply(sell(2, "3", "101"))
    state.apply(sell(3, "3", "102"))
    matches = state.apply(sell(4, "2", "99"))
    # then the same lot shrinks, keeps its original qty, and realized accumulates
    [lot] = state.open_lots()
    assert (lot.fill_id, lot.original_qty, lot.remaining_qty, lot.opened_seq) == (
        1,
        D(10),
        D(2),
        1,
    )
    assert matches == [Match(1, 4, D(2), D(100), D(99), D(-2), "long")]
    assert state.realized == 3 + 6 - 2


def test_many_entries_closed_by_one_exit_in_fifo_order() -> None:
    # given five long lots at rising prices
    state = PositionState()
    for fill_id, price in enumerate(["10", "11", "12", "13", "14"], start=1):
        state.apply(buy(fill_id, "1", price))
    # when one sell closes 3.5 of them
    matches = state.apply(sell(6, "3.5", "15"))
    # then the three oldest close fully, the fourth by half, the fifth is untouched
    assert [(m.entry_fill_id, m.qty) for m in matches] == [
        (1, D(1)),
        (2, D(1)),
        (3, D(1)),
        (4, D("0.5")),
    ]
    assert state.realized == 5 + 4 + 3 + D("1.0")
    assert lots_of(state) == [("long", D("0.5"), D(13)), ("long", D(1), D(14))]


def test_split_exits_trace_every_rupee_to_two_fills() -> None:
    # given two entries and three exits that straddle the lot boundary
    fills = [
        buy(1, "60", "100"),
        buy(2, "40", "110"),
        sell(3, "50", "120"),
        sell(4, "30", "90"),
        sell(5, "20", "115"),
    ]
    state = PositionState()
    all_matches = [match for fill in fills for match in state.apply(fill)]
    # then the second exit is split across both entry lots
    assert [(m.entry_fill_id, m.exit_fill_id, m.qty) for m in all_matches] == [
        (1, 3, D(50)),
        (1, 4, D(10)),
        (2, 4, D(20)),
        (2, 5, D(20)),
    ]
    # and realized is exactly the sum of the matches
    assert sum(m.realized for m in all_matches) == state.realized
    assert state.realized == 50 * 20 + 10 * -10 + 20 * -20 + 20 * 5
    assert state.is_flat


def test_short_position_opens_and_covers() -> None:
    # given a short opened by two sells
    state = PositionState()
    state.apply(sell(1, "10", "50"))
    state.apply(sell(2, "10", "48"))
    assert state.qty == -20
    assert state.lot_side == "short"
    # when marking at 45, then both lots gain (entry - mark) per unit
    assert state.unrealized(D(45)) == 5 * 10 + 3 * 10
    assert state.market_value(D(45)) == -900
    # when covering 15 at 46, then the oldest short lot closes first
    matches = state.apply(buy(3, "15", "46"))
    assert [(m.entry_fill_id, m.qty, m.realized, m.lot_side) for m in matches] == [
        (1, D(10), D(40), "short"),
        (2, D(5), D(10), "short"),
    ]
    assert lots_of(state) == [("short", D(5), D(48))]


def test_flip_long_to_short_opens_remainder_lot_from_the_flipping_fill() -> None:
    # given long 10@100
    state = PositionState()
    state.apply(buy(1, "10", "100"))
    # when selling 25@105
    matches = state.apply(sell(2, "25", "105"))
    # then 10 close at +50 and a 15 short lot opens at 105 with fill 2 as its origin
    assert matches == [Match(1, 2, D(10), D(100), D(105), D(50), "long")]
    [lot] = state.open_lots()
    assert (lot.fill_id, lot.side, lot.original_qty, lot.remaining_qty, lot.price) == (
        2,
        "short",
        D(15),
        D(15),
        D(105),
    )
    assert lot.opened_seq == 2
    assert state.qty == -15


def test_flip_short_to_long() -> None:
    # given short 8@20 then 2@21
    state = PositionState()
    state.apply(sell(1, "8", "20"))
    state.apply(sell(2, "2", "21"))
    # when buying 13@19
    matches = state.apply(buy(3, "13", "19"))
    # then both shorts close (+8, +4) and 3 open long at 19
    assert [(m.entry_fill_id, m.realized) for m in matches] == [(1, D(8)), (2, D(4))]
    assert lots_of(state) == [("long", D(3), D(19))]
    assert state.realized == 12
    assert state.avg_entry_price == 19


def test_fees_are_excluded_from_realized_and_unrealized_but_counted_per_fill() -> None:
    # given fills each carrying a fee
    state = PositionState()
    state.apply(buy(1, "10", "100", fee="1.25"))
    state.apply(sell(2, "4", "110", fee="0.75"))
    # then realized ignores fees, fees sum per fill, net subtracts them
    assert state.realized == 40
    assert state.fees == D("2.00")
    assert state.unrealized(D(105)) == 30
    assert state.net_pnl(D(105)) == D("68.00")
    # and cash flow is -sum(signed qty x price) - fees
    assert state.cash_flow == -1000 + 440 - D("2.00")
    assert state.net_pnl(D(105)) == state.cash_flow + state.market_value(D(105))


def test_multiplier_scales_money_not_quantities() -> None:
    # given a futures contract with lot multiplier 50
    state = PositionState(multiplier=D(50))
    state.apply(buy(1, "2", "100.5", fee="20"))
    # when one contract is sold 2 points higher
    [match] = state.apply(sell(2, "1", "102.5", fee="20"))
    # then realized, unrealized, market value and cash scale by 50; qty and fees do not
    assert match.qty == 1
    assert match.realized == 100
    assert state.qty == 1
    assert state.unrealized(D("101.5")) == 50
    assert state.market_value(D("101.5")) == D("5075.0")
    assert state.fees == 40
    assert state.cash_flow == -2 * D("100.5") * 50 + D("102.5") * 50 - 40
    assert state.net_pnl(D("101.5")) == 100 + 50 - 40


def test_arithmetic_is_exact_beyond_default_decimal_precision() -> None:
    # given values whose product needs more than 28 significant digits
    qty = D("123456789012345.123456")
    price = D("98765432109876.54321")
    state = PositionState()
    state.apply(Fill(fill_id="a", side="buy", qty=qty, price=price))
    state.apply(Fill(fill_id="b", side="sell", qty=qty, price=price + D("0.00001")))
    # then nothing is rounded
    assert state.realized == qty * D("0.00001")
    assert state.cash_flow == state.realized
    assert state.cash_flow.as_tuple().digits[-6:] == qty.as_tuple().digits[-6:]


def test_zero_price_fill_is_allowed() -> None:
    state = PositionState()
    state.apply(buy(1, "5", "0"))
    assert state.unrealized(D(2)) == 10
    assert state.avg_entry_price == 0


# ------------------------------------------------------------- persistence


def test_restore_from_open_lots_then_apply_matches_full_replay() -> None:
    # given a history, persisted after the third fill as lots + aggregates
    history = [
        buy(1, "10", "100", fee="1"),
        buy(2, "5", "101", fee="1"),
        sell(3, "12", "103", fee="1"),
    ]
    persisted = rebuild(history, multiplier=D(2)).snapshot()
    # when the DB layer restores (lots in arbitrary order) and applies one more fill
    state = PositionState.restore(
        lots=reversed(persisted.lots),
        realized=persisted.realized,
        fees=persisted.fees,
        cash_flow=persisted.cash_flow,
        fill_count=persisted.fill_count,
        multiplier=D(2),
    )
    state.apply(sell(4, "7", "99", fee="1"))
    # then the state equals replaying all four fills from scratch
    replayed = rebuild([*history, sell(4, "7", "99", fee="1")], multiplier=D(2))
    assert state.snapshot() == replayed.snapshot()
    assert PositionState.from_snapshot(state.snapshot()).snapshot() == state.snapshot()


def test_restore_rejects_inconsistent_lots() -> None:
    long_lot = LotRecord(1, "long", D(5), D(5), D(10), opened_seq=1)
    short_lot = LotRecord(2, "short", D(5), D(5), D(10), opened_seq=2)
    aggregates = {"realized": D(0), "fees": D(0), "cash_flow": D(0), "fill_count": 2}
    with pytest.raises(InvalidLotError, match="one side"):
        PositionState.restore(lots=[long_lot, short_lot], **aggregates)
    with pytest.raises(InvalidLotError, match="opened_seq"):
        PositionState.restore(
            lots=[long_lot, LotRecord(3, "long", D(1), D(1), D(1), opened_seq=1)], **aggregates
        )
    with pytest.raises(InvalidLotError, match="fill_id"):
        PositionState.restore(
            lots=[long_lot, LotRecord(1, "long", D(1), D(1), D(1), opened_seq=2)], **aggregates
        )
    with pytest.raises(InvalidLotError, match="fill_count"):
        PositionState.restore(lots=[long_lot], **{**aggregates, "fill_count": 0})
    with pytest.raises(InvalidLotError, match="remaining_qty"):
        LotRecord(1, "long", D(1), D(2), D(10), opened_seq=1)
    with pytest.raises(InvalidLotError, match="side"):
        LotRecord(1, "buy", D(1), D(1), D(10), opened_seq=1)  # type: ignore[arg-type]


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": D(0)}, "qty must be > 0"),
        ({"qty": D(-1)}, "qty must be > 0"),
        ({"price": D("-0.01")}, "price must be >= 0"),
        ({"fee": D("-0.01")}, "fee must be >= 0"),
        ({"side": "short"}, "side must be"),
        ({"side": "BUY"}, "side must be"),
        ({"qty": 1.5}, "qty must be a Decimal"),
        ({"price": 10}, "price must be a Decimal"),
        ({"price": D("NaN")}, "price must be finite"),
        ({"qty": D("Infinity")}, "qty must be finite"),
        ({"fill_id": None}, "fill_id"),
        ({"fill_id": True}, "fill_id"),
    ],
)
def test_bad_fill_is_rejected_with_a_value_error(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "fill_id": 1,
        "side": "buy",
        "qty": D(1),
        "price": D(1),
        "fee": D(0),
        **kwargs,
    }
    with pytest.raises(InvalidFillError, match=message) as raised:
        Fill(**fields)  # type: ignore[arg-type]
    assert isinstance(raised.value, ValueError)


def test_bad_multiplier_and_mark_are_rejected() -> None:
    with pytest.raises(FifoInputError, match="multiplier"):
        PositionState(multiplier=D(0))
    with pytest.raises(FifoInputError, match="multiplier"):
        PositionState(multiplier=1)  # type: ignore[arg-type]
    state = PositionState()
    with pytest.raises(FifoInputError, match="mark"):
        state.unrealized(D(-1))
    with pytest.raises(FifoInputError, match="mark"):
        state.market_value(10.0)  # type: ignore[arg-type]


# --------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0.125", "0.12"),  # half to even: down
        ("0.135", "0.14"),  # half to even: up
        ("0.1251", "0.13"),
        ("-0.125", "-0.12"),
        ("-0.004", "0.00"),  # never "-0.00"
        ("1234567890123456789012345678901.005", "1234567890123456789012345678901.00"),
        ("7", "7.00"),
    ],
)
def test_quantize_money_rounds_half_even_to_paisa(amount: str, shown: str) -> None:
    assert str(quantize_money(D(amount))) == shown


def test_quantize_money_does_not_touch_core_values() -> None:
    # given a realized figure with sub-paisa precision
    state = PositionState()
    state.apply(buy(1, "3", "10.3333"))
    state.apply(sell(2, "3", "10.3350"))
    # then the core keeps it exact and only presentation rounds
    assert state.realized == D("0.0051")
    assert quantize_money(state.realized) == D("0.01")
    assert quantize_money(state.realized, places=0) == D("0")
