"""Plain (non-trailing) triggers in TriggerIndex."""

from decimal import Decimal

import pytest

from orders.triggers import Direction, TrailingStop, Trigger, TriggerIndex

D = Decimal


def up(trigger_id: str, price: str, symbol: str = "ACME") -> Trigger:
    return Trigger(trigger_id, symbol, Direction.UP, D(price))


def down(trigger_id: str, price: str, symbol: str = "ACME") -> Trigger:
    return Trigger(trigger_id, symbol, Direction.DOWN, D(price))


def index_with(*triggers: Trigger) -> TriggerIndex:
    index = TriggerIndex()
    for trigger in triggers:
        index.add(trigger)
    return index


# ----------------------------------------------------------------------------- firing


def test_up_trigger_fires_at_exact_price() -> None:
    # given a buy stop at 100
    index = index_with(up("buy-stop", "100"))
    # when the price rises to just below, then exactly to 100
    below = index.on_price("ACME", D("99.99"))
    at = index.on_price("ACME", D("100"))
    # then it fires only at 100
    assert below == []
    assert at == ["buy-stop"]


def test_up_trigger_fires_when_price_gaps_through() -> None:
    # given a buy stop at 100
    index = index_with(up("buy-stop", "100"))
    # when the price jumps over it
    fired = index.on_price("ACME", D("105.5"))
    # then it fires
    assert fired == ["buy-stop"]


def test_down_trigger_fires_at_exact_price_and_through() -> None:
    # given two stop-losses at 95 and 90
    index = index_with(down("sl-95", "95"), down("sl-90", "90"))
    # when the price falls to exactly 95, then gaps to 80
    at_95 = index.on_price("ACME", D("95.00"))
    gap = index.on_price("ACME", D("80"))
    # then each fires once, when crossed
    assert at_95 == ["sl-95"]
    assert gap == ["sl-90"]


def test_price_between_up_and_down_fires_nothing() -> None:
    # given a buy stop above and a sell stop below the market
    index = index_with(up("above", "110"), down("below", "90"))
    # when the price moves between them
    fired = [index.on_price("ACME", D(p)) for p in ("100", "109.99", "90.01")]
    # then nothing fires and both stay indexed
    assert fired == [[], [], []]
    assert len(index) == 2


def test_equal_prices_fire_in_insertion_order() -> None:
    # given several triggers at the same price, added in a known order,
    # including a differently written but equal price
    index = index_with(up("u1", "100"), up("u2", "100.00"), up("u3", "100"))
    index.add(down("d1", "100"))
    index.add(down("d2", "100.0"))
    # when the price hits that level
    fired = index.on_price("ACME", D("100"))
    # then UP fire in insertion order, then DOWN in insertion order
    assert fired == ["u1", "u2", "u3", "d1", "d2"]


def test_fired_in_order_market_reaches_them() -> None:
    # given UP triggers at several prices, added out of order
    index = index_with(up("u103", "103"), up("u101", "101"), up("u102", "102"))
    index.add(down("d97", "97"))
    index.add(down("d99", "99"))
    # when the price gaps up through all UP triggers
    fired_up = index.on_price("ACME", D("104"))
    # and then gaps down through all DOWN triggers
    fired_down = index.on_price("ACME", D("90"))
    # then the nearest levels come first
    assert fired_up == ["u101", "u102", "u103"]
    assert fired_down == ["d99", "d97"]


def test_fired_triggers_never_fire_again() -> None:
    # given a trigger that has fired
    index = index_with(up("once", "100"), down("other", "50"))
    assert index.on_price("ACME", D("100")) == ["once"]
    # when the price stays through its level
    again = [index.on_price("ACME", D(p)) for p in ("101", "100", "150")]
    # then it does not fire again and is gone from the index
    assert again == [[], [], []]
    assert not index.contains("once")
    assert "once" not in index
    assert index.get("once") is None
    assert len(index) == 1


def test_trigger_added_beyond_market_fires_on_next_tick() -> None:
    # given an UP trigger whose level the market is already above
    index = index_with(up("late", "100"))
    # when the next tick is still above
    fired = index.on_price("ACME", D("120"))
    # then it fires on that tick (adding never fires)
    assert fired == ["late"]


def test_unknown_symbol_fires_nothing() -> None:
    index = index_with(up("a", "1"))
    assert index.on_price("OTHER", D("1000")) == []


def test_multiple_symbols_are_isolated() -> None:
    # given triggers at the same levels on two symbols
    index = index_with(
        up("acme-up", "100", "ACME"),
        up("globex-up", "100", "GLOBEX"),
        down("acme-down", "90", "ACME"),
        down("globex-down", "90", "GLOBEX"),
    )
    # when only ACME trades through both levels
    first = index.on_price("ACME", D("100"))
    second = index.on_price("ACME", D("90"))
    # then only ACME triggers fire; GLOBEX ones stay
    assert first == ["acme-up"]
    assert second == ["acme-down"]
    assert index.contains("globex-up")
    assert index.contains("globex-down")
    assert index.on_price("GLOBEX", D("95")) == []


# ----------------------------------------------------------------------------- remove / update


def test_remove_unindexes_and_is_idempotent() -> None:
    # given two triggers
    index = index_with(up("keep", "100"), up("cancel", "100"))
    # when one is removed (twice: a cancel can race a fire)
    first = index.remove("cancel")
    second = index.remove("cancel")
    # then only the other fires
    assert (first, second) == (True, False)
    assert index.on_price("ACME", D("100")) == ["keep"]
    assert index.remove("keep") is False  # fired ones are gone too


