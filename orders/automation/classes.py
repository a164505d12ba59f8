"""Validation of order classes (bracket / oco / oto legs) and execution-algorithm
parameters: pure checks called by `orders.core.risk.validate_order` (grid, required legs) and by
placement (`check_contingent_prices`: legs against the entry / market price)."""

from __future__ import annotations

from decimal import Decimal

from oms_site.api import format_decimal
from orders.automation.algos import AlgoError, parse_algo
from orders.core.validation import FieldErrors, InstrumentRules, OrderDraft, check_price, check_qty
from orders.models import OrderClass, OrderSide, OrderType, TimeInForce

# --- contingent orders (bracket / oco / oto) ---------------------------------------------------


def _leg_price(
    errors: FieldErrors, leg: str, spec: dict, name: str, rules: InstrumentRules, required: bool
) -> None:
    value = spec.get(name)
    if value is None:
        if required:
            errors.add(f"{leg}.{name}", "This field is required.")
        return
    check_price(errors, f"{leg}.{name}", value, rules)


def check_order_class(errors: FieldErrors, draft: OrderDraft, rules: InstrumentRules) -> None:
    """Which legs each class needs and their price grid (relations to the market: see
    `check_contingent_prices`)."""
    order_class = draft.order_class
    tp, sl = draft.take_profit, draft.stop_loss
    if order_class == OrderClass.SIMPLE:
        for leg in ("take_profit", "stop_loss"):
            if getattr(draft, leg) is not None:
                errors.add(leg, "Only used by bracket, oco and oto orders.")
        return
    for leg, spec in (("take_profit", tp), ("stop_loss", sl)):
        if spec is None:
            continue
        unknown = sorted(
            set(spec) - ({"limit_price"} if leg == "take_profit" else {"stop_price", "limit_price"})
        )
        for name in unknown:
            errors.add(f"{leg}.{name}", "Unknown field.")
        if leg == "take_profit":
            _leg_price(errors, leg, spec, "limit_price", rules, required=True)
        else:
            _leg_price(errors, leg, spec, "stop_price", rules, required=True)
            _leg_price(errors, leg, spec, "limit_price", rules, required=False)
    if order_class == OrderClass.BRACKET:
        if tp is None:
            errors.add("take_profit", "A bracket needs a take_profit leg.")
        if sl is None:
            errors.add("stop_loss", "A bracket needs a stop_loss leg.")
    elif order_class == OrderClass.OTO:
        if (tp is None) == (sl is None):
            errors.add(
                "take_profit", "An oto order needs exactly one of take_profit and stop_loss."
            )
    elif order_class == OrderClass.OCO:
        if tp is None:
            errors.add("take_profit", "An oco order needs a take_profit leg.")
        if sl is None:
            errors.add("stop_loss", "An oco order needs a stop_loss leg.")
        if draft.type != OrderType.LIMIT:
            errors.add("type", "An oco order is a take-profit limit and a stop: use type limit.")
        elif (
            tp is not None
            and draft.limit_price is not None
            and tp.get("limit_price") is not None
            and draft.limit_price != tp["limit_price"]
        ):
            errors.add("limit_price", "Leave it null or equal to take_profit.limit_price.")
    if (
        order_class in (OrderClass.BRACKET, OrderClass.OTO)
        and draft.type == OrderType.TRAILING_STOP
    ):
        errors.add("type", f"A {order_class} entry cannot be a trailing stop.")
    if draft.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and order_class == OrderClass.OCO:
        errors.add("time_in_force", "An oco pair must be able to rest: use day, gtc or gtd.")


def contingent_reference(draft: OrderDraft, last: Decimal | None) -> Decimal | None:
    """The price exit legs are judged against: the entry's limit, else its stop, else the
    last price (a market entry). For an oco (no entry) the last price."""
    if draft.order_class == OrderClass.OCO:
        return last
    if draft.limit_price is not None:
        return draft.limit_price
    if draft.stop_price is not None:
        return draft.stop_price
    return last


def check_contingent_prices(draft: OrderDraft, last: Decimal | None) -> None:
    """Exit legs must sit on the right side of the reference price (ValidationFailed).

    A buy bracket (long entry) exits by selling: take-profit above the entry reference,
    stop below it (a stop-limit's limit at or below its stop). A sell bracket mirrors it.
    An oco is itself the exit: a sell oco's take-profit above the market and stop below.
    """
    if draft.order_class == OrderClass.SIMPLE:
        return
    errors = FieldErrors()
    reference = contingent_reference(draft, last)
    if reference is None:
        errors.add(
            "order_class",
            "There is no last price yet to judge the legs against; use a limit entry.",
        )
        errors.raise_if_any()
    # The side the exits trade: opposite of a bracket/oto entry; an oco's own side.
    exits_sell = (
        (draft.side == OrderSide.SELL)
        if draft.order_class == OrderClass.OCO
        else (draft.side == OrderSide.BUY)
    )
    ref = format_decimal(reference)
    what = "the last price" if draft.order_class == OrderClass.OCO else "the entry price"
    tp, sl = draft.take_profit or {}, draft.stop_loss or {}
    tp_price, sl_stop, sl_limit = tp.get("limit_price"), sl.get("stop_price"), sl.get("limit_price")
    if tp_price is not None:
        if exits_sell and tp_price <= reference:
            errors.add("take_profit.limit_price", f"Must be above {what} {ref}.")
        if not exits_sell and tp_price >= reference:
            errors.add("take_profit.limit_price", f"Must be below {what} {ref}.")
    if sl_stop is not None:
        if exits_sell and sl_stop >= reference:
            errors.add("stop_loss.stop_price", f"Must be below {what} {ref}.")
        if not exits_sell and sl_stop <= reference:
            errors.add("stop_loss.stop_price", f"Must be above {what} {ref}.")
        if sl_limit is not None and exits_sell and sl_limit > sl_stop:
            errors.add(
                "stop_loss.limit_price", "A sell stop-limit's limit must not be above its stop."
            )
        if sl_limit is not None and not exits_sell and sl_limit < sl_stop:
            errors.add(
                "stop_loss.limit_price", "A buy stop-limit's limit must not be below its stop."
            )
    errors.raise_if_any()


# --- execution algorithms -----------------------------------------------------------------------


def check_algo(errors: FieldErrors, draft: OrderDraft, rules: InstrumentRules) -> None:
    try:
        params = parse_algo(draft.algo)
    except AlgoError as exc:
        errors.add(f"algo.{exc.field}", exc.message)
        return
    if draft.order_class != OrderClass.SIMPLE:
        errors.add("algo", "An algo order must be of order_class simple.")
    if draft.type not in (OrderType.MARKET, OrderType.LIMIT):
        errors.add("type", "An algo order is a market or limit order.")
    if draft.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
        errors.add("time_in_force", "An algo order runs day or gtc.")
    if draft.display_qty is not None:
        errors.add("display_qty", "Use algo.display_qty with an iceberg algo.")
    if params.type == "iceberg":
        if draft.type != OrderType.LIMIT:
            errors.add("type", "An iceberg is a limit order.")
        check_qty(errors, "algo.display_qty", params.display_qty, rules)
        if (
            draft.qty is not None
            and params.display_qty is not None
            and params.display_qty > draft.qty
        ):
            errors.add("algo.display_qty", "Must not exceed qty.")
        return
    check_price(errors, "algo.limit_price", params.limit_price, rules)
    if (
        params.limit_price is not None
        and draft.limit_price is not None
        and params.limit_price != draft.limit_price
    ):
        errors.add("algo.limit_price", "Differs from limit_price; give one of them.")
