"""JSON answers of the Alpaca fake besides orders: account, positions, clock, asset (the
shapes alpaca-py 0.44's TradeAccount, Position, Clock and Asset models parse)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from execution.fakes.alpaca_state import (
    ZERO,
    FakeAccountState,
    FakeQuote,
    _text,
    iso,
    now_utc,
)


def account_json(state: FakeAccountState) -> dict[str, Any]:
    long_value = sum((q * a for q, a in state.positions.values() if q > 0), ZERO)
    return {
        "id": state.account_id,
        "account_number": state.account_number,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": _text(state.buying_power),
        "regt_buying_power": _text(state.buying_power),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": _text(state.buying_power),
        "cash": _text(state.cash),
        "accrued_fees": "0",
        "portfolio_value": _text(state.cash + long_value),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2024-01-02T14:30:00Z",
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": True,
        "equity": _text(state.cash + long_value),
        "last_equity": _text(state.cash + long_value),
        "daytrade_count": 0,
    }


def positions_json(
    state: FakeAccountState, quotes: dict[str, FakeQuote | None]
) -> list[dict[str, Any]]:
    out = []
    for symbol, (qty, avg) in sorted(state.positions.items()):
        quote = quotes.get(symbol)
        current = (quote.last or quote.bid or quote.ask) if quote else None
        current = current or avg
        out.append(
            {
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake:{symbol}")),
                "symbol": symbol,
                "exchange": "NASDAQ",
                "asset_class": "us_equity",
                "asset_marginable": True,
                "avg_entry_price": _text(avg),
                "qty": _text(qty),
                "qty_available": _text(qty),
                "side": "long" if qty > 0 else "short",
                "market_value": _text(qty * current),
                "cost_basis": _text(qty * avg),
                "unrealized_pl": _text(qty * (current - avg)),
                "current_price": _text(current),
            }
        )
    return out


def clock_json() -> dict[str, Any]:
    now = now_utc()
    return {
        "timestamp": iso(now),
        "is_open": True,
        "next_open": iso(now + timedelta(days=1)),
        "next_close": iso(now + timedelta(hours=6)),
    }


def asset_json(symbol: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake:{symbol}")),
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": symbol,
        "name": f"{symbol} (fake)",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
    }
