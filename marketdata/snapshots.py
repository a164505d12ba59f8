"""The read model of a quote, shared by selectors (reads) and services (cache writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from oms_site.values import decimal_text_or_none, utc_text_or_none

QUOTE_CACHE_PREFIX = "md:quote:"
QUOTE_CACHE_TIMEOUT = None  # the latest quote stays until replaced


def quote_cache_key(symbol: str) -> str:
    return QUOTE_CACHE_PREFIX + symbol


@dataclass(frozen=True, slots=True)
class QuoteSnapshot:
    """The latest quote of one symbol. `prev_close`: last price of the previous trading date."""

    symbol: str
    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal
    ts: datetime | None
    prev_close: Decimal | None = None
    day_open: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None

    @property
    def reference_price(self) -> Decimal | None:
        """What change is measured against: the previous close, else today's open."""
        return self.prev_close or self.day_open

    @property
    def change(self) -> Decimal | None:
        ref = self.reference_price
        if self.last is None or not ref:
            return None
        return self.last - ref

    @property
    def change_pct(self) -> Decimal | None:
        ref = self.reference_price
        change = self.change
        if change is None or not ref:
            return None
        return (change * 100 / ref).quantize(Decimal("0.01"))

    def as_api_dict(self) -> dict[str, Any]:
        """The REST/WS shape: decimals as strings, times ISO 8601 UTC."""
        return {
            "symbol": self.symbol,
            "last": decimal_text_or_none(self.last),
            "bid": decimal_text_or_none(self.bid),
            "ask": decimal_text_or_none(self.ask),
            "volume": decimal_text_or_none(self.volume),
            "ts": utc_text_or_none(self.ts),
            "prev_close": decimal_text_or_none(self.prev_close),
            "open": decimal_text_or_none(self.day_open),
            "high": decimal_text_or_none(self.day_high),
            "low": decimal_text_or_none(self.day_low),
            "change": decimal_text_or_none(self.change),
            "change_pct": decimal_text_or_none(self.change_pct),
        }

    def to_cache(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "last": decimal_text_or_none(self.last),
            "bid": decimal_text_or_none(self.bid),
            "ask": decimal_text_or_none(self.ask),
            "volume": decimal_text_or_none(self.volume),
            "ts": utc_text_or_none(self.ts),
            "prev_close": decimal_text_or_none(self.prev_close),
            "day_open": decimal_text_or_none(self.day_open),
            "day_high": decimal_text_or_none(self.day_high),
            "day_low": decimal_text_or_none(self.day_low),
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> QuoteSnapshot:
        def dec(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value is None else Decimal(value)

        ts = data.get("ts")
        return cls(
            symbol=data["symbol"],
            last=dec("last"),
            bid=dec("bid"),
            ask=dec("ask"),
            volume=dec("volume") or Decimal(0),
            ts=datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None,
            prev_close=dec("prev_close"),
            day_open=dec("day_open"),
            day_high=dec("day_high"),
            day_low=dec("day_low"),
        )

    @classmethod
    def from_row(cls, quote: Any) -> QuoteSnapshot:
        """From a Quote model row (normalizing the DB's fixed decimal places)."""

        def norm(value: Decimal | None) -> Decimal | None:
            return None if value is None else value.normalize()

        return cls(
            symbol=quote.symbol,
            last=norm(quote.last),
            bid=norm(quote.bid),
            ask=norm(quote.ask),
            volume=norm(quote.volume) or Decimal(0),
            ts=quote.ts,
            prev_close=norm(quote.prev_close),
            day_open=norm(quote.day_open),
            day_high=norm(quote.day_high),
            day_low=norm(quote.day_low),
        )
