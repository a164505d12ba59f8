"""Property tests: TriggerIndex against a naive list-scan reference model.

The reference keeps every live trigger in a dict and evaluates each tick by scanning all
of them, with the firing order spelled out explicitly. Random sequences of add / remove /
update_price / add_trailing / modify_trail / ticks must give identical fired lists (same
ids, same order), identical trailing stop changes, and no id may fire twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from orders.triggers import Direction, Side, TrailingStop, Trigger, TriggerIndex

SYMBOLS = ("ACME", "GLOBEX")
TICK_SIZES = (Decimal("0.01"), Decimal("0.05"), Decimal("0.25"), Decimal("1"))
TRAIL_PRICES = (Decimal("0.5"), Decimal("1"), Decimal("2.5"), Decimal("7"))
TRAIL_PERCENTS = (Decimal("0.5"), Decimal("1"), Decimal("3"), Decimal("12.5"))


def half_steps(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Prices on a 0.5 grid in [low, high], written with varying exponents.

    A coarse grid makes equal prices (ties) and exact hits common; varying the exponent
    checks that 100, 100.0 and 100.00 are treated as the same price.
    """
    return st.builds(
        lambda halves, exponent: (Decimal(halves) / 2).quantize(Decimal(exponent)),
        st.integers(2 * low, 2 * high),
        st.sampled_from(["0.1", "0.01", "0.001"]),
    )


trigger_prices = half_steps(95, 105)
tick_prices = half_steps(92, 108)
trails = st.one_of(
    st.sampled_from(TRAIL_PRICES).map(lambda amount: {"trail_price": amount}),
    st.sampled_from(TRAIL_PERCENTS).map(lambda pct: {"trail_percent": pct}),
)


# ----------------------------------------------------------------------------- reference model


def reference_stop(
    side: Side,
    mark: Decimal,
    tick_size: Decimal,
    trail_price: Decimal | None,
    trail_percent: Decimal | None,
) -> Decimal:
    distance = trail_price if trail_price is not None else abs(mark) * trail_percent / 100
    if side is Side.SELL:
        return math.floor((mark - distance) / tick_size) * tick_size
    return math.ceil((mark + distance) / tick_size) * tick_size


@dataclass
class RefPlain:
    trigger_id: str
    symbol: str
    direction: Direction
    price: Decimal
    seq: int


@dataclass
class RefTrailing:
    trigger_id: str
    symbol: str
    side: Side
    tick_size: Decimal
    trail_price: Decimal | None
    trail_percent: Decimal | None
    mark: Decimal
    stop: Decimal
    seq: int


class ReferenceIndex:
    def __init__(self) -> None:
        self.plain: dict[str, RefPlain] = {}
        self.trailing: dict[str, RefTrailing] = {}
        self.next_seq = 0

    def _seq(self) -> int:
        self.next_seq += 1
        return self.next_seq

    def __len__(self) -> int:
        return len(self.plain) + len(self.trailing)

    def contains(self, trigger_id: str) -> bool:
        return trigger_id in self.plain or trigger_id in self.trailing

    def add(self, trigger: Trigger) -> None:
        self.plain[trigger.trigger_id] = RefPlain(
            trigger.trigger_id, trigger.symbol, trigger.direction, trigger.price, self._seq()
        )

    def add_trailing(self, stop: TrailingStop) -> None:
        self.trailing[stop.trigger_id] = RefTrailing(
            stop.trigger_id,
            stop.symbol,
            stop.side,
            stop.tick_size,
            stop.trail_price,
            stop.trail_percent,
            stop.mark,
            stop.stop_price,
            self._seq(),
        )

    def remove(self, trigger_id: str) -> bool:
        return (
            self.plain.pop(trigger_id, None) is not None
            or self.trailing.pop(trigger_id, None) is not None
        )

    def update_price(self, trigger_id: str, price: Decimal) -> bool:
        trigger = self.plain.get(trigger_id)
        if trigger is None:
            return False
        if trigger.price != price:
            trigger.price = price
            trigger.seq = self._seq()  # repricing loses time priority
        return True

    def modify_trail(self, trigger_id: str, trail: dict[str, Decimal]) -> RefTrailing | None:
        stop = self.trailing.get(trigger_id)
        if stop is None:
            return None
        stop.trail_price = trail.get("trail_price")
        stop.trail_percent = trail.get("trail_percent")
        stop.stop = reference_stop(
            stop.side, stop.mark, stop.tick_size, stop.trail_price, stop.trail_percent
        )
        return stop

    def on_tick(
        self, symbol: str, last: Decimal
    ) -> tuple[list[str], dict[str, tuple[Decimal, Decimal]]]:
        ups = [t for t in self.plain.values() if t.symbol == symbol and t.direction == "up"]
        downs = [t for t in self.plain.values() if t.symbol == symbol and t.direction == "down"]
        fired_up = sorted((t for t in ups if last >= t.price), key=lambda t: (t.price, t.seq))
        fired_down = sorted((t for t in downs if last <= t.price), key=lambda t: (-t.price, t.seq))

        changes: dict[str, tuple[Decimal, Decimal]] = {}
        trailing = [s for s in self.trailing.values() if s.symbol == symbol]
        for stop in trailing:
            is_sell = stop.side is Side.SELL
            if (is_sell and last > stop.mark) or (not is_sell and last < stop.mark):
                stop.mark = last
                computed = reference_stop(
                    stop.side, last, stop.tick_size, stop.trail_price, stop.trail_percent
                )
                tighter = max(stop.stop, computed) if is_sell else min(stop.stop, computed)
                if tighter != stop.stop:
                    stop.stop = tighter
                    changes[stop.trigger_id] = (tighter, last)
        fired_sell = sorted(
            (s for s in trailing if s.side is Side.SELL and last <= s.stop),
            key=lambda s: (-s.stop, s.seq),
        )
        fired_buy = sorted(
            (s for s in trailing if s.side is Side.BUY and last >= s.stop),
            key=lambda s: (s.stop, s.seq),
        )

        fired = [t.trigger_id for t in fired_up + fired_down]
        fired += [s.trigger_id for s in fired_sell + fired_buy]
        for trigger_id in fired:
            self.remove(trigger_id)
        return fired, changes


