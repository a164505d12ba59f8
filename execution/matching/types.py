"""Value types shared by the matching engine and its callers.

All prices and quantities are ``decimal.Decimal``; floats are rejected at the door because
binary rounding would make level keys and quantity bookkeeping drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
TimeInForce = Literal["day", "gtc", "gtd", "ioc", "fok"]
OrderStatus = Literal["new", "partially_filled", "filled", "canceled", "rejected"]
CancelReason = Literal["ioc", "fok", "market_no_liquidity", "self_trade", "user", "expired"]

ZERO = Decimal(0)

SIDES: frozenset[str] = frozenset(("buy", "sell"))
ORDER_TYPES: frozenset[str] = frozenset(("market", "limit"))
TIMES_IN_FORCE: frozenset[str] = frozenset(("day", "gtc", "gtd", "ioc", "fok"))
# Time-in-force values whose unfilled remainder may rest in the book.
RESTING_TIFS: frozenset[str] = frozenset(("day", "gtc", "gtd"))


@dataclass(slots=True, eq=False)
class Order:
    """An order as submitted by a caller; the book then owns it and keeps its live state on it.

    Only the fields up to ``display_qty`` are inputs. The remaining fields are maintained by the
    book; callers must not mutate an order after submitting it and should read state from
    results, :meth:`OrderBook.get_order` or :meth:`OrderBook.resting_orders`.
    """

    order_id: str
    owner: str
    side: Side
    type: OrderType
    tif: TimeInForce
    qty: Decimal
    price: Decimal | None = None
    display_qty: Decimal | None = None

    symbol: str = field(default="", init=False)
    status: OrderStatus = field(default="new", init=False)
    filled_qty: Decimal = field(default=ZERO, init=False)
    # Displayed part of the remainder; equals the whole remainder unless this is an iceberg.
    visible_qty: Decimal = field(default=ZERO, init=False)
    # Iceberg reserve not shown in depth.
    hidden_qty: Decimal = field(default=ZERO, init=False)
    # Time-priority stamp; strictly increasing per book, renewed whenever priority is lost.
    seq: int = field(default=0, init=False)
    # Book-private: the price level the order rests in and its neighbours in that queue.
    _level: PriceLevel | None = field(default=None, init=False, repr=False)
    _prev: Order | None = field(default=None, init=False, repr=False)
    _next: Order | None = field(default=None, init=False, repr=False)

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still resting (displayed plus iceberg reserve)."""
        return self.visible_qty + self.hidden_qty


@dataclass(slots=True, eq=False)
class Trade:
    """One execution between a resting (maker) order and an incoming (taker) order."""

    trade_id: int  # monotonic per engine (per book for a standalone OrderBook)
    symbol: str
    price: Decimal  # always the maker's (resting) price
    qty: Decimal
    maker_order_id: str
    taker_order_id: str
    maker_owner: str
    taker_owner: str
    aggressor_side: Side  # the taker's side
    seq: int  # monotonic per book: the n-th trade in this symbol
    maker_remaining_qty: Decimal  # maker's resting qty (incl. iceberg reserve) after this trade


@dataclass(slots=True, eq=False)
class ExecutionResult:
    """Outcome of submit / modify / cancel for the order the operation was about.

    ``filled_qty`` is cumulative over the order's life; ``remaining_qty`` is what rests in the
    book after the operation (0 when the order is no longer in the book); ``canceled_qty`` is
    what *this* operation canceled, with ``cancel_reason`` saying why.
    """

    order_id: str
    status: OrderStatus
    filled_qty: Decimal
    remaining_qty: Decimal
    trades: list[Trade]
    canceled_qty: Decimal = ZERO
    cancel_reason: CancelReason | None = None
    reject_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """Snapshot of an order resting in a book, enough to persist it and rebuild the book."""

    order_id: str
    owner: str
    side: Side
    tif: TimeInForce
    price: Decimal
    qty: Decimal  # total qty including what has already filled
    filled_qty: Decimal
    remaining_qty: Decimal  # visible_qty + hidden reserve
    visible_qty: Decimal
    display_qty: Decimal | None
    seq: int  # time priority: lower is earlier within its price level

    @classmethod
    def of(cls, order: Order) -> RestingOrder:
        """Snapshot a resting order."""
        return cls(
            order_id=order.order_id,
            owner=order.owner,
            side=order.side,
            tif=order.tif,
            price=order.price,  # resting orders are limit orders: never None
            qty=order.qty,
            filled_qty=order.filled_qty,
            remaining_qty=order.visible_qty + order.hidden_qty,
            visible_qty=order.visible_qty,
            display_qty=order.display_qty,
            seq=order.seq,
        )

    def to_order(self) -> Order:
        """A fresh :class:`Order` carrying this snapshot's inputs (for ``load_resting``)."""
        return Order(
            order_id=self.order_id,
            owner=self.owner,
            side=self.side,
            type="limit",
            tif=self.tif,
            qty=self.qty,
            price=self.price,
            display_qty=self.display_qty,
        )


class PriceLevel:
    """Orders resting at one price, oldest first."""

    __slots__ = ("count", "head", "price", "tail", "visible_qty")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.count = 0
        self.visible_qty = ZERO
