"""`paper`: a simulated broker that fills against the latest market quote.

- Market orders fill at once: a buy at the ask, a sell at the bid, moved against the trader by
  `OMS_PAPER_SLIPPAGE_BPS` and rounded onto the instrument's tick grid against the trader
  (buy up, sell down). A quote side that is missing falls back to the last price; no quote at
  all → `rejected` ("no market quote for ACME ...").
- Limit orders are acknowledged and rest in the venue's own book (`VenueOrder`). A tick fills
  them when it crosses (buy: ask <= limit, sell: bid >= limit), at the quote price — the limit
  or better — as maker. A limit that is already marketable when it arrives fills at once at
  the quote price as taker. No slippage on limit fills (they never trade through the limit).
- ioc / fok: fill now against the current quote or cancel the rest. The quote carries no
  size, so it is treated as unlimited: fok therefore fills whenever ioc would (all or nothing
  is always "all").
- Iceberg (`display_qty`) is informational only: a crossing fills the whole remainder.
- Fees per fill: notional × `OMS_PAPER_FEE_BPS` / 10 000 + `OMS_PAPER_FEE_FIXED`, exact in
  Decimal, quantized to 2 dp (paisa) with ROUND_HALF_UP (execution/pricing.py).

Tick fills are found by an indexed range query on (venue, symbol, status, side, limit_price)
and taken with a compare-and-set on the row's `rev`, so two processes handling ticks of the
same symbol never fill an order twice, and a concurrent modify or cancel wins cleanly.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from execution import conf
from execution.models import Venue, VenueFill, VenueOrder, VenueOrderStatus
from execution.pricing import fill_fee, round_to_tick, slipped_price
from execution.protocol import (
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    ReportType,
    VenueOrderView,
    VenuePosition,
)
from execution.records import (
    fill_record,
    fill_report,
    new_report_id,
    open_orders_view,
    positions_view,
    reports_of_order,
    reports_store,
    request_problem,
    simple_report,
)
from execution.registry import emit_reports
from marketdata.listeners import AppliedTick
from oms_site.compiled_query import insert_new
from oms_site.locks import lock_one_or_none
from oms_site.values import decimal_text_or_none, format_decimal

logger = logging.getLogger(__name__)

PREFIX = "pp"  # report ids: "pp-<uuid hex>"
# Resting orders one tick fills in one transaction (and books as one burst).
TICK_FILL_BATCH = 100
_OPEN = VenueOrderStatus.OPEN


def _quote_prices(symbol: str) -> tuple[Decimal | None, Decimal | None] | None:
    """(bid, ask) of the latest quote, a missing side replaced by the last price; None when
    the symbol has no quote at all."""
    from marketdata.selectors import quote_latest

    quote = quote_latest(symbol=symbol)
    if quote is None:
        return None
    bid = quote.bid if quote.bid is not None else quote.last
    ask = quote.ask if quote.ask is not None else quote.last
    if bid is None and ask is None:
        return None
    return bid, ask


def _tick_size(symbol: str) -> Decimal:
    from marketdata.models import Instrument

    tick = Instrument.objects.filter(symbol=symbol).values_list("tick_size", flat=True).first()
    return tick if tick is not None else Decimal("0")


def _crossing_price(side: str, limit: Decimal, bid: Decimal | None, ask: Decimal | None):
    """The quote price a limit order would fill at now, or None when it does not cross."""
    if side == "buy":
        return ask if ask is not None and ask <= limit else None
    return bid if bid is not None and bid >= limit else None


def _fills_of(order: VenueOrder, reports: list[ExecutionReport]) -> list[VenueFill]:
    return [
        fill_record(venue_order=order, report=r)
        for r in reports
        if r.type in (ReportType.FILL, ReportType.PARTIAL_FILL)
    ]


class _MarketView:
    """Each symbol's quote and tick size, read once for one submission or burst."""

    def __init__(self) -> None:
        self._prices: dict[str, tuple[Decimal | None, Decimal | None] | None] = {}
        self._ticks: dict[str, Decimal] = {}

    def prices(self, symbol: str) -> tuple[Decimal | None, Decimal | None] | None:
        if symbol not in self._prices:
            self._prices[symbol] = _quote_prices(symbol)
        return self._prices[symbol]

    def tick(self, symbol: str) -> Decimal:
        if symbol not in self._ticks:
            self._ticks[symbol] = _tick_size(symbol)
        return self._ticks[symbol]


