"""Exact fill-price and fee arithmetic (Decimal only; no Django)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

BPS = Decimal("10000")
PAISA = Decimal("0.01")


def round_to_tick(price: Decimal, tick: Decimal, *, side: str) -> Decimal:
    """Round onto the tick grid against the trader: a buy rounds up, a sell rounds down."""
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(
        rounding=ROUND_CEILING if side == "buy" else ROUND_FLOOR
    )
    return steps * tick


def slipped_price(quote_price: Decimal, *, side: str, slippage_bps: Decimal) -> Decimal:
    """A market order's price: the quote moved against the trader by `slippage_bps`."""
    factor = slippage_bps / BPS
    if side == "buy":
        return quote_price * (1 + factor)
    return quote_price * (1 - factor)


def fill_fee(
    *, qty: Decimal, price: Decimal, bps: Decimal, fixed: Decimal = Decimal("0")
) -> Decimal:
    """Fee of one fill: notional × bps / 10 000 + fixed, computed exactly, then quantized to
    2 dp (paisa) with ROUND_HALF_UP — once per fill, so a fee is never rounded twice."""
    fee = qty * price * bps / BPS + fixed
    return fee.quantize(PAISA, rounding=ROUND_HALF_UP)
