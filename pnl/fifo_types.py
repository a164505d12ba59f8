"""Value types, validation and money helpers for the FIFO lot-matching core.

Pure Python, no Django: the ORM layer converts its rows into these types and back.
Every amount is a ``decimal.Decimal``; floats are rejected outright because a float
price has already lost the paisa before we ever see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from typing import Final, Literal, NamedTuple, TypeAlias

__all__ = [
    "BUY",
    "EXACT_CONTEXT",
    "LONG",
    "MONEY_PLACES",
    "MONEY_ROUNDING",
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
    "Side",
    "quantize_money",
]

FillId: TypeAlias = int | str
Side: TypeAlias = Literal["buy", "sell"]
LotSide: TypeAlias = Literal["long", "short"]

BUY: Final = "buy"
SELL: Final = "sell"
LONG: Final = "long"
SHORT: Final = "short"

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

# All core arithmetic runs in this context. Additions and multiplications of finite
# Decimals are exact at unbounded precision, and trapping Inexact/Rounded turns any
# future operation that *would* round (e.g. someone adding a division) into a loud
# error instead of a silent paisa drift. Never divide in this context: 1/3 at
# MAX_PREC would try to materialise an unbounded expansion.
EXACT_CONTEXT: Final = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, Inexact, Rounded, Overflow],
)

# avg_entry_price is a ratio and so cannot be exact; it is computed here, independent
# of whatever context the caller happens to have installed. It is informational only:
# no PnL figure is derived from it.
AVG_PRICE_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_EVEN)

MONEY_PLACES: Final = 2
# Presentation rounding is banker's rounding (round half to even): on a report that
# sums many rounded rows it is unbiased, whereas half-up drifts upward by up to half a
# paisa per row. It is also Python's and Django's default, so the figures shown match
# what DecimalField would produce. Stored/computed values are never rounded.
MONEY_ROUNDING: Final = ROUND_HALF_EVEN
_MONEY_CONTEXT: Final = Context(
    prec=MAX_PREC, rounding=MONEY_ROUNDING, Emax=MAX_EMAX, Emin=MIN_EMIN
)


class FifoInputError(ValueError):
    """Bad input to the FIFO core (not a bug in it)."""


class InvalidFillError(FifoInputError):
    """A fill with a non-positive qty, negative price/fee, unknown side or non-Decimal."""


class InvalidLotError(FifoInputError):
    """Persisted open lots / aggregates that cannot describe a FIFO position."""


def require_decimal(
    value: object, *, name: str, allow_zero: bool, error: type[FifoInputError] = FifoInputError
) -> Decimal:
    """Return ``value`` if it is a finite Decimal that is > 0 (or >= 0), else raise ``error``."""
    if type(value) is not Decimal:
        raise error(f"{name} must be a Decimal, got {type(value).__name__}: {value!r}")
    if not value.is_finite():
        raise error(f"{name} must be finite, got {value!r}")
    if value < 0 or (not allow_zero and value == 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise error(f"{name} must be {bound}, got {value!r}")
    return value


def require_finite_decimal(
    value: object, *, name: str, error: type[FifoInputError] = FifoInputError
) -> Decimal:
    """Return ``value`` if it is a finite Decimal of any sign, else raise ``error``."""
    if type(value) is not Decimal or not value.is_finite():
        raise error(f"{name} must be a finite Decimal, got {value!r}")
    return value


def _require_fill_id(value: object, *, error: type[FifoInputError]) -> None:
    # bool is an int subclass; True as an id is always a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise error(f"fill_id must be an int or str, got {value!r}")


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. Validated on construction, so the core can trust every Fill.

    ``fee`` is a money amount (already in account currency); the instrument multiplier
    does not scale it.
    """

    fill_id: FillId
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal = ZERO

    def __post_init__(self) -> None:
        _require_fill_id(self.fill_id, error=InvalidFillError)
        if self.side != BUY and self.side != SELL:
            raise InvalidFillError(f"side must be 'buy' or 'sell', got {self.side!r}")
        require_decimal(self.qty, name="qty", allow_zero=False, error=InvalidFillError)
        require_decimal(self.price, name="price", allow_zero=True, error=InvalidFillError)
        require_decimal(self.fee, name="fee", allow_zero=True, error=InvalidFillError)


class Match(NamedTuple):
    """One closing match: ``qty`` of the lot opened by ``entry_fill_id`` closed by
    ``exit_fill_id``. ``realized`` is exact, excludes fees and includes the multiplier;
    ``lot_side`` is the side of the lot that was closed ('long' or 'short').
    """

    entry_fill_id: FillId
    exit_fill_id: FillId
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized: Decimal
    lot_side: LotSide


@dataclass(frozen=True, slots=True)
class LotRecord:
    """An open lot as persisted by the DB layer (one row per open lot).

    ``opened_seq`` is the position's 1-based fill sequence number of the fill that
    opened the lot (see ``PositionState.fill_count``); FIFO order is ascending
    ``opened_seq``. A fill opens at most one lot, so ``fill_id`` identifies the lot.
    """

    fill_id: FillId
    side: LotSide
    original_qty: Decimal
    remaining_qty: Decimal
    price: Decimal
    opened_seq: int

    def __post_init__(self) -> None:
        _require_fill_id(self.fill_id, error=InvalidLotError)
        if self.side != LONG and self.side != SHORT:
            raise InvalidLotError(f"lot side must be 'long' or 'short', got {self.side!r}")
        original = require_decimal(
            self.original_qty, name="original_qty", allow_zero=False, error=InvalidLotError
        )
        remaining = require_decimal(
            self.remaining_qty, name="remaining_qty", allow_zero=False, error=InvalidLotError
        )
        if remaining > original:
            raise InvalidLotError(
                f"lot {self.fill_id!r}: remaining_qty {remaining} > original_qty {original}"
            )
        require_decimal(self.price, name="price", allow_zero=True, error=InvalidLotError)
        seq = self.opened_seq
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise InvalidLotError(f"opened_seq must be an int >= 1, got {seq!r}")


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """Everything needed to resume a position without replaying its fills.

    ``qty`` is redundant (it equals the signed sum of lot remainders) and is kept so
    the snapshot reads naturally and equality checks cover it.
    """

    multiplier: Decimal
    qty: Decimal
    realized: Decimal
    fees: Decimal
    cash_flow: Decimal
    fill_count: int
    lots: tuple[LotRecord, ...]


def quantize_money(amount: Decimal, *, places: int = MONEY_PLACES) -> Decimal:
    """Round an exact amount to ``places`` decimals for presentation only.

    Uses ``MONEY_ROUNDING`` (round half to even): 0.125 -> 0.12, 0.135 -> 0.14.
    A result that rounds to zero is returned as +0 so reports never show "-0.00".
    """
    require_finite_decimal(amount, name="amount")
    if places < 0:
        raise FifoInputError(f"places must be >= 0, got {places}")
    rounded = amount.quantize(ONE.scaleb(-places), context=_MONEY_CONTEXT)
    return rounded if rounded else rounded.copy_abs()