class PaperBroker:
    name = Venue.PAPER
    in_process = True  # works in the caller's DB transaction: no timeout thread

    # ------------------------------------------------------------------ commands

    def submit(self, request: OrderRequest) -> list[ExecutionReport]:
        try:
            with transaction.atomic():
                order, reports = self._decide(request, _MarketView())
                return self._finish_new(order, reports)
        except IntegrityError:
            # The order is already here (a re-submission after a crash between our commit
            # and the caller's, or a concurrent submit that won the insert): the same
            # answers as the first time. Found by the insert, not a read before it: a
            # re-submission is rare, and every submission would pay for that read.
            return reports_of_order(order_id=request.order_id)

    def submit_many(self, requests: list[OrderRequest]) -> list[list[ExecutionReport]]:
        """A burst of new orders: each symbol's quote and tick read once, the venue rows,
        fills and reports written in one INSERT each. The same answers as `submit` one by
        one; when one of them is already here, each goes its own way (`submit`)."""
        try:
            with transaction.atomic():
                market = _MarketView()
                decided = [self._decide(request, market) for request in requests]
                insert_new([order for order, _ in decided])
                insert_new(
                    [fill for order, reports in decided for fill in _fills_of(order, reports)]
                )
                reports_store(
                    venue=Venue.PAPER, reports=[r for _, reports in decided for r in reports]
                )
                return [reports for _, reports in decided]
        except IntegrityError:
            return [self.submit(request) for request in requests]

    def _decide(
        self, request: OrderRequest, market: _MarketView
    ) -> tuple[VenueOrder, list[ExecutionReport]]:
        """The venue row of a new order and the venue's answers to it (nothing saved)."""
        now = timezone.now()
        order = VenueOrder(
            order_id=request.order_id,
            venue=Venue.PAPER,
            account_id=request.account_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            qty=request.qty,
            filled_qty=Decimal("0"),
            visible_qty=request.qty,
            limit_price=request.limit_price,
            tif=request.time_in_force,
            display_qty=request.display_qty,
            status=_OPEN,
            created_at=now,
            updated_at=now,
        )
        problem = request_problem(request, venue_works="The paper broker works")
        if problem:
            return order, [self._reject(order, problem)]

        prices = market.prices(request.symbol)
        if request.type == "market":
            side_price = (
                None if prices is None else (prices[1] if request.side == "buy" else prices[0])
            )
            if side_price is None:
                reason = (
                    f"No market quote for {request.symbol}: a paper market order needs a "
                    f"{'ask' if request.side == 'buy' else 'bid'} to fill against."
                )
                return order, [self._reject(order, reason)]
            price = round_to_tick(
                slipped_price(
                    side_price, side=request.side, slippage_bps=conf.paper_slippage_bps()
                ),
                market.tick(request.symbol),
                side=request.side,
            )
            reports = [simple_report(order, ReportType.ACK, prefix=PREFIX, ts=now)]
            reports.append(self._fill(order, price=price, liquidity="taker"))
            return order, reports

        reports = [simple_report(order, ReportType.ACK, prefix=PREFIX, ts=now)]
        cross = None
        if prices is not None:
            cross = _crossing_price(request.side, request.limit_price, *prices)
        if cross is not None:
            reports.append(self._fill(order, price=cross, liquidity="taker"))
        elif request.time_in_force in ("ioc", "fok"):
            order.status = VenueOrderStatus.CANCELED
            order.reason = (
                f"{request.time_in_force}: the limit does not cross the current quote"
                if prices is not None
                else f"{request.time_in_force}: no market quote for {request.symbol}"
            )
            order.visible_qty = Decimal("0")
            reports.append(
                simple_report(order, ReportType.CANCELED, prefix=PREFIX, reason=order.reason)
            )
        return order, reports

    @transaction.atomic
    def modify(self, request: ModifyRequest) -> list[ExecutionReport]:
        order = lock_one_or_none(VenueOrder.objects.all(), pk=request.order_id)
        if order is None or order.venue != Venue.PAPER:
            return [self._unknown(request.order_id, ReportType.MODIFY_REJECTED)]
        if order.status != _OPEN:
            reports = [
                simple_report(
                    order,
                    ReportType.MODIFY_REJECTED,
                    prefix=PREFIX,
                    reason=f"The order is {order.display_status}; it can no longer be modified.",
                )
            ]
            reports_store(venue=Venue.PAPER, reports=reports)
            return reports
        problem = _modify_problem(order, request)
        if problem:
            reports = [
                simple_report(order, ReportType.MODIFY_REJECTED, prefix=PREFIX, reason=problem)
            ]
            reports_store(venue=Venue.PAPER, reports=reports)
            return reports
        old = {
            "qty": format_decimal(order.qty),
            "limit_price": decimal_text_or_none(order.limit_price),
        }
        if request.new_qty is not None:
            order.qty = request.new_qty
            order.visible_qty = request.new_qty - order.filled_qty
        if request.new_limit_price is not None:
            order.limit_price = request.new_limit_price
        order.rev += 1
        order.updated_at = timezone.now()
        new = {
            "qty": format_decimal(order.qty),
            "limit_price": decimal_text_or_none(order.limit_price),
        }
        reports = [
            simple_report(order, ReportType.REPLACED, prefix=PREFIX, data={"old": old, "new": new})
        ]
        prices = _quote_prices(order.symbol)
        cross = None
        if prices is not None and order.type == "limit":
            cross = _crossing_price(order.side, order.limit_price, *prices)
        if cross is not None:
            reports.append(self._fill(order, price=cross, liquidity="taker"))
        order.save()
        self._store_fills(order, reports)
        reports_store(venue=Venue.PAPER, reports=reports)
        return reports

    @transaction.atomic
    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]:
        order = lock_one_or_none(VenueOrder.objects.all(), pk=order_id)
        if order is None or order.venue != Venue.PAPER:
            return [self._unknown(order_id, ReportType.CANCEL_REJECTED)]
        if order.status != _OPEN:
            report = simple_report(
                order,
                ReportType.CANCEL_REJECTED,
                prefix=PREFIX,
                reason=f"The order is {order.display_status}; there is nothing to cancel.",
            )
        else:
            order.status = VenueOrderStatus.CANCELED
            order.visible_qty = Decimal("0")
            order.reason = "canceled by request"
            order.rev += 1
            order.updated_at = timezone.now()
            order.save(update_fields=["status", "visible_qty", "reason", "rev", "updated_at"])
            report = simple_report(order, ReportType.CANCELED, prefix=PREFIX, reason=order.reason)
        reports_store(venue=Venue.PAPER, reports=[report])
        return [report]

    # ------------------------------------------------------------------ reconciliation

    def open_orders(self, *, account_id: str) -> list[VenueOrderView]:
        return open_orders_view(venue=Venue.PAPER, account_id=account_id)

    def positions(self, *, account_id: str) -> list[VenuePosition]:
        return positions_view(venue=Venue.PAPER, account_id=account_id)

    # ------------------------------------------------------------------ ticks

    def on_tick(self, tick: AppliedTick) -> int:
        """Fill the working paper limit orders the tick crosses; returns how many filled (in
        whole or in part). A tick with `ask_size`/`bid_size` fills at most that much on its
        side, in price-time order (the last order reached is filled in part); without a size
        the side is unlimited."""
        buy_at = tick.ask if tick.ask is not None else tick.last
        sell_at = tick.bid if tick.bid is not None else tick.last
        base = VenueOrder.objects.filter(venue=Venue.PAPER, symbol=tick.symbol, status=_OPEN)
        candidates: list[_Candidate] = []
        if buy_at is not None:
            rows = base.filter(side="buy", limit_price__gte=buy_at).order_by(
                "-limit_price", "created_at"
            )
            candidates += _sized(rows, price=buy_at, size=tick.ask_size)
        if sell_at is not None:
            rows = base.filter(side="sell", limit_price__lte=sell_at).order_by(
                "limit_price", "created_at"
            )
            candidates += _sized(rows, price=sell_at, size=tick.bid_size)
        filled = 0
        for start in range(0, len(candidates), TICK_FILL_BATCH):
            chunk = candidates[start : start + TICK_FILL_BATCH]
            try:
                filled += self._fill_resting(chunk)
            except Exception:
                # One bad order must not hold back the others: fill this chunk one by one.
                logger.warning(
                    "paper fill of %d orders on a %s tick failed; retrying one by one",
                    len(chunk),
                    tick.symbol,
                    exc_info=True,
                )
                filled += self._fill_resting_each(chunk, symbol=tick.symbol)
        return filled

    def _fill_resting_each(self, chunk: list[_Candidate], *, symbol: str) -> int:
        filled = 0
        for candidate in chunk:
            try:
                filled += self._fill_resting([candidate])
            except Exception:
                # Logged, not swallowed: the order stays open and the next tick retries it;
                # the tick path and the other orders go on.
                logger.exception("paper fill of order %s on a %s tick failed", candidate[0], symbol)
        return filled

    @transaction.atomic
    def _fill_resting(self, chunk: list[_Candidate]) -> int:
        """Fill the chunk's orders in one transaction and hand their reports over as one
        burst (orders applies and books them together)."""
        # Compare-and-set: only the process that moves `rev` fills; a modify/cancel/fill
        # that got there first leaves 0 rows updated and that candidate is skipped.
        prices: dict[str, Decimal] = {}
        sizes: dict[str, Decimal | None] = {}
        for order_id, rev, price, size in chunk:
            taken = VenueOrder.objects.filter(pk=order_id, status=_OPEN, rev=rev).update(
                rev=F("rev") + 1
            )
            if taken:
                prices[order_id] = price
                sizes[order_id] = size
        if not prices:
            return 0
        loaded = VenueOrder.objects.in_bulk(list(prices))
        reports: list[ExecutionReport] = []
        fills: list[VenueFill] = []
        for order in (loaded[order_id] for order_id in prices):  # price-time order
            report = self._fill(
                order, price=prices[order.pk], liquidity="maker", qty=sizes[order.pk]
            )
            order.save()
            reports.append(report)
            fills.append(fill_record(venue_order=order, report=report))
        VenueFill.objects.bulk_create(fills)
        reports_store(venue=Venue.PAPER, reports=reports)
        emit_reports(reports)
        return len(reports)

    # ------------------------------------------------------------------ internals

    def _finish_new(
        self, order: VenueOrder, reports: list[ExecutionReport]
    ) -> list[ExecutionReport]:
        order.save(force_insert=True)
        self._store_fills(order, reports)
        reports_store(venue=Venue.PAPER, reports=reports)
        return reports

    @staticmethod
    def _store_fills(order: VenueOrder, reports: list[ExecutionReport]) -> None:
        fills = _fills_of(order, reports)
        if fills:
            VenueFill.objects.bulk_create(fills)

    @staticmethod
    def _fill(
        order: VenueOrder, *, price: Decimal, liquidity: str, qty: Decimal | None = None
    ) -> ExecutionReport:
        """Fill `qty` of `order` (None: the whole remainder) at `price` (mutates the row,
        caller saves); the order stays open while some of it is left."""
        remainder = order.qty - order.filled_qty
        qty = remainder if qty is None else min(qty, remainder)
        fee = fill_fee(qty=qty, price=price, bps=conf.paper_fee_bps(), fixed=conf.paper_fee_fixed())
        filled = order.filled_qty + qty
        order.avg_fill_price = (
            (order.avg_fill_price or Decimal("0")) * order.filled_qty + price * qty
        ) / filled
        order.filled_qty = filled
        order.visible_qty = order.qty - filled
        if filled == order.qty:
            order.status = VenueOrderStatus.FILLED
        order.updated_at = timezone.now()
        report_id = new_report_id(PREFIX)
        return fill_report(
            order,
            report_id=report_id,
            qty=qty,
            price=price,
            fee=fee,
            liquidity=liquidity,
            trade_id=report_id,
            ts=order.updated_at,
        )

    @staticmethod
    def _reject(order: VenueOrder, reason: str) -> ExecutionReport:
        order.status = VenueOrderStatus.REJECTED
        order.visible_qty = Decimal("0")
        order.reason = reason[:200]
        return simple_report(order, ReportType.REJECTED, prefix=PREFIX, reason=reason)

    @staticmethod
    def _unknown(order_id: str, report_type: str) -> ExecutionReport:
        return ExecutionReport(
            report_id=new_report_id(PREFIX),
            order_id=order_id,
            type=report_type,
            ts=timezone.now(),
            reason="The paper broker has no such order.",
        )


