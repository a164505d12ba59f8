"""The orders core's hooks: how the automation wing (and other apps) take part in an
order's life without the core importing them (DESIGN.md: core never imports automation).

Each hook is registered by name from an `AppConfig.ready()` into a `Registry`
(oms_site.registry: a second registration under the same name replaces the first, so tests
and autoreload do not double it) and called in registration order:

* change hooks — `hook(*, order, from_status, event_type, data)`: a status change (or a
  late fill) of an order that takes part in automation (`is_automated`), inside the
  transaction that made it, with the order row locked. A hook may change only rows no
  venue report can name (held legs, algo parents, GTTs) and defers everything else to
  after commit (`orders.core.jobs.enqueue`), so a report burst never works on a stale row.
* transition listeners — `listener(*, order, from_status, event_type, actor, data)`:
  every status change, after the change hooks, in the same transaction (notifications,
  strategies).
* placement extensions — `PlacementExtension`: input checks of order classes and algos,
  the fields set before the first save, what is created with an accepted order and who
  starts it instead of the venue submission.
* cancel hooks — `CancelHook`: the fields a local cancel changes on the locked order
  (an algo parent stops) and what follows once it is committed (its children withdrawn).
* release guards — `guard(order) -> ReleaseGuard`: before a held order goes live, the
  orders whose commitment it replaces, or why it must be canceled instead.
* order detail readers — `reader(order) -> dict | None` by field name (`algo`): parts of
  the order's API representation that the automation wing computes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oms_site.registry import Registry

if TYPE_CHECKING:
    from orders.models import Order

ChangeHook = Callable[..., None]
TransitionListener = Callable[..., None]


@dataclass(frozen=True, slots=True)
class PlacementExtension:
    """One concern's part in `order_place` (every callable optional):

    check(errors, draft, rules): input errors of the draft (added to `errors`; raised with
    the core's own as one 400).
    check_request(draft, extras): input errors of the extras the core passes through
    (`extras["reentry"]`); raises ValidationFailed.
    check_market(draft, last): the draft against the market (exit legs on the right side).
    decide(draft, decision, symbol) -> RiskDecision: the risk decision, possibly refused.
    prepare(*, order, draft, extras, decision, instrument, now): fields set before the
    first save.
    created(*, order, draft, actor): rows created with an accepted order, in its
    transaction.
    start(order) -> bool: True when this extension starts the accepted order itself (the
    core then does not submit it to the venue).
    """

    # The draft, rules, errors and decision are orders.core.validation / orders.core.risk
    # types; named in words here so that this module imports neither (they import it).
    name: str
    check: Callable[[Any, Any, Any], None] | None = None
    check_request: Callable[[Any, dict[str, Any]], None] | None = None
    check_market: Callable[[Any, Decimal | None], None] | None = None
    decide: Callable[[Any, Any, str], Any] | None = None
    prepare: Callable[..., None] | None = None
    created: Callable[..., None] | None = None
    start: Callable[[Order], bool] | None = None


@dataclass(frozen=True, slots=True)
class CancelHook:
    """locked(order) -> fields: inside the cancel's transaction (order row locked), before
    the order becomes canceled locally; returns the fields it changed.
    canceled(order): after the cancel committed (outside any transaction)."""

    name: str
    locked: Callable[[Order], list[str]] | None = None
    canceled: Callable[[Order], None] | None = None


@dataclass(slots=True)
class ReleaseGuard:
    """cancel_reason: the order must not go live; cancel it with this reason.
    replaces: open orders whose commitment the released order takes over."""

    cancel_reason: str = ""
    replaces: list[Order] = field(default_factory=list)


ReleaseGuardFn = Callable[["Order"], ReleaseGuard | None]
DetailReader = Callable[["Order"], Any]

CHANGE_HOOKS: Registry[ChangeHook] = Registry("order change hook")
TRANSITION_LISTENERS: Registry[TransitionListener] = Registry("order transition listener")
PLACEMENT_EXTENSIONS: Registry[PlacementExtension] = Registry("placement extension")
CANCEL_HOOKS: Registry[CancelHook] = Registry("cancel hook")
RELEASE_GUARDS: Registry[ReleaseGuardFn] = Registry("release guard")
DETAIL_READERS: Registry[DetailReader] = Registry("order detail reader")


def register_change_hook(name: str, hook: ChangeHook) -> None:
    CHANGE_HOOKS.register(name, hook)


def change_hooks() -> tuple[ChangeHook, ...]:
    return CHANGE_HOOKS.values()


def register_transition_listener(name: str, listener: TransitionListener) -> None:
    """`listener(*, order, from_status, event_type, actor, data)`; idempotent by name."""
    TRANSITION_LISTENERS.register(name, listener)


def transition_listeners() -> tuple[TransitionListener, ...]:
    return TRANSITION_LISTENERS.values()


def register_placement_extension(extension: PlacementExtension) -> None:
    PLACEMENT_EXTENSIONS.register(extension.name, extension)


def placement_extensions() -> tuple[PlacementExtension, ...]:
    return PLACEMENT_EXTENSIONS.values()


def register_cancel_hook(hook: CancelHook) -> None:
    CANCEL_HOOKS.register(hook.name, hook)


def cancel_hooks() -> tuple[CancelHook, ...]:
    return CANCEL_HOOKS.values()


def register_release_guard(name: str, guard: ReleaseGuardFn) -> None:
    RELEASE_GUARDS.register(name, guard)


def release_guards() -> tuple[ReleaseGuardFn, ...]:
    return RELEASE_GUARDS.values()


def register_detail_reader(name: str, reader: DetailReader) -> None:
    DETAIL_READERS.register(name, reader)


def detail_reader(name: str) -> DetailReader | None:
    return DETAIL_READERS.get(name, None)
