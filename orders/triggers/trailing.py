"""Trailing stops: marks that follow the market and stops that never loosen on their own.

A *sell* trailing stop protects a long position. It remembers the highest last price seen
since it was created (its high-water mark) and keeps its stop a fixed distance below that:

    stop = hwm - trail_price                or   hwm * (1 - trail_percent / 100)

It fires when ``last <= stop``. A *buy* trailing stop mirrors it: it follows the lowest
price seen (its low-water mark) and fires when ``last >= stop`` where

    stop = lwm + trail_price                or   lwm * (1 + trail_percent / 100)

The initial mark is the last price at creation, passed in by the caller.

Tick rounding
    Stops are quantized to the instrument's tick size *away from the market*: a sell stop
    rounds DOWN, a buy stop rounds UP. Rounding can therefore only make a stop trigger
    later than the exact value, never earlier — the trail a trader asked for is a minimum
    distance that rounding must not eat into. (Percent distances use ``|mark|`` so the
    formulas above still keep the stop on the far side of the mark for non-positive prices.)

Never loosening
    Market moves only ever tighten a stop: a mark only moves in the trader's favour and the
    stop is recomputed from it, kept as the tighter of the old and new values. The single
    exception is :meth:`TrailingBook.modify_trail`: a trader explicitly changing the trail
    gets a stop recomputed from the *current* mark with the new trail, which may loosen it.

Complexity (n = trailing stops of one symbol and side, all sorted containers are O(log n))
    A tick that moves nobody's mark and crosses nobody costs O(1): each side checks the
    head of two sorted lists. Otherwise a tick costs O(log n + (raised + fired) * log n),
    where *raised* is the number of stops whose mark the tick moves. That term cannot be
    avoided by a better index: every such stop's visible stop may change and has to be
    reported to the DB layer, so the work is proportional to the output. In a steadily
    trending market every new high/low therefore touches every trailing stop whose mark it
    moves.

Not thread-safe: one engine thread owns the book.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from enum import StrEnum

from sortedcontainers import SortedList

__all__ = [
    "Side",
    "StopChange",
    "TickResult",
    "TrailingBook",
    "TrailingStop",
    "trailing_stop_price",
]

# Explicit context so results never depend on whatever the thread's current context is.
_DECIMAL = Context(prec=34)
_HUNDRED = Decimal(100)
# Sorts after every int sequence number: (key, _AFTER_ALL) bounds "all entries with key <= x".
_AFTER_ALL = math.inf


class Side(StrEnum):
    """Side of the order a trailing stop would release."""

    SELL = "sell"  # trails below a high-water mark
    BUY = "buy"  # trails above a low-water mark


def _require_finite_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _validate_trail(trail_price: Decimal | None, trail_percent: Decimal | None) -> None:
    if (trail_price is None) == (trail_percent is None):
        raise ValueError("exactly one of trail_price and trail_percent must be given")
    if trail_price is not None:
        _require_finite_decimal("trail_price", trail_price)
        if trail_price <= 0:
            raise ValueError(f"trail_price must be positive, got {trail_price}")
    if trail_percent is not None:
        _require_finite_decimal("trail_percent", trail_percent)
        if not 0 < trail_percent < _HUNDRED:
            raise ValueError(f"trail_percent must be in (0, 100), got {trail_percent}")


def trailing_stop_price(
    side: Side,
    mark: Decimal,
    tick_size: Decimal,
    *,
    trail_price: Decimal | None = None,
    trail_percent: Decimal | None = None,
) -> Decimal:
    """The stop a trailing stop with this mark and trail has, rounded away from the market.

    Exactly one of ``trail_price`` / ``trail_percent`` must be given (not validated here:
    this is on the per-tick path; :class:`TrailingStop` validates on construction).
    """
    if trail_price is not None:
        distance = trail_price
    else:
        distance = _DECIMAL.divide(_DECIMAL.multiply(abs(mark), trail_percent), _HUNDRED)
    if side is Side.SELL:
        raw_stop = _DECIMAL.subtract(mark, distance)
        rounding = ROUND_FLOOR
    else:
        raw_stop = _DECIMAL.add(mark, distance)
        rounding = ROUND_CEILING
    whole_ticks = _DECIMAL.divide(raw_stop, tick_size).to_integral_value(rounding=rounding)
    # quantize: the product is an exact multiple of the tick; give it the tick's exponent so
    # the persisted/displayed value looks like a price of this instrument (101.30, not 101.3).
    return _DECIMAL.quantize(_DECIMAL.multiply(whole_ticks, tick_size), tick_size)


def _tighter(side: Side, stop_a: Decimal, stop_b: Decimal) -> Decimal:
    # A tighter sell stop is higher (closer to the market above it); a tighter buy stop lower.
    return max(stop_a, stop_b) if side is Side.SELL else min(stop_a, stop_b)


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """Immutable snapshot of a trailing stop: what callers pass in and get back.

    Construct directly to restore persisted state (``mark`` and ``stop_price`` as stored);
    use :meth:`open` for a new stop whose mark is the current last price.
    """

    trigger_id: str
    symbol: str
    side: Side
    tick_size: Decimal
    mark: Decimal  # high-water mark for SELL, low-water mark for BUY
    stop_price: Decimal
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.trigger_id, str) or not self.trigger_id:
            raise ValueError("trigger_id must be a non-empty str")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ValueError("symbol must be a non-empty str")
        object.__setattr__(self, "side", Side(self.side))
        _require_finite_decimal("tick_size", self.tick_size)
        if self.tick_size <= 0:
            raise ValueError(f"tick_size must be positive, got {self.tick_size}")
        _require_finite_decimal("mark", self.mark)
        _require_finite_decimal("stop_price", self.stop_price)
        _validate_trail(self.trail_price, self.trail_percent)

    @classmethod
    def open(
        cls,
        trigger_id: str,
        symbol: str,
        side: Side | str,
        *,
        last: Decimal,
        tick_size: Decimal,
        trail_price: Decimal | None = None,
        trail_percent: Decimal | None = None,
    ) -> TrailingStop:
        """A new trailing stop whose mark is ``last`` and whose stop is computed from it."""
        side = Side(side)
        _require_finite_decimal("last", last)
        _require_finite_decimal("tick_size", tick_size)
        if tick_size <= 0:
            raise ValueError(f"tick_size must be positive, got {tick_size}")
        _validate_trail(trail_price, trail_percent)
        stop_price = trailing_stop_price(
            side, last, tick_size, trail_price=trail_price, trail_percent=trail_percent
        )
        return cls(
            trigger_id=trigger_id,
            symbol=symbol,
            side=side,
            tick_size=tick_size,
            mark=last,
            stop_price=stop_price,
            trail_price=trail_price,
            trail_percent=trail_percent,
        )


@dataclass(frozen=True, slots=True)
class StopChange:
    """A trailing stop's visible stop moved; the DB layer persists both values.

    The mark is included so a restart (``load``) resumes from it. Mark moves that do not
    move the (tick-rounded) stop are not reported: the persisted mark may then lag by less
    than the rounding step, and restoring keeps the persisted stop anyway (see ``add``).
    """

    trigger_id: str
    stop_price: Decimal
    mark: Decimal


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick did: ids fired (and removed) and trailing stops whose stop moved."""

    fired: list[str]
    stop_changes: list[StopChange]


