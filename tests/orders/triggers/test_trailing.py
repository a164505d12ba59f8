"""Trailing stops: pricing, TrailingBook, and trailing stops inside TriggerIndex."""

from decimal import Decimal

import pytest

from orders.triggers import (
    Direction,
    Side,
    StopChange,
    TrailingBook,
    TrailingStop,
    Trigger,
    TriggerIndex,
    trailing_stop_price,
)

D = Decimal


def sell_stop(trigger_id: str = "ts", last: str = "100", **trail: Decimal) -> TrailingStop:
    trail = trail or {"trail_price": D("5")}
    return TrailingStop.open(
        trigger_id, "ACME", Side.SELL, last=D(last), tick_size=D("0.01"), **trail
    )


def buy_stop(trigger_id: str = "tb", last: str = "100", **trail: Decimal) -> TrailingStop:
    trail = trail or {"trail_price": D("5")}
    return TrailingStop.open(
        trigger_id, "ACME", Side.BUY, last=D(last), tick_size=D("0.01"), **trail
    )


def book_with(*stops: TrailingStop) -> TrailingBook:
    book = TrailingBook("ACME")
    for stop in stops:
        book.add(stop)
    return book


# ----------------------------------------------------------------------------- sell side


def test_sell_trailing_stop_starts_one_trail_below_last() -> None:
    # given a sell trailing stop opened at 100 with a 5.00 trail
    stop = sell_stop(last="100")
    # then its mark is the opening price and its stop 95
    assert (stop.mark, stop.stop_price) == (D("100"), D("95.00"))


def test_sell_trailing_stop_rises_with_price_and_never_falls() -> None:
    # given a sell trailing stop at 95 (mark 100, trail 5)
    book = book_with(sell_stop(last="100"))
    # when the price rises to 103, falls back to 101, rises to 104.5
    up_103 = book.on_price(D("103"))
    back_101 = book.on_price(D("101"))
    up_1045 = book.on_price(D("104.5"))
    # then the stop follows the highs only, and each move is reported with its mark
    assert up_103.stop_changes == [StopChange("ts", D("98.00"), D("103"))]
    assert back_101.stop_changes == []
    assert up_1045.stop_changes == [StopChange("ts", D("99.50"), D("104.5"))]
    assert book.get("ts").stop_price == D("99.50")
    assert book.get("ts").mark == D("104.5")
    assert [up_103.fired, back_101.fired, up_1045.fired] == [[], [], []]


def test_sell_trailing_stop_fires_on_pull_back_to_stop() -> None:
    # given a sell trailing stop whose stop has risen to 105 (mark 110)
    book = book_with(sell_stop(last="100"))
    book.on_price(D("110"))
    # when the price pulls back to just above, then exactly to the stop
    above = book.on_price(D("105.01"))
    at = book.on_price(D("105"))
    # then it fires exactly at the stop, once
    assert above.fired == []
    assert at.fired == ["ts"]
    assert "ts" not in book
    assert book.on_price(D("90")).fired == []


def test_sell_trailing_stop_fires_on_gap_through_stop() -> None:
    book = book_with(sell_stop(last="100"))
    assert book.on_price(D("80")).fired == ["ts"]


def test_sell_stops_fire_highest_stop_first_then_insertion_order() -> None:
    # given sell stops at 95 (a), 97 (b), 95 (c)
    book = book_with(
        sell_stop("a", trail_price=D("5")),
        sell_stop("b", trail_price=D("3")),
        sell_stop("c", trail_price=D("5")),
    )
    # when the price gaps down through all of them
    fired = book.on_price(D("90")).fired
    # then the one the market reaches first fires first, equal stops in insertion order
    assert fired == ["b", "a", "c"]


# ----------------------------------------------------------------------------- buy side


def test_buy_trailing_stop_falls_with_price_and_never_rises() -> None:
    # given a buy trailing stop opened at 100 with a 5.00 trail: stop 105
    book = book_with(buy_stop(last="100"))
    assert book.get("tb").stop_price == D("105.00")
    # when the price falls to 96, bounces to 99, falls to 93.25
    down_96 = book.on_price(D("96"))
    bounce = book.on_price(D("99"))
    down_9325 = book.on_price(D("93.25"))
    # then the stop follows the lows only
    assert down_96.stop_changes == [StopChange("tb", D("101.00"), D("96"))]
    assert bounce.stop_changes == []
    assert down_9325.stop_changes == [StopChange("tb", D("98.25"), D("93.25"))]
    assert [down_96.fired, bounce.fired, down_9325.fired] == [[], [], []]


def test_buy_trailing_stop_fires_on_rebound_to_stop() -> None:
    book = book_with(buy_stop(last="100"))
    book.on_price(D("90"))  # stop now 95
    assert book.on_price(D("94.99")).fired == []
    assert book.on_price(D("95")).fired == ["tb"]
    assert len(book) == 0


