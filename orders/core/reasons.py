"""Why an order was canceled, in words: `Order.cancel_reason` holds a short code (who asked,
or the venue's cause); the API and the pages show this text next to the status."""

from __future__ import annotations

from execution.exchange.commands import CANCEL_REASONS as EXCHANGE_CANCEL_REASONS

CANCEL_REASON_TEXT: dict[str, str] = {
    **EXCHANGE_CANCEL_REASONS,  # market_no_liquidity, self_trade, ioc, fok, user
    "user": "canceled by request",
    "admin": "canceled by the back office",
    "expired": "expired",
    "oco": "the other order of its OCO pair filled",
    "parent_canceled": "its parent order was canceled",
    "parent_rejected": "its parent order was rejected",
    "parent_expired": "its parent order expired",
    "algo_ended": "its algorithm ended",
    "algo_reslice": "re-sliced by its algorithm",
    "algo_stopped": "its algorithm was stopped",
    "algo_paused": "its algorithm was paused",
    "square_off": "intraday square-off before the close",
    "market_maker": "re-quoted by the market maker",
    "venue": "canceled by the venue (the audit trail has its message)",
}


def cancel_reason_text(code: str) -> str | None:
    if not code:
        return None
    return CANCEL_REASON_TEXT.get(code, code.replace("_", " "))