class _TrailingState:
    """Mutable per-stop state owned by a book; callers only ever see TrailingStop copies."""

    __slots__ = (
        "mark",
        "mark_entry",
        "seq",
        "side_book",
        "stop_entry",
        "stop_price",
        "tick_size",
        "trail_percent",
        "trail_price",
        "trigger_id",
    )

    def __init__(
        self,
        trigger_id: str,
        seq: int,
        side_book: _TrailingSide,
        tick_size: Decimal,
        trail_price: Decimal | None,
        trail_percent: Decimal | None,
        mark: Decimal,
        stop_price: Decimal,
    ) -> None:
        self.trigger_id = trigger_id
        self.seq = seq
        self.side_book = side_book
        self.tick_size = tick_size
        self.trail_price = trail_price
        self.trail_percent = trail_percent
        self.mark = mark
        self.stop_price = stop_price
        # The exact tuples stored in the sorted lists, kept so removal never has to rebuild
        # (and re-negate) a key.
        self.mark_entry = side_book.mark_entry(mark, seq, trigger_id)
        self.stop_entry = side_book.stop_entry(stop_price, seq, trigger_id)

    def computed_stop(self) -> Decimal:
        return trailing_stop_price(
            self.side_book.side,
            self.mark,
            self.tick_size,
            trail_price=self.trail_price,
            trail_percent=self.trail_percent,
        )


_Entry = tuple[Decimal, int, str]


