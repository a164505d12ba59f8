"""The one registry shape: upper apps register callables here from `AppConfig.ready()`.

A lower layer that must reach an upper one (a tick must reach the triggers, a kill switch
must reach notifications) keeps a `Registry` and the upper app registers into it (DESIGN.md:
no hidden signals). Entries are keyed (a name, or the callable itself where the caller has
no name for it) and kept in registration order; registering a key again replaces its entry
in place, so a second `ready()` (tests, autoreload) never doubles anything.

    TICK_LISTENERS: Registry[TickListener] = Registry("tick listener")
    TICK_LISTENERS.register("orders.triggers", triggers_on_tick)
    TICK_LISTENERS.call_all(tick, on_error=LogAndContinue(logger, "Tick listener %s failed"))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MISSING: Any = object()


@dataclass(frozen=True)
class LogAndContinue:
    """`call_all`'s policy for entries that must not stop the others: log and go on.

    `message` is a %-format whose first argument is the failing entry's key, followed by what
    `describe` returns when given the call's own arguments (only computed on a failure, so a
    policy built once at import costs nothing per call).
    """

    logger: logging.Logger
    message: str
    describe: Callable[..., tuple[object, ...]] | None = None


class Registry(Generic[T]):
    """Entries by key, in registration order. `label` names one entry in error messages."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._entries: dict[Hashable, T] = {}
        # Copies as of the last change: call_all and values() run on hot paths (every tick)
        # and read these instead of copying the dict on each call.
        self._items: tuple[tuple[Hashable, T], ...] = ()
        self._values: tuple[T, ...] = ()

    def __repr__(self) -> str:
        return f"<Registry {self.label!r}: {list(self._entries)!r}>"

    def register(self, key: Hashable, entry: T) -> T:
        """Add `entry` under `key`; a key registered again keeps its place, new entry."""
        self._entries[key] = entry
        self._changed()
        return entry

    def unregister(self, key: Hashable) -> None:
        """Remove `key`'s entry; a key that is not registered is ignored."""
        self._entries.pop(key, None)
        self._changed()

    def _changed(self) -> None:
        self._items = tuple(self._entries.items())
        self._values = tuple(self._entries.values())

    def get(self, key: Hashable, default: Any = _MISSING) -> T:
        """The entry under `key`; without a default, a missing key raises LookupError."""
        try:
            return self._entries[key]
        except KeyError:
            if default is not _MISSING:
                return default
            raise LookupError(f"no {self.label} registered for {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(tuple(self._entries))

    def keys(self) -> tuple[Hashable, ...]:
        return tuple(self._entries)

    def values(self) -> tuple[T, ...]:
        return self._values

    def items(self) -> tuple[tuple[Hashable, T], ...]:
        return self._items

    def call_all(self, *args: Any, on_error: LogAndContinue | None = None, **kwargs: Any) -> None:
        """Call every entry in order with the same arguments.

        Without `on_error` the first failure propagates (with a note naming the entry) and
        the later entries do not run; with `LogAndContinue` each failure is logged with its
        traceback and the others still run. The entries are read once, before the first
        call, so an entry that registers another does not change this round.
        """
        for key, entry in self._items:
            try:
                entry(*args, **kwargs)  # type: ignore[operator]
            except Exception as exc:  # isolated or re-raised by the caller's choice
                if on_error is None:
                    exc.add_note(f"raised by {self.label} {key!r}")
                    raise
                details = on_error.describe(*args, **kwargs) if on_error.describe else ()
                on_error.logger.exception(on_error.message, key, *details)

    def snapshot(self) -> dict[Hashable, T]:
        """The current entries (to put back with `restore`)."""
        return dict(self._entries)

    def restore(self, saved: Mapping[Hashable, T]) -> None:
        """Replace every entry with `saved` (keys in its order)."""
        self._entries = dict(saved)
        self._changed()

    @contextmanager
    def overridden(self, entries: Mapping[Hashable, T] | None = None) -> Iterator[Registry[T]]:
        """Within the block the registry holds only `entries`; afterwards, what it held."""
        saved = self.snapshot()
        self.restore(entries or {})
        try:
            yield self
        finally:
            self.restore(saved)