def test_buy_and_sell_on_same_symbol_are_independent() -> None:
    # given a sell and a buy trailing stop at 95 / 105
    book = book_with(sell_stop(last="100"), buy_stop(last="100"))
    # when the price rises to 103 (sell stop -> 98, buy mark unchanged), then 106
    rise = book.on_price(D("103"))
    spike = book.on_price(D("106"))
    # then only the buy stop fires on the spike
    assert rise.stop_changes == [StopChange("ts", D("98.00"), D("103"))]
    assert spike.fired == ["tb"]
    assert spike.stop_changes == [StopChange("ts", D("101.00"), D("106"))]


# ----------------------------------------------------------------------------- percent + ticks


def test_percent_sell_stop_rounds_down_to_tick() -> None:
    # given a 3% sell trailing stop on an instrument with a 0.05 tick
    stop = TrailingStop.open(
        "p", "ACME", "sell", last=D("99"), tick_size=D("0.05"), trail_percent=D("3")
    )
    # then 99 * 0.97 = 96.03 rounds down (away from the market) to 96.00
    assert stop.stop_price == D("96.00")
    assert str(stop.stop_price) == "96.00"


def test_percent_buy_stop_rounds_up_to_tick() -> None:
    # given a 3% buy trailing stop, 0.05 tick: 99 * 1.03 = 101.97 rounds up to 102.00
    stop = TrailingStop.open(
        "p", "ACME", "buy", last=D("99"), tick_size=D("0.05"), trail_percent=D("3")
    )
    assert stop.stop_price == D("102.00")


def test_percent_trail_moves_only_by_whole_ticks() -> None:
    # given a 1% sell stop at mark 100 with a 0.25 tick: stop 99.00
    book = book_with(
        TrailingStop.open(
            "p", "ACME", "sell", last=D("100"), tick_size=D("0.25"), trail_percent=D("1")
        )
    )
    # when a new high gives 100.2 * 0.99 = 99.198 (same tick), then 100.3 -> 99.297
    sub_tick = book.on_price(D("100.2"))
    next_tick = book.on_price(D("100.3"))
    # then the first move is not reported (stop unchanged), the second crosses 99.25
    assert sub_tick.stop_changes == []
    assert next_tick.stop_changes == [StopChange("p", D("99.25"), D("100.3"))]
    assert book.get("p").mark == D("100.3")


@pytest.mark.parametrize(
    ("side", "mark", "tick", "trail", "expected"),
    [
        (Side.SELL, "100", "0.01", {"trail_price": D("2.5")}, "97.50"),
        (Side.SELL, "100.07", "0.05", {"trail_price": D("1")}, "99.05"),
        (Side.BUY, "100.07", "0.05", {"trail_price": D("1")}, "101.10"),
        (Side.SELL, "250", "0.5", {"trail_percent": D("2.5")}, "243.5"),
        (Side.BUY, "250", "0.5", {"trail_percent": D("2.5")}, "256.5"),
        (Side.SELL, "1234", "5", {"trail_percent": D("0.1")}, "1230"),
        (Side.BUY, "1234", "5", {"trail_percent": D("0.1")}, "1240"),
    ],
)
def test_trailing_stop_price_formula(
    side: Side, mark: str, tick: str, trail: dict[str, Decimal], expected: str
) -> None:
    assert trailing_stop_price(side, D(mark), D(tick), **trail) == D(expected)


# ----------------------------------------------------------------------------- modify


def test_modify_trail_tightens_from_current_mark() -> None:
    # given a sell stop with mark 110, trail 5: stop 105
    book = book_with(sell_stop(last="100"))
    book.on_price(D("110"))
    # when the trail is narrowed to 2
    modified = book.modify_trail("ts", trail_price=D("2"))
    # then the stop is recomputed from the mark: 108
    assert modified is not None
    assert (modified.stop_price, modified.mark, modified.trail_price) == (
        D("108.00"),
        D("110"),
        D("2"),
    )
    assert book.on_price(D("108")).fired == ["ts"]


def test_modify_trail_may_loosen_and_switch_to_percent() -> None:
    # given a sell stop with mark 110, trail 5: stop 105
    book = book_with(sell_stop(last="100"))
    book.on_price(D("110"))
    # when the trader widens it to 10%
    modified = book.modify_trail("ts", trail_percent=D("10"))
    # then the stop loosens to 99 (explicit instruction), then trails from there
    assert modified is not None
    assert (modified.stop_price, modified.trail_price, modified.trail_percent) == (
        D("99.00"),
        None,
        D("10"),
    )
    assert book.on_price(D("100")).fired == []
    assert book.on_price(D("120")).stop_changes == [StopChange("ts", D("108.00"), D("120"))]


def test_modify_trail_to_inside_the_market_fires_on_next_tick() -> None:
    # given a sell stop (mark 110, stop 105) and the market at 107
    book = book_with(sell_stop(last="100"))
    book.on_price(D("110"))
    book.on_price(D("107"))
    # when the trail is narrowed so the stop (109) is above the market
    book.modify_trail("ts", trail_price=D("1"))
    # then the next tick still below it fires it
    assert book.on_price(D("107")).fired == ["ts"]