def test_update_price_moves_the_level() -> None:
    # given a sell stop at 90
    index = index_with(down("sl", "90"))
    # when it is raised to 95
    assert index.update_price("sl", D("95"))
    # then it fires at 95, not waiting for 90
    assert index.on_price("ACME", D("95")) == ["sl"]
    assert index.update_price("sl", D("80")) is False


def test_update_price_away_from_market_delays_firing() -> None:
    index = index_with(up("bs", "100"))
    index.update_price("bs", D("105"))
    assert index.on_price("ACME", D("104")) == []
    assert index.on_price("ACME", D("105")) == ["bs"]
    assert index.get("bs") is None


def test_update_price_loses_time_priority_unless_unchanged() -> None:
    # given three triggers at 100 in order a, b, c
    index = index_with(up("a", "100"), up("b", "100"), up("c", "100"))
    # when a is repriced away and back, and b is "repriced" to the same value
    index.update_price("a", D("101"))
    index.update_price("a", D("100"))
    index.update_price("b", D("100.00"))
    # then a goes to the back; b keeps its place
    assert index.on_price("ACME", D("100")) == ["b", "c", "a"]


def test_get_returns_current_trigger() -> None:
    index = index_with(up("a", "100"))
    index.update_price("a", D("101"))
    assert index.get("a") == up("a", "101")


# ----------------------------------------------------------------------------- load


def test_bulk_load_equals_incremental_adds() -> None:
    # given the same triggers, loaded in bulk into one index and added one by one to another
    triggers = [
        up("u1", "101"),
        down("d1", "99"),
        up("u2", "100"),
        up("u3", "101"),
        down("d2", "99"),
        up("g1", "50", "GLOBEX"),
        down("g2", "40", "GLOBEX"),
    ]
    bulk = TriggerIndex()
    bulk.load(triggers)
    incremental = index_with(*triggers)
    # when both see the same ticks
    ticks = [("ACME", "100.5"), ("ACME", "101"), ("GLOBEX", "45"), ("ACME", "98"), ("GLOBEX", "60")]
    # then they fire identically
    assert len(bulk) == len(incremental) == len(triggers)
    for symbol, last in ticks:
        assert bulk.on_price(symbol, D(last)) == incremental.on_price(symbol, D(last))
    assert len(bulk) == len(incremental) == 1


def test_load_into_non_empty_index_and_then_mutate() -> None:
    index = index_with(up("old", "100"))
    index.load([up("new", "100"), down("low", "90")])
    assert index.remove("low")
    assert index.update_price("new", D("99"))
    assert index.on_price("ACME", D("100")) == ["new", "old"]


def test_load_is_all_or_nothing() -> None:
    # given an index with one trigger
    index = index_with(up("a", "100"))
    # when a batch contains a duplicate of it
    with pytest.raises(ValueError, match="already indexed"):
        index.load([up("b", "100"), up("a", "100")])
    # or a duplicate within itself
    with pytest.raises(ValueError, match="twice"):
        index.load([up("c", "100"), down("c", "90")])
    # then nothing from either batch was indexed
    assert len(index) == 1
    assert index.on_price("ACME", D("100")) == ["a"]


# ----------------------------------------------------------------------------- validation


def test_duplicate_id_is_rejected_across_kinds() -> None:
    index = index_with(up("a", "100"))
    with pytest.raises(ValueError, match="already indexed"):
        index.add(down("a", "90", "GLOBEX"))
    trailing = TrailingStop.open(
        "a", "ACME", "sell", last=D("100"), tick_size=D("0.01"), trail_price=D("1")
    )
    with pytest.raises(ValueError, match="already indexed"):
        index.add_trailing(trailing)


def test_id_may_be_reused_after_fire() -> None:
    # the DB's compare-and-set, not the index, guards against re-activating fired rows
    index = index_with(up("a", "100"))
    index.on_price("ACME", D("100"))
    index.add(up("a", "200"))
    assert index.contains("a")


@pytest.mark.parametrize("bad_price", [100.0, 100, "100"])
def test_non_decimal_prices_are_rejected(bad_price: object) -> None:
    with pytest.raises(TypeError):
        Trigger("a", "ACME", Direction.UP, bad_price)  # type: ignore[arg-type]
    index = index_with(up("a", "100"))
    with pytest.raises(TypeError):
        index.on_price("ACME", bad_price)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_price", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_prices_are_rejected(bad_price: str) -> None:
    with pytest.raises(ValueError):
        Trigger("a", "ACME", Direction.UP, D(bad_price))
    index = index_with(up("a", "100"))
    with pytest.raises(ValueError):
        index.on_price("ACME", D(bad_price))
    with pytest.raises(ValueError):
        index.update_price("a", D(bad_price))
    assert index.get("a") == up("a", "100")


def test_direction_accepts_db_strings_and_rejects_others() -> None:
    assert Trigger("a", "ACME", "down", D("1")).direction is Direction.DOWN  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Trigger("a", "ACME", "sideways", D("1"))  # type: ignore[arg-type]


def test_plain_and_trailing_operations_are_not_mixed() -> None:
    index = index_with(up("plain", "100"))
    index.add_trailing(
        TrailingStop.open(
            "trail", "ACME", "sell", last=D("100"), tick_size=D("0.01"), trail_price=D("1")
        )
    )
    with pytest.raises(ValueError, match="modify_trail"):
        index.update_price("trail", D("95"))
    with pytest.raises(ValueError, match="not a trailing stop"):
        index.modify_trail("plain", trail_price=D("2"))
    assert index.modify_trail("missing", trail_price=D("2")) is None
