"""FIFO lot matching for one position (one account x one instrument). Pure Python.

Semantics
---------
* A fill on the side opposite to the open position closes the OLDEST open lots first.
  Realized per match = (exit - entry) x qty x multiplier for a long lot,
  (entry - exit) x qty x multiplier for a short lot. A fill larger than the open
  position closes it and opens the remainder as a new lot on the other side, so all
  open lots are always on the same side.
* realized and unrealized EXCLUDE fees; ``net_pnl(mark) = realized + unrealized - fees``.
* ``cash_flow = -sum(signed qty x price x multiplier) - fees``, hence exactly
  ``net_pnl(mark) == cash_flow + market_value(mark)`` for every mark.
* Arithmetic is exact (``EXACT_CONTEXT``): nothing is rounded in here. Use
  ``quantize_money`` for display. The single exception is ``avg_entry_price``, a ratio,
  which is informational and never feeds a PnL figure.

Incremental use (DB layer): load the open lots and aggregates of a position, build it
with ``PositionState.restore(...)`` (or ``from_snapshot``), ``apply`` one fill, persist
``snapshot()``. ``apply`` costs O(lots it closes), independent of history length, and
``rebuild(fills)`` of the same history yields an equal ``snapshot()``.

Fill ids must be unique within a position (the DB layer enforces idempotency); the
core uses the opening fill id as the lot's identity. A PositionState is not
thread-safe: one writer per position (the DB layer holds the position row lock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal, localcontext

from pnl.fifo_types import (
    AVG_PRICE_CONTEXT,
    BUY,
    EXACT_CONTEXT,
    LONG,
    ONE,
    SELL,
    SHORT,
    ZERO,
    FifoInputError,
    Fill,
    FillId,
    InvalidFillError,
    InvalidLotError,
    LotRecord,
    LotSide,
    Match,
    PositionSnapshot,
    Side,
    quantize_money,
    require_decimal,
    require_finite_decimal,
)

__all__ = [
    "BUY",
    "LONG",
    "SELL",
    "SHORT",
    "FifoInputError",
    "Fill",
    "FillId",
    "InvalidFillError",
    "InvalidLotError",
    "LotRecord",
    "LotSide",
    "Match",
    "PositionSnapshot",
    "PositionState",
    "Side",
    "quantize_money",
    "rebuild",
]

# Building Match via tuple.__new__ skips NamedTuple's Python-level __new__; it is the
# hottest allocation in apply().
_new_tuple = tuple.__new__


class _OpenLot:
    """Mutable internal lot; only ``remaining_qty`` ever changes. Side is implied by the
    sign of the position, since all open lots share it."""

    __slots__ = ("fill_id", "opened_seq", "original_qty", "price", "remaining_qty")

    def __init__(
        self,
        fill_id: FillId,
        original_qty: Decimal,
        remaining_qty: Decimal,
        price: Decimal,
        opened_seq: int,
    ) -> None:
        self.fill_id = fill_id
        self.original_qty = original_qty
        self.remaining_qty = remaining_qty
        self.price = price
        self.opened_seq = opened_seq


class PositionState:
    """The FIFO state of one position: signed qty, open lots (oldest first), realized
    PnL, fees, cash flow and the number of fills applied."""

    __slots__ = ("_cash_flow", "_fees", "_fill_count", "_lots", "_multiplier", "_qty", "_realized")

    def __init__(self, *, multiplier: Decimal = ONE) -> None:
        self._multiplier = _require_multiplier(multiplier)
        self._lots: deque[_OpenLot] = deque()
        self._qty = ZERO
        self._realized = ZERO
        self._fees = ZERO
        self._cash_flow = ZERO
        self._fill_count = 0

    # ----------------------------------------------------------------- mutation

    def apply(self, fill: Fill) -> list[Match]:
        """Book one fill; return the closing matches it produced (oldest lot first)."""
        matches: list[Match] = []
        with localcontext(EXACT_CONTEXT):
            self._apply(fill, matches)
        return matches

    def apply_many(self, fills: Iterable[Fill], *, record_matches: bool = True) -> list[Match]:
        """Book fills in order. With ``record_matches=False`` no Match objects are built
        (replay mode) and an empty list is returned."""
        matches: list[Match] | None = [] if record_matches else None
        apply_one = self._apply
        with localcontext(EXACT_CONTEXT):
            for fill in fills:
                apply_one(fill, matches)
        return matches if matches is not None else []

    def _apply(self, fill: Fill, matches: list[Match] | None) -> None:
        # Must run inside EXACT_CONTEXT. Written for speed: locals, no helper calls.
        # Fill was validated on construction and nothing below can raise, so the state
        # is never left half-updated.
        fill_id = fill.fill_id
        qty = fill.qty
        price = fill.price
        fee = fill.fee
        multiplier = self._multiplier
        seq = self._fill_count + 1
        self._fill_count = seq
        if fee:
            self._fees += fee
        position = self._qty
        is_buy = fill.side == BUY
        if is_buy:
            self._cash_flow -= qty * price * multiplier + fee
            self._qty = position + qty
            closing = position < 0
        else:
            self._cash_flow += qty * price * multiplier - fee
            self._qty = position - qty
            closing = position > 0

        lots = self._lots
        if not closing:
            lots.append(_OpenLot(fill_id, qty, qty, price, seq))
            return

        closed_side = SHORT if is_buy else LONG
        realized = self._realized
        unmatched = qty
        # Invariant: sum of lot remainders == |position|, so lots only run out when the
        # fill is larger than the position (a flip).
        while unmatched and lots:
            lot = lots[0]
            lot_qty = lot.remaining_qty
            if lot_qty <= unmatched:
                matched = lot_qty
                lots.popleft()
            else:
                matched = unmatched
                lot.remaining_qty = lot_qty - matched
            unmatched -= matched
            entry_price = lot.price
            if is_buy:  # closing a short lot
                amount = (entry_price - price) * matched * multiplier
            else:
                amount = (price - entry_price) * matched * multiplier
            realized += amount
            if matches is not None:
                matches.append(
                    _new_tuple(
                        Match,
                        (lot.fill_id, fill_id, matched, entry_price, price, amount, closed_side),
                    )
                )
        self._realized = realized
        if unmatched:
            lots.append(_OpenLot(fill_id, unmatched, unmatched, price, seq))

    # ------------------------------------------------------------------ queries

    @property
    def multiplier(self) -> Decimal:
        return self._multiplier

    @property
    def qty(self) -> Decimal:
        """Signed open quantity: > 0 long, < 0 short, 0 flat."""
        return self._qty

    @property
    def realized(self) -> Decimal:
        """Realized PnL, exact, excluding fees, including the multiplier."""
        return self._realized

    @property
    def fees(self) -> Decimal:
        return self._fees

    @property
    def cash_flow(self) -> Decimal:
        """-sum(signed qty x price x multiplier) - fees over all fills applied."""
        return self._cash_flow

    @property
    def fill_count(self) -> int:
        """Fills applied so far; the next fill gets sequence ``fill_count + 1``."""
        return self._fill_count

    @property
    def is_flat(self) -> bool:
        return not self._qty

    @property
    def lot_side(self) -> LotSide | None:
        """Side shared by all open lots, None when flat."""
        if self._qty > 0:
            return LONG
        if self._qty < 0:
            return SHORT
        return None

    @property
    def avg_entry_price(self) -> Decimal | None:
        """Quantity-weighted entry price of the open lots, None when flat.

        A ratio, so rounded to 28 significant digits (``AVG_PRICE_CONTEXT``); exact
        when the result terminates within that. Never used to compute PnL.
        """
        if not self._lots:
            return None
        with localcontext(EXACT_CONTEXT):
            open_cost = sum((lot.remaining_qty * lot.price for lot in self._lots), ZERO)
            open_qty = sum((lot.remaining_qty for lot in self._lots), ZERO)
        return AVG_PRICE_CONTEXT.divide(open_cost, open_qty)

    def unrealized(self, mark: Decimal) -> Decimal:
        """sum((mark - entry) x signed remaining x multiplier) over open lots; excludes fees."""
        mark = _require_mark(mark)
        if not self._lots:
            return ZERO  # not 0 x -1, which would be Decimal('-0')
        sign = 1 if self._qty > 0 else -1
        with localcontext(EXACT_CONTEXT):
            total = ZERO
            for lot in self._lots:
                total += (mark - lot.price) * lot.remaining_qty
            return total * sign * self._multiplier

    def market_value(self, mark: Decimal) -> Decimal:
        """Signed qty x mark x multiplier."""
        mark = _require_mark(mark)
        with localcontext(EXACT_CONTEXT):
            return self._qty * mark * self._multiplier

    def net_pnl(self, mark: Decimal) -> Decimal:
        """realized + unrealized(mark) - fees (== cash_flow + market_value(mark))."""
        unrealized = self.unrealized(mark)
        with localcontext(EXACT_CONTEXT):
            return self._realized + unrealized - self._fees

    # ------------------------------------------------------ persistence round trip

    def open_lots(self) -> tuple[LotRecord, ...]:
        """Immutable copies of the open lots, oldest (lowest ``opened_seq``) first."""
        side: LotSide = SHORT if self._qty < 0 else LONG  # unused when flat: no lots
        return tuple(
            LotRecord(
                fill_id=lot.fill_id,
                side=side,
                original_qty=lot.original_qty,
                remaining_qty=lot.remaining_qty,
                price=lot.price,
                opened_seq=lot.opened_seq,
            )
            for lot in self._lots
        )

    def snapshot(self) -> PositionSnapshot:
        return PositionSnapshot(
            multiplier=self._multiplier,
            qty=self._qty,
            realized=self._realized,
            fees=self._fees,
            cash_flow=self._cash_flow,
            fill_count=self._fill_count,
            lots=self.open_lots(),
        )

    @classmethod
    def restore(
        cls,
        *,
        lots: Iterable[LotRecord],
        realized: Decimal,
        fees: Decimal,
        cash_flow: Decimal,
        fill_count: int,
        multiplier: Decimal = ONE,
    ) -> PositionState:
        """Rebuild the state from persisted open lots and aggregates (no fill replay).

        Lots may come in any order; they are sorted by ``opened_seq``. Raises
        ``InvalidLotError`` if they cannot be the open lots of one FIFO position.
        """
        state = cls(multiplier=multiplier)
        require_finite_decimal(realized, name="realized", error=InvalidLotError)
        require_finite_decimal(cash_flow, name="cash_flow", error=InvalidLotError)
        require_decimal(fees, name="fees", allow_zero=True, error=InvalidLotError)
        if isinstance(fill_count, bool) or not isinstance(fill_count, int) or fill_count < 0:
            raise InvalidLotError(f"fill_count must be an int >= 0, got {fill_count!r}")

        records = sorted(lots, key=lambda record: record.opened_seq)
        sides = {record.side for record in records}
        if len(sides) > 1:
            raise InvalidLotError("open lots must all be on one side (long or short)")
        if len({record.fill_id for record in records}) != len(records):
            raise InvalidLotError("two open lots share an opening fill_id")
        previous_seq = 0
        for record in records:
            if record.opened_seq <= previous_seq:
                raise InvalidLotError(f"duplicate opened_seq {record.opened_seq}")
            previous_seq = record.opened_seq
        if previous_seq > fill_count:
            raise InvalidLotError(f"lot opened_seq {previous_seq} > fill_count {fill_count}")

        with localcontext(EXACT_CONTEXT):
            open_qty = sum((record.remaining_qty for record in records), ZERO)
        state._qty = -open_qty if sides == {SHORT} else open_qty
        state._lots.extend(
            _OpenLot(r.fill_id, r.original_qty, r.remaining_qty, r.price, r.opened_seq)
            for r in records
        )
        state._realized = realized
        state._fees = fees
        state._cash_flow = cash_flow
        state._fill_count = fill_count
        return state

    @classmethod
    def from_snapshot(cls, snapshot: PositionSnapshot) -> PositionState:
        state = cls.restore(
            lots=snapshot.lots,
            realized=snapshot.realized,
            fees=snapshot.fees,
            cash_flow=snapshot.cash_flow,
            fill_count=snapshot.fill_count,
            multiplier=snapshot.multiplier,
        )
        if state.qty != snapshot.qty:
            raise InvalidLotError(f"snapshot qty {snapshot.qty} != sum of lots {state.qty}")
        return state

    def __repr__(self) -> str:
        return (
            f"PositionState(qty={self._qty}, lots={len(self._lots)}, realized={self._realized},"
            f" fees={self._fees}, cash_flow={self._cash_flow}, fill_count={self._fill_count},"
            f" multiplier={self._multiplier})"
        )


def rebuild(fills: Iterable[Fill], *, multiplier: Decimal = ONE) -> PositionState:
    """Replay a position's full fill history from scratch (no Match objects built)."""
    state = PositionState(multiplier=multiplier)
    state.apply_many(fills, record_matches=False)
    return state


def _require_multiplier(multiplier: object) -> Decimal:
    return require_decimal(multiplier, name="multiplier", allow_zero=False)


def _require_mark(mark: object) -> Decimal:
    return require_decimal(mark, name="mark", allow_zero=True)
