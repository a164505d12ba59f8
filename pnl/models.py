"""The fill ledger and what is built from it: FIFO lots, positions, realized matches,
daily PnL snapshots and reconciliation alerts (semantics: pnl/fifo.py, API.md).

Every quantity of a position is maintained by `pnl.services.fill_record` in the same
transaction as the fill, and `pnl.services.position_rebuild` recomputes all of it from
the fills alone with an identical result.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from oms_site.fields import MoneyField, PriceField, QtyField

ZERO = Decimal("0")


def AmountField(**kwargs) -> models.DecimalField:
    """A PnL amount: qty (8 dp) x price (8 dp) x multiplier (8 dp) has at most 24 decimal
    places, so sums of them are stored without rounding (MySQL DECIMAL(50, 24))."""
    kwargs.setdefault("max_digits", 50)
    kwargs.setdefault("decimal_places", 24)
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(**kwargs)


class FillSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class Liquidity(models.TextChoices):
    MAKER = "maker", "Maker"
    TAKER = "taker", "Taker"


class LotSide(models.TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


# Report ids of the fills of orders placed at a broker outside OMS and imported (orders/core/
# external_match.py books them as `ext-<broker>-<broker's trade id>`): API.md's "external".
EXTERNAL_REPORT_PREFIX = "ext-"


class Fill(models.Model):
    """One execution of an order, exactly as the venue reported it. Append-only.

    `order_id` is a plain UUID, not a foreign key: pnl sits below orders (DESIGN.md) and
    must not import it. `report_id` is the execution report's own id, unique, so a report
    applied twice can never book a second fill. `seq` is the fill's 1-based number within
    its position (account x instrument) in booking order: a rebuild replays fills in that
    order, so it reproduces the incremental result exactly even when venue timestamps are
    out of order. `tag` is the order's strategy tag (PnL by tag); `trade_date` the UTC date
    of `ts` (PnL by day).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(db_index=True)
    # No single-column FK indexes: every read filters by account first, which the
    # composite indexes below cover; fewer indexes keep the booking path cheap.
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="fills", db_index=False
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="fills", db_index=False
    )
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=FillSide.choices)
    qty = QtyField()
    price = PriceField()
    fee = MoneyField(default=Decimal("0"))
    # API.md: "maker" | "taker" | null (a venue that does not say).
    liquidity = models.CharField(  # noqa: DJ001
        max_length=5, choices=Liquidity.choices, null=True, blank=True
    )
    ts = models.DateTimeField(default=timezone.now)
    report_id = models.CharField(max_length=120, unique=True)
    trade_id = models.CharField(max_length=120, blank=True, default="")
    tag = models.CharField(max_length=200, blank=True, default="")
    seq = models.PositiveIntegerField(null=True, blank=True)
    trade_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ts", "created_at", "id"]
        indexes = [
            models.Index(fields=["account", "symbol", "ts"], name="fill_account_symbol_ts"),
            models.Index(fields=["account", "ts"], name="fill_account_ts"),
            models.Index(fields=["account", "trade_date"], name="fill_account_day"),
        ]
        constraints = [
            # NULL seq (fills booked before positions existed) may repeat; numbers may not.
            models.UniqueConstraint(
                fields=["account", "instrument", "seq"], name="uniq_fill_position_seq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty} {self.symbol} @ {self.price}"

    @property
    def is_external(self) -> bool:
        """A fill of an order placed at the broker outside OMS (imported)."""
        return self.report_id.startswith(EXTERNAL_REPORT_PREFIX)

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side == FillSide.BUY else -self.qty


class Position(models.Model):
    """The FIFO state of one (account, instrument), kept in step with its fills.

    `qty` is signed (short < 0). `open_cost` = sum of remaining qty x entry price over the
    open lots (no multiplier), so unrealized = multiplier x (mark x qty - sign x open_cost)
    exactly, without reading the lots. `realized` and `fees` are cumulative; `cash_flow` =
    -sum(signed qty x price x multiplier) - fees (what the fills did to the account's cash).
    `multiplier` is the instrument's when the position was opened: history keeps its terms.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(  # covered by the unique (account, instrument) index
        "accounts.TradingAccount",
        on_delete=models.PROTECT,
        related_name="positions",
        db_index=False,
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="positions"
    )
    symbol = models.CharField(max_length=32)
    multiplier = QtyField(default=Decimal("1"))
    qty = QtyField(default=ZERO)
    open_cost = AmountField()
    avg_entry_price = PriceField(null=True, blank=True)
    realized = AmountField()
    fees = AmountField()
    cash_flow = AmountField()
    fill_count = models.PositiveIntegerField(default=0)
    last_fill_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account_id", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["account", "instrument"], name="uniq_position")
        ]
        indexes = [
            models.Index(fields=["account", "symbol"], name="position_account_symbol"),
            models.Index(fields=["account", "last_fill_at"], name="position_account_last"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty}"

    @property
    def is_flat(self) -> bool:
        return not self.qty

    @property
    def side(self) -> str | None:
        if self.qty > 0:
            return LotSide.LONG
        if self.qty < 0:
            return LotSide.SHORT
        return None

    def unrealized_at(self, mark: Decimal) -> Decimal:
        """sum((mark - entry) x signed remaining x multiplier) over the open lots, exact."""
        if not self.qty:
            return ZERO
        sign = 1 if self.qty > 0 else -1
        return self.multiplier * (mark * self.qty - sign * self.open_cost)

    def market_value_at(self, mark: Decimal) -> Decimal:
        return self.qty * mark * self.multiplier


class Lot(models.Model):
    """An open lot: what is left of the quantity one fill opened. Deleted when fully
    closed (the closes stay as RealizedMatch rows); FIFO order is `opened_seq`."""

    id = models.BigAutoField(primary_key=True)
    # Read by position only (the unique (position, opened_seq) index); account and
    # instrument are carried for reports, without indexes of their own.
    position = models.ForeignKey(
        Position, on_delete=models.CASCADE, related_name="lots", db_index=False
    )
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    opened_by = models.OneToOneField(Fill, on_delete=models.PROTECT, related_name="lot")
    side = models.CharField(max_length=5, choices=LotSide.choices)
    original_qty = QtyField()
    remaining_qty = QtyField()
    price = PriceField()
    opened_seq = models.PositiveIntegerField()
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["position_id", "opened_seq"]
        constraints = [
            models.UniqueConstraint(fields=["position", "opened_seq"], name="uniq_lot_seq")
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.remaining_qty}/{self.original_qty} @ {self.price}"


class RealizedMatch(models.Model):
    """`qty` of the lot opened by `entry_fill` closed by `exit_fill`: every rupee of
    realized PnL traced to the two fills behind it. `amount` excludes fees and includes
    the multiplier; `ts`/`trade_date` are the closing fill's."""

    id = models.BigAutoField(primary_key=True)
    # Read by position (ledger) or by account and time/day (reports); fills are never
    # deleted, so the fill references need no index of their own.
    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="matches")
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    symbol = models.CharField(max_length=32)
    entry_fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, related_name="entry_matches", db_index=False
    )
    exit_fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, related_name="exit_matches", db_index=False
    )
    qty = QtyField()
    entry_price = PriceField()
    exit_price = PriceField()
    amount = AmountField()
    lot_side = models.CharField(max_length=5, choices=LotSide.choices)
    ts = models.DateTimeField()
    trade_date = models.DateField()

    class Meta:
        ordering = ["position_id", "id"]
        verbose_name_plural = "realized matches"
        indexes = [
            models.Index(fields=["account", "ts"], name="match_account_ts"),
            models.Index(fields=["account", "trade_date"], name="match_account_day"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.lot_side} {self.qty}: {self.entry_price} → {self.exit_price}"


class DailyPnl(models.Model):
    """End-of-day PnL of one account: one row per symbol and a total row (symbol NULL).

    realized, fees: booked that UTC day. unrealized: open positions marked at snapshot
    time (the level); unrealized_change: against the previous snapshot. net: the day's
    PnL = realized + unrealized_change - fees. realized_total / fees_total: cumulative.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="daily_pnl"
    )
    date = models.DateField()
    symbol = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 (NULL = total)
    instrument = models.ForeignKey(
        "marketdata.Instrument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    qty = QtyField(default=ZERO)
    mark_price = PriceField(null=True, blank=True)
    avg_entry_price = PriceField(null=True, blank=True)
    realized = AmountField()
    unrealized = AmountField()
    unrealized_change = AmountField()
    fees = AmountField()
    net = AmountField()
    realized_total = AmountField()
    fees_total = AmountField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account_id", "date", "symbol"]
        verbose_name = "daily PnL"
        verbose_name_plural = "daily PnL"
        constraints = [
            models.UniqueConstraint(fields=["account", "date", "symbol"], name="uniq_daily_pnl")
        ]
        indexes = [models.Index(fields=["date"], name="daily_pnl_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.symbol or 'total'} net {self.net}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class AlertKind(models.TextChoices):
    POSITION = "position", "Position"
    ORDER = "order", "Order"  # a real broker's order and ours disagree (or it is not ours)


class ReconciliationAlert(models.Model):
    """Our position (or order) and the venue's disagree. Never fixed silently: an admin
    resolves it (or it resolves itself, audited, when both sides agree again).

    kind "order": `ref` is the order (ours, or the broker's id for one OMS does not know),
    `ours`/`theirs` its filled quantity in OMS and at the broker, `detail` what differs."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="reconciliation_alerts"
    )
    kind = models.CharField(max_length=8, choices=AlertKind.choices, default=AlertKind.POSITION)
    symbol = models.CharField(max_length=32)
    ref = models.CharField(max_length=64, blank=True, default="")
    detail = models.CharField(max_length=300, blank=True, default="")
    ours = QtyField()
    theirs = QtyField()
    status = models.CharField(max_length=8, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "status"], name="recon_account_status")]

    def __str__(self) -> str:
        return f"{self.symbol}: ours {self.ours} vs venue {self.theirs} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == AlertStatus.OPEN