class _TrailingSide:
    """All trailing stops of one symbol and one side, in two sorted lists.

    Keys are signed so that, for both sides, the interesting entries are a *prefix*:

    * ``marks`` holds ``(key(mark), seq, id)`` where key(mark) = mark for SELL and -mark for
      BUY. The stops a tick at ``last`` gives a new mark are exactly those with
      key(mark) < key(last).
    * ``stops`` holds ``(key(stop), seq, id)`` where key(stop) = -stop for SELL and stop for
      BUY. The stops a tick crosses (SELL: stop >= last, BUY: stop <= last) are exactly those
      with key(stop) <= key'(last), in the order the market reaches them, ties by seq.
    """

    __slots__ = ("is_sell", "marks", "side", "stops")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.is_sell = side is Side.SELL
        self.marks: SortedList = SortedList()
        self.stops: SortedList = SortedList()

    def mark_entry(self, mark: Decimal, seq: int, trigger_id: str) -> _Entry:
        return (mark if self.is_sell else -mark, seq, trigger_id)

    def stop_entry(self, stop: Decimal, seq: int, trigger_id: str) -> _Entry:
        return (-stop if self.is_sell else stop, seq, trigger_id)

    def insert(self, state: _TrailingState) -> None:
        self.marks.add(state.mark_entry)
        self.stops.add(state.stop_entry)

    def discard(self, state: _TrailingState) -> None:
        self.marks.remove(state.mark_entry)
        self.stops.remove(state.stop_entry)

    def set_stop(self, state: _TrailingState, stop_price: Decimal) -> None:
        self.stops.remove(state.stop_entry)
        state.stop_price = stop_price
        state.stop_entry = self.stop_entry(stop_price, state.seq, state.trigger_id)
        self.stops.add(state.stop_entry)

    def move_marks(
        self, last: Decimal, states: dict[str, _TrailingState], changes: list[StopChange]
    ) -> None:
        """Give every stop whose mark ``last`` beats the new mark ``last``; tighten stops."""
        marks = self.marks
        last_key = last if self.is_sell else -last
        # O(1) common case: nobody's mark is beaten by this tick.
        if not marks or marks[0][0] >= last_key:
            return
        raised_count = marks.bisect_left((last_key,))
        raised = marks[:raised_count]
        del marks[:raised_count]
        moved_entries: list[_Entry] = []
        side = self.side
        for _old_key, seq, trigger_id in raised:
            state = states[trigger_id]
            state.mark = last
            state.mark_entry = (last_key, seq, trigger_id)
            moved_entries.append(state.mark_entry)
            # Mathematically the recomputed stop is never looser (the mark moved in the
            # trader's favour and rounding is monotonic); taking the tighter one makes the
            # "never loosens on its own" contract hold by construction.
            new_stop = _tighter(side, state.stop_price, state.computed_stop())
            if new_stop != state.stop_price:
                self.set_stop(state, new_stop)
                changes.append(StopChange(trigger_id, new_stop, last))
        marks.update(moved_entries)

    def fire(self, last: Decimal, states: dict[str, _TrailingState], fired: list[str]) -> None:
        """Remove every stop ``last`` crosses and append their ids, in crossing order."""
        stops = self.stops
        fire_key = -last if self.is_sell else last
        if not stops or stops[0][0] > fire_key:
            return
        fired_count = stops.bisect_left((fire_key, _AFTER_ALL))
        crossed = stops[:fired_count]
        del stops[:fired_count]
        marks = self.marks
        for _stop_key, _seq, trigger_id in crossed:
            state = states.pop(trigger_id)
            marks.remove(state.mark_entry)
            fired.append(trigger_id)