def test_modify_trail_validates_and_ignores_unknown_ids() -> None:
    book = book_with(sell_stop())
    with pytest.raises(ValueError, match="exactly one"):
        book.modify_trail("ts")
    with pytest.raises(ValueError, match="exactly one"):
        book.modify_trail("ts", trail_price=D("1"), trail_percent=D("1"))
    with pytest.raises(ValueError):
        book.modify_trail("ts", trail_price=D("0"))
    assert book.modify_trail("nope", trail_price=D("1")) is None


# ----------------------------------------------------------------------------- restore / misc


def test_restored_stop_keeps_tighter_persisted_stop() -> None:
    # given persisted state whose mark lags the stop (sub-tick mark moves aren't persisted)
    persisted = TrailingStop(
        trigger_id="r",
        symbol="ACME",
        side=Side.SELL,
        tick_size=D("0.25"),
        mark=D("100"),  # gives 99.00 at 1%
        stop_price=D("99.25"),
        trail_percent=D("1"),
    )
    # when it is loaded
    book = TrailingBook("ACME")
    book.load([persisted])
    # then the persisted (tighter) stop is kept: restarting never loosens
    assert book.get("r").stop_price == D("99.25")
    assert book.on_price(D("99.25")).fired == ["r"]


def test_restored_stop_looser_than_its_mark_is_tightened() -> None:
    persisted = TrailingStop("r", "ACME", Side.BUY, D("0.01"), D("100"), D("110"), D("5"))
    index = TriggerIndex()
    tracked = index.add_trailing(persisted)
    assert tracked.stop_price == D("105.00")


def test_remove_trailing_stop() -> None:
    book = book_with(sell_stop("a"), sell_stop("b"))
    assert book.remove("a") is True
    assert book.remove("a") is False
    assert book.on_price(D("90")).fired == ["b"]


def test_book_rejects_other_symbol_and_duplicates() -> None:
    book = book_with(sell_stop("a"))
    with pytest.raises(ValueError, match="already tracked"):
        book.add(sell_stop("a"))
    other = TrailingStop.open(
        "x", "GLOBEX", "sell", last=D("1"), tick_size=D("0.01"), trail_price=D("0.1")
    )
    with pytest.raises(ValueError, match="GLOBEX"):
        book.add(other)


@pytest.mark.parametrize(
    "trail",
    [
        {},
        {"trail_price": D("1"), "trail_percent": D("1")},
        {"trail_price": D("0")},
        {"trail_price": D("-1")},
        {"trail_percent": D("0")},
        {"trail_percent": D("100")},
        {"trail_percent": D("NaN")},
    ],
)
def test_invalid_trails_are_rejected(trail: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError):
        TrailingStop.open("x", "ACME", "sell", last=D("100"), tick_size=D("0.01"), **trail)


def test_float_inputs_are_rejected() -> None:
    with pytest.raises(TypeError):
        TrailingStop.open("x", "ACME", "sell", last=100.0, tick_size=D("0.01"), trail_price=D("1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TrailingStop.open("x", "ACME", "sell", last=D("100"), tick_size=D("0.01"), trail_price=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TrailingStop.open("x", "ACME", "sell", last=D("100"), tick_size=D("0"), trail_price=D("1"))


# ----------------------------------------------------------------------------- via TriggerIndex


def test_index_on_tick_fires_trailing_and_reports_stop_changes() -> None:
    # given an index with a plain stop-loss and a trailing sell stop on ACME
    # and a trailing stop on GLOBEX
    index = TriggerIndex()
    index.load(
        [],
        [
            sell_stop("trail", last="100"),
            TrailingStop.open(
                "g", "GLOBEX", "sell", last=D("100"), tick_size=D("0.01"), trail_price=D("5")
            ),
        ],
    )
    index.add(Trigger("sl", "ACME", Direction.DOWN, D("90")))
    # when ACME rises to 110, then falls to 89
    rise = index.on_tick("ACME", D("110"))
    fall = index.on_tick("ACME", D("89"))
    # then the trailing stop moves to 105 and both fire on the fall (plain first);
    # GLOBEX is untouched
    assert rise.fired == []
    assert rise.stop_changes == [StopChange("trail", D("105.00"), D("110"))]
    assert fall.fired == ["sl", "trail"]
    assert len(index) == 1
    assert index.get("g") == TrailingStop.open(
        "g", "GLOBEX", "sell", last=D("100"), tick_size=D("0.01"), trail_price=D("5")
    )


def test_index_remove_and_modify_trailing() -> None:
    index = TriggerIndex()
    index.add_trailing(sell_stop("a"))
    index.add_trailing(sell_stop("b"))
    assert index.remove("a") is True
    assert "a" not in index
    modified = index.modify_trail("b", trail_percent=D("1"))
    assert modified is not None and modified.stop_price == D("99.00")
    assert index.on_price("ACME", D("99")) == ["b"]
    assert len(index) == 0