# ----------------------------------------------------------------------------- state machine


class TriggerIndexMachine(RuleBasedStateMachine):
    # Every id ever created (live, removed or fired): operations on dead ids must be no-ops.
    trigger_ids = Bundle("trigger_ids")

    def __init__(self) -> None:
        super().__init__()
        self.index = TriggerIndex()
        self.reference = ReferenceIndex()
        self.ids_created: list[str] = []
        self.ids_fired: set[str] = set()
        self.id_counter = 0

    def _new_id(self) -> str:
        self.id_counter += 1
        trigger_id = f"t{self.id_counter}"
        self.ids_created.append(trigger_id)
        return trigger_id

    @initialize(
        target=trigger_ids,
        plain=st.lists(
            st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(Direction), trigger_prices),
            max_size=20,
        ),
        trailing=st.lists(
            st.tuples(
                st.sampled_from(SYMBOLS),
                st.sampled_from(Side),
                trigger_prices,
                st.sampled_from(TICK_SIZES),
                trails,
            ),
            max_size=8,
        ),
    )
    def bulk_load(self, plain: list, trailing: list) -> MultipleResults[str]:
        # given an index rebuilt from the DB in one go
        triggers = [Trigger(self._new_id(), *fields) for fields in plain]
        stops = [
            TrailingStop.open(self._new_id(), symbol, side, last=last, tick_size=tick, **trail)
            for symbol, side, last, tick, trail in trailing
        ]
        self.index.load(triggers, stops)
        for trigger in triggers:
            self.reference.add(trigger)
        for stop in stops:
            self.reference.add_trailing(stop)
        return multiple(*(item.trigger_id for item in [*triggers, *stops]))

    @rule(
        target=trigger_ids,
        symbol=st.sampled_from(SYMBOLS),
        direction=st.sampled_from(Direction),
        price=trigger_prices,
    )
    def add(self, symbol: str, direction: Direction, price: Decimal) -> str:
        trigger = Trigger(self._new_id(), symbol, direction, price)
        self.index.add(trigger)
        self.reference.add(trigger)
        return trigger.trigger_id

    @rule(
        target=trigger_ids,
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        last=trigger_prices,
        tick_size=st.sampled_from(TICK_SIZES),
        trail=trails,
    )
    def add_trailing(
        self, symbol: str, side: Side, last: Decimal, tick_size: Decimal, trail: dict
    ) -> str:
        stop = TrailingStop.open(
            self._new_id(), symbol, side, last=last, tick_size=tick_size, **trail
        )
        tracked = self.index.add_trailing(stop)
        assert tracked == stop
        self.reference.add_trailing(stop)
        return stop.trigger_id

    @rule(trigger_id=trigger_ids)
    def remove(self, trigger_id: str) -> None:
        # the id may already be removed or fired (a cancel racing a fire)
        assert self.index.remove(trigger_id) == self.reference.remove(trigger_id)

    @rule(trigger_id=trigger_ids, price=trigger_prices)
    def update_price(self, trigger_id: str, price: Decimal) -> None:
        if trigger_id in self.reference.trailing:
            return  # rejected with ValueError; covered by the example tests
        assert self.index.update_price(trigger_id, price) == self.reference.update_price(
            trigger_id, price
        )

    @rule(trigger_id=trigger_ids, other_id=trigger_ids)
    def update_price_to_tie(self, trigger_id: str, other_id: str) -> None:
        # Repricing onto another trigger's level makes time-priority ties likely, which
        # random prices rarely produce.
        other = self.reference.plain.get(other_id)
        if other is None or trigger_id in self.reference.trailing:
            return
        self.update_price(trigger_id, other.price)

    @rule(trigger_id=trigger_ids, trail=trails)
    def modify_trail(self, trigger_id: str, trail: dict) -> None:
        if trigger_id in self.reference.plain:
            return  # rejected with ValueError; covered by the example tests
        modified = self.index.modify_trail(trigger_id, **trail)
        expected = self.reference.modify_trail(trigger_id, trail)
        if expected is None:
            assert modified is None
        else:
            assert modified is not None
            assert (modified.stop_price, modified.mark) == (expected.stop, expected.mark)

    @rule(symbol=st.sampled_from(SYMBOLS), last=tick_prices)
    def tick(self, symbol: str, last: Decimal) -> None:
        result = self.index.on_tick(symbol, last)
        expected_fired, expected_changes = self.reference.on_tick(symbol, last)
        # then the same triggers fire, in the same order
        assert result.fired == expected_fired
        changes = {c.trigger_id: (c.stop_price, c.mark) for c in result.stop_changes}
        assert len(changes) == len(result.stop_changes)  # each stop reported at most once
        assert changes == expected_changes
        # and nothing fires twice
        assert self.ids_fired.isdisjoint(result.fired)
        assert len(set(result.fired)) == len(result.fired)
        self.ids_fired.update(result.fired)

    @invariant()
    def same_contents(self) -> None:
        assert len(self.index) == len(self.reference)
        for trigger_id in self.ids_created:
            assert self.index.contains(trigger_id) == self.reference.contains(trigger_id)
        for trigger_id, expected in self.reference.trailing.items():
            tracked = self.index.get(trigger_id)
            assert isinstance(tracked, TrailingStop)
            assert (tracked.stop_price, tracked.mark) == (expected.stop, expected.mark)
            # a sell stop is below its mark, a buy stop above it
            if expected.side is Side.SELL:
                assert tracked.stop_price < tracked.mark
            else:
                assert tracked.stop_price > tracked.mark


TriggerIndexMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_trigger_index_matches_reference = TriggerIndexMachine.TestCase


# ----------------------------------------------------------------------------- load vs add


@settings(max_examples=100, deadline=None)
@given(
    plain=st.lists(
        st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(Direction), trigger_prices),
        max_size=40,
    ),
    trailing=st.lists(
        st.tuples(
            st.sampled_from(SYMBOLS),
            st.sampled_from(Side),
            trigger_prices,
            st.sampled_from(TICK_SIZES),
            trails,
        ),
        max_size=10,
    ),
    ticks=st.lists(st.tuples(st.sampled_from(SYMBOLS), tick_prices), max_size=30),
)
def test_bulk_load_behaves_like_incremental_adds(
    plain: list, trailing: list, ticks: list[tuple[str, Decimal]]
) -> None:
    # given the same triggers loaded in bulk and added one at a time
    triggers = [Trigger(f"p{i}", *fields) for i, fields in enumerate(plain)]
    stops = [
        TrailingStop.open(f"s{i}", symbol, side, last=last, tick_size=tick, **trail)
        for i, (symbol, side, last, tick, trail) in enumerate(trailing)
    ]
    bulk = TriggerIndex()
    bulk.load(triggers, stops)
    incremental = TriggerIndex()
    for trigger in triggers:
        incremental.add(trigger)
    for stop in stops:
        incremental.add_trailing(stop)
    assert len(bulk) == len(incremental) == len(triggers) + len(stops)
    # when both see the same ticks, then they behave identically
    for symbol, last in ticks:
        assert bulk.on_tick(symbol, last) == incremental.on_tick(symbol, last)
        assert len(bulk) == len(incremental)
