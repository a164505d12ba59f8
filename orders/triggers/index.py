"""In-memory index of price triggers for the trigger engine (pure Python, no Django).

A trigger is ``(trigger_id, symbol, direction, price)``:

* ``UP`` fires when ``last >= price`` (e.g. a buy stop, a GTT created below its level);
* ``DOWN`` fires when ``last <= price`` (e.g. a sell stop / stop-loss).

Trailing stops (see :mod:`orders.triggers.trailing`) live in the same index and share its
id namespace, so ``remove`` / ``contains`` / ``len`` work uniformly for both kinds.

Firing exactly once
    ``on_price`` / ``on_tick`` *remove* every trigger they return, so within one process a
    trigger can fire at most once. Across processes and restarts that is not enough (two
    engine instances, or a crash between firing and persisting), so the DB layer must also
    claim each fired trigger with a compare-and-set on the trigger row's status, e.g.
    ``UPDATE ... SET status='triggered' WHERE id=%s AND status='active'`` and act only if
    one row was updated. At start-up the index is rebuilt from the active rows with
    :meth:`TriggerIndex.load`.

Evaluation happens on ticks only
    Adding (or repricing) a trigger that the market has already crossed does not fire it;
    it fires on the next tick of its symbol that still crosses it. Whether to reject such a
    trigger at creation or fire it immediately is the caller's decision.

Data layout and complexity
    Per symbol, ``UP`` triggers sit in a sorted list keyed ``(price, seq)`` and ``DOWN``
    triggers in one keyed ``(-price, seq)``. A tick at ``last`` fires a *prefix* of each
    (``price <= last`` resp. ``price >= last``), found by bisection and cut off the front.
    ``seq`` is a global insertion counter, so equal prices fire in insertion order and
    prices fire in the order the market reaches them.

    * ``on_price`` with nothing crossed: O(1) (peek at the head of two lists);
    * ``on_price`` firing k triggers: O(log n + k log n) — each removal from a
      ``SortedList`` costs amortised O(log n) (in practice close to O(1) per item);
    * ``add`` / ``remove`` / ``update_price``: O(log n);
    * ``load`` of m triggers: one sort, O((n + m) log(n + m)).

    Trailing stops add the costs documented in :mod:`orders.triggers.trailing`.

Not thread-safe: one engine thread owns the index and feeds it ticks in order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import chain

from sortedcontainers import SortedList

from orders.triggers.trailing import StopChange, TickResult, TrailingBook, TrailingStop

__all__ = ["Direction", "Trigger", "TriggerIndex"]

# Sorts after every int sequence number: (key, _AFTER_ALL) bounds "all entries with key <= x".
_AFTER_ALL = math.inf

_Entry = tuple[Decimal, int, str]  # (signed price key, seq, trigger_id)


class Direction(StrEnum):
    UP = "up"  # fires when last >= price
    DOWN = "down"  # fires when last <= price


def _require_last_price(last: object) -> Decimal:
    if not isinstance(last, Decimal):
        raise TypeError(f"last must be a Decimal, got {type(last).__name__}")
    if not last.is_finite():
        raise ValueError(f"last must be finite, got {last}")
    return last


@dataclass(frozen=True, slots=True)
class Trigger:
    trigger_id: str
    symbol: str
    direction: Direction
    price: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.trigger_id, str) or not self.trigger_id:
            raise ValueError("trigger_id must be a non-empty str")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ValueError("symbol must be a non-empty str")
        # Accept the plain strings stored in the DB ("up"/"down"); always hold the enum.
        object.__setattr__(self, "direction", Direction(self.direction))
        if not isinstance(self.price, Decimal):
            raise TypeError(f"price must be a Decimal, got {type(self.price).__name__}")
        if not self.price.is_finite():
            raise ValueError(f"price must be finite, got {self.price}")


class _SymbolBook:
    """Everything indexed for one symbol."""

    __slots__ = ("down", "trailing", "up")

    def __init__(self, symbol: str) -> None:
        self.up: SortedList = SortedList()  # (price, seq, id): fired = prefix price <= last
        self.down: SortedList = SortedList()  # (-price, seq, id): fired = prefix price >= last
        self.trailing = TrailingBook(symbol)


class _PlainLocation:
    """Where a plain trigger is stored, so remove/update are a dict lookup plus O(log n)."""

    __slots__ = ("entry", "sorted_list", "trigger")

    def __init__(self, trigger: Trigger, sorted_list: SortedList, entry: _Entry) -> None:
        self.trigger = trigger
        self.sorted_list = sorted_list
        self.entry = entry


class TriggerIndex:
    """All active triggers and trailing stops of the process, indexed for per-tick firing."""

    __slots__ = ("_books", "_next_seq", "_plain", "_trailing_books")

    def __init__(self) -> None:
        self._books: dict[str, _SymbolBook] = {}
        self._plain: dict[str, _PlainLocation] = {}
        self._trailing_books: dict[str, TrailingBook] = {}  # trailing stop id -> its book
        self._next_seq = 0

    # ----------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._plain) + len(self._trailing_books)

    def contains(self, trigger_id: str) -> bool:
        """True while the trigger is indexed (not yet fired or removed)."""
        return trigger_id in self._plain or trigger_id in self._trailing_books

    __contains__ = contains

    def get(self, trigger_id: str) -> Trigger | TrailingStop | None:
        """The indexed trigger (a copy for trailing stops), or None."""
        location = self._plain.get(trigger_id)
        if location is not None:
            return location.trigger
        book = self._trailing_books.get(trigger_id)
        return None if book is None else book.get(trigger_id)

    # ----------------------------------------------------------------- mutation

    def add(self, trigger: Trigger) -> None:
        """Index a plain trigger. Raises ValueError if the id is already indexed."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"expected Trigger, got {type(trigger).__name__}")
        self._require_new_id(trigger.trigger_id)
        self._insert_plain(trigger)

    def add_trailing(self, stop: TrailingStop) -> TrailingStop:
        """Index a trailing stop; returns it as tracked (a restored stop keeps the tighter of
        its persisted stop and the one its mark gives). Raises ValueError on a duplicate id.
        """
        if not isinstance(stop, TrailingStop):
            raise TypeError(f"expected TrailingStop, got {type(stop).__name__}")
        self._require_new_id(stop.trigger_id)
        book = self._book(stop.symbol).trailing
        tracked = book.add(stop)
        self._trailing_books[stop.trigger_id] = book
        return tracked

    def load(
        self, triggers: Iterable[Trigger] = (), trailing_stops: Iterable[TrailingStop] = ()
    ) -> None:
        """Bulk-index triggers (start-up rebuild from the DB).

        Everything is validated before anything is indexed, so a failure leaves the index
        unchanged. Sorted lists are built with one sort each instead of n insertions. Within
        ``triggers``, iteration order is insertion order (ties at equal prices fire in it) —
        pass rows ordered by creation to preserve their original priority.
        """
        triggers = list(triggers)
        trailing_stops = list(trailing_stops)
        for trigger in triggers:
            if not isinstance(trigger, Trigger):
                raise TypeError(f"expected Trigger, got {type(trigger).__name__}")
        for stop in trailing_stops:
            if not isinstance(stop, TrailingStop):
                raise TypeError(f"expected TrailingStop, got {type(stop).__name__}")
        seen: set[str] = set()
        for item in chain(triggers, trailing_stops):
            if item.trigger_id in seen:
                raise ValueError(f"trigger {item.trigger_id} appears twice")
            seen.add(item.trigger_id)
            self._require_new_id(item.trigger_id)

        new_entries: dict[tuple[str, Direction], list[_Entry]] = defaultdict(list)
        plain = self._plain
        for trigger in triggers:
            sorted_list, entry = self._slot_for(trigger)
            new_entries[(trigger.symbol, trigger.direction)].append(entry)
            plain[trigger.trigger_id] = _PlainLocation(trigger, sorted_list, entry)
        for (symbol, direction), entries in new_entries.items():
            book = self._books[symbol]
            # One sort per list instead of len(entries) insertions.
            (book.up if direction is Direction.UP else book.down).update(entries)

        trailing_by_symbol: dict[str, list[TrailingStop]] = defaultdict(list)
        for stop in trailing_stops:
            trailing_by_symbol[stop.symbol].append(stop)
        for symbol, stops in trailing_by_symbol.items():
            book = self._book(symbol).trailing
            book.load(stops)
            for stop in stops:
                self._trailing_books[stop.trigger_id] = book

    def remove(self, trigger_id: str) -> bool:
        """Un-index a trigger of either kind. False if it is not indexed (e.g. already fired,
        which is the normal outcome of a cancel racing a fire)."""
        location = self._plain.pop(trigger_id, None)
        if location is not None:
            location.sorted_list.remove(location.entry)
            return True
        book = self._trailing_books.pop(trigger_id, None)
        if book is not None:
            book.remove(trigger_id)
            return True
        return False

    def update_price(self, trigger_id: str, new_price: Decimal) -> bool:
        """Reprice a plain trigger. False if it is not indexed.

        A changed price loses time priority (the trigger goes behind others already at
        ``new_price``, like an amended order); an unchanged price keeps it. Raises ValueError
        for a trailing stop — use :meth:`modify_trail`.
        """
        location = self._plain.get(trigger_id)
        if location is None:
            if trigger_id in self._trailing_books:
                raise ValueError(f"{trigger_id} is a trailing stop; use modify_trail")
            return False
        old = location.trigger
        repriced = Trigger(old.trigger_id, old.symbol, old.direction, new_price)
        if repriced.price == old.price:
            location.trigger = repriced
            return True
        location.sorted_list.remove(location.entry)
        del self._plain[trigger_id]
        self._insert_plain(repriced)
        return True

    def modify_trail(
        self,
        trigger_id: str,
        *,
        trail_price: Decimal | None = None,
        trail_percent: Decimal | None = None,
    ) -> TrailingStop | None:
        """Change a trailing stop's trail; the stop is recomputed from the current mark and
        may loosen (explicit trader instruction). None if not indexed; ValueError for a
        plain trigger."""
        book = self._trailing_books.get(trigger_id)
        if book is None:
            if trigger_id in self._plain:
                raise ValueError(f"{trigger_id} is not a trailing stop")
            return None
        return book.modify_trail(trigger_id, trail_price=trail_price, trail_percent=trail_percent)

    # ----------------------------------------------------------------- ticks

    def on_price(self, symbol: str, last: Decimal) -> list[str]:
        """Fire (return and un-index) every trigger of ``symbol`` that ``last`` crosses.

        Order: UP triggers by ascending price, then DOWN triggers by descending price, then
        trailing stops (see ``TrailingBook.on_price``); equal prices in insertion order.

        Trailing stops of the symbol are processed too (their marks must see every tick),
        but their stop changes are dropped here: an engine with trailing stops should call
        :meth:`on_tick` to be able to persist them.
        """
        return self.on_tick(symbol, last).fired

    def on_tick(self, symbol: str, last: Decimal) -> TickResult:
        """Like :meth:`on_price`, also returning trailing stops whose stop price moved."""
        _require_last_price(last)
        book = self._books.get(symbol)
        if book is None:
            return TickResult([], [])
        fired: list[str] = []
        plain = self._plain

        up = book.up
        # Head peeks make the common "nothing crossed" tick O(1).
        if up and up[0][0] <= last:
            crossed_count = up.bisect_left((last, _AFTER_ALL))
            crossed = up[:crossed_count]
            del up[:crossed_count]
            for _price, _seq, trigger_id in crossed:
                del plain[trigger_id]
                fired.append(trigger_id)

        down = book.down
        if down:
            down_key = -last
            if down[0][0] <= down_key:
                crossed_count = down.bisect_left((down_key, _AFTER_ALL))
                crossed = down[:crossed_count]
                del down[:crossed_count]
                for _neg_price, _seq, trigger_id in crossed:
                    del plain[trigger_id]
                    fired.append(trigger_id)

        stop_changes: list[StopChange] = []
        trailing = book.trailing
        if len(trailing):
            trailing_result = trailing.on_price(last)
            trailing_books = self._trailing_books
            for trigger_id in trailing_result.fired:
                del trailing_books[trigger_id]
            fired.extend(trailing_result.fired)
            stop_changes = trailing_result.stop_changes
        return TickResult(fired, stop_changes)

    # ----------------------------------------------------------------- internals

    def _book(self, symbol: str) -> _SymbolBook:
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _SymbolBook(symbol)
        return book

    def _require_new_id(self, trigger_id: str) -> None:
        if trigger_id in self._plain or trigger_id in self._trailing_books:
            raise ValueError(f"trigger {trigger_id} is already indexed")

    def _slot_for(self, trigger: Trigger) -> tuple[SortedList, _Entry]:
        """The list a trigger belongs in and its entry, consuming the next sequence number."""
        book = self._book(trigger.symbol)
        seq = self._next_seq
        self._next_seq += 1
        if trigger.direction is Direction.UP:
            return book.up, (trigger.price, seq, trigger.trigger_id)
        return book.down, (-trigger.price, seq, trigger.trigger_id)

    def _insert_plain(self, trigger: Trigger) -> None:
        sorted_list, entry = self._slot_for(trigger)
        sorted_list.add(entry)
        self._plain[trigger.trigger_id] = _PlainLocation(trigger, sorted_list, entry)