_Candidate = tuple[str, int, Decimal, Decimal | None]  # order id, rev, price, qty (None: all)


def _sized(rows, *, price: Decimal, size: Decimal | None) -> list[_Candidate]:
    """The crossing orders (in price-time order) a tick of `size` reaches, each with the qty
    it gets; all of them with no qty cap when the size is unknown."""
    values = rows.values_list("order_id", "rev", "qty", "filled_qty")
    if size is None:
        return [(pk, rev, price, None) for pk, rev, _, _ in values]
    out: list[_Candidate] = []
    left = size
    for pk, rev, qty, filled_qty in values:
        if left <= 0:
            break
        take = min(qty - filled_qty, left)
        out.append((pk, rev, price, take))
        left -= take
    return out


def _modify_problem(order: VenueOrder, request: ModifyRequest) -> str:
    if request.new_qty is None and request.new_limit_price is None:
        return "Nothing to modify."
    if request.new_qty is not None and request.new_qty <= order.filled_qty:
        return "The new quantity must be above the filled quantity."
    if request.new_limit_price is not None:
        if order.type != "limit":
            return "Only a limit order has a limit price to modify."
        if request.new_limit_price <= 0:
            return "The limit price must be positive."
    return ""


def paper_on_tick(tick: AppliedTick) -> None:
    """The tick listener registered as "execution.paper"."""
    from execution.registry import get_adapter

    adapter = get_adapter(Venue.PAPER)
    adapter.on_tick(tick)