class TrailingBook:
    """The trailing stops of one symbol (both sides).

    Ids must be unique within the book. Usually owned by a ``TriggerIndex``, which keeps ids
    unique across all triggers and routes ticks by symbol; usable on its own too.
    """

    __slots__ = ("_next_seq", "_sides", "_states", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._sides = {Side.SELL: _TrailingSide(Side.SELL), Side.BUY: _TrailingSide(Side.BUY)}
        self._states: dict[str, _TrailingState] = {}
        # Monotonic insertion counter: equal stops fire in the order they were added.
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, trigger_id: object) -> bool:
        return trigger_id in self._states

    def _new_state(self, stop: TrailingStop) -> _TrailingState:
        if not isinstance(stop, TrailingStop):
            raise TypeError(f"expected TrailingStop, got {type(stop).__name__}")
        if stop.symbol != self.symbol:
            raise ValueError(f"stop {stop.trigger_id} is for {stop.symbol}, not {self.symbol}")
        side_book = self._sides[stop.side]
        computed = trailing_stop_price(
            stop.side,
            stop.mark,
            stop.tick_size,
            trail_price=stop.trail_price,
            trail_percent=stop.trail_percent,
        )
        seq = self._next_seq
        self._next_seq += 1
        return _TrailingState(
            trigger_id=stop.trigger_id,
            seq=seq,
            side_book=side_book,
            tick_size=stop.tick_size,
            trail_price=stop.trail_price,
            trail_percent=stop.trail_percent,
            mark=stop.mark,
            # A restored stop keeps its persisted value when that is tighter than what the
            # (possibly slightly stale) persisted mark gives: restarting must not loosen it.
            stop_price=_tighter(stop.side, stop.stop_price, computed),
        )

    def add(self, stop: TrailingStop) -> TrailingStop:
        """Track ``stop``; returns its state as tracked (the stop may have been tightened).

        Raises ValueError if the id is already in the book or the symbol does not match.
        A stop already crossed by the market fires on the next tick, not here.
        """
        if stop.trigger_id in self._states:
            raise ValueError(f"trigger {stop.trigger_id} is already tracked")
        state = self._new_state(stop)
        self._states[state.trigger_id] = state
        state.side_book.insert(state)
        return self._snapshot(state)

    def load(self, stops: Iterable[TrailingStop]) -> None:
        """Bulk add (e.g. rebuilding from the DB): validates everything, then sorts once."""
        new_states: list[_TrailingState] = []
        seen: set[str] = set()
        for stop in stops:
            if stop.trigger_id in self._states or stop.trigger_id in seen:
                raise ValueError(f"trigger {stop.trigger_id} is already tracked")
            seen.add(stop.trigger_id)
            new_states.append(self._new_state(stop))
        for side, side_book in self._sides.items():
            of_side = [state for state in new_states if state.side_book.side is side]
            side_book.marks.update(state.mark_entry for state in of_side)
            side_book.stops.update(state.stop_entry for state in of_side)
        self._states.update((state.trigger_id, state) for state in new_states)

    def remove(self, trigger_id: str) -> bool:
        """Stop tracking; False if it is not tracked (never added, removed, or fired)."""
        state = self._states.pop(trigger_id, None)
        if state is None:
            return False
        state.side_book.discard(state)
        return True

    def get(self, trigger_id: str) -> TrailingStop | None:
        state = self._states.get(trigger_id)
        return None if state is None else self._snapshot(state)

    def modify_trail(
        self,
        trigger_id: str,
        *,
        trail_price: Decimal | None = None,
        trail_percent: Decimal | None = None,
    ) -> TrailingStop | None:
        """Replace the trail (exactly one of the two) and recompute the stop from the mark.

        This is the one operation allowed to loosen a stop: it is an explicit instruction
        from the trader, so the stop becomes exactly what the new trail gives at the current
        mark. Returns the new state, or None if the id is not tracked. A stop the market has
        already crossed fires on the next tick.
        """
        _validate_trail(trail_price, trail_percent)
        state = self._states.get(trigger_id)
        if state is None:
            return None
        state.trail_price = trail_price
        state.trail_percent = trail_percent
        new_stop = state.computed_stop()
        if new_stop != state.stop_price:
            state.side_book.set_stop(state, new_stop)
        return self._snapshot(state)

    def on_price(self, last: Decimal) -> TickResult:
        """Apply a tick: move marks, tighten stops, fire and remove crossed stops.

        ``fired`` lists sell stops first (highest stop first), then buy stops (lowest stop
        first); equal stops in insertion order. Marks move before the crossing check, so a
        stop tightened by this tick is checked against its new stop (which, being at least
        one trail distance away from ``last``, it normally cannot cross).
        """
        _require_finite_decimal("last", last)
        fired: list[str] = []
        changes: list[StopChange] = []
        states = self._states
        if states:
            for side_book in self._sides.values():
                side_book.move_marks(last, states, changes)
                side_book.fire(last, states, fired)
        return TickResult(fired, changes)

    def _snapshot(self, state: _TrailingState) -> TrailingStop:
        return TrailingStop(
            trigger_id=state.trigger_id,
            symbol=self.symbol,
            side=state.side_book.side,
            tick_size=state.tick_size,
            mark=state.mark,
            stop_price=state.stop_price,
            trail_price=state.trail_price,
            trail_percent=state.trail_percent,
        )
