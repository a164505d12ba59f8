"""The demo's market maker: liquidity on the internal exchange out of the box.

A house account (owned by the login-less user `house`, seeded by `seed_demo`) rests a
bid and an ask at each of a few levels around the simulated price of every simulated
instrument, so a market order of an exchange account fills. `python manage.py
run_market_maker` (started by `make run` next to the simulator feed) calls
`market_maker_requote` for each symbol every second; when the price has moved far enough
from a resting quote, that quote is moved with `order_modify` (a cancel/replace at the
venue), and a quote that filled or was canceled is placed again with `order_place`. So
every quote goes through the normal order services: risk checks, audit trail, stream.

Bounds: at most `levels` orders per side and symbol (extras are canceled); a symbol is
re-quoted at most once per `min_requote_secs`; a quote moves only when its target is more
than `requote_bps` away. The house account may sell short and has ample cash (and its own
risk limits), so it never runs out of either in a demo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db import transaction

from accounts import services as account_services
from accounts.models import MembershipRole, RiskLimits, Role, TradingAccount, User
from oms_site.errors import ApplicationError
from oms_site.run_registry import manage_py
from orders.core.cancel import order_cancel
from orders.core.lifecycle import actor_system
from orders.core.modify import order_modify
from orders.core.place import order_place
from orders.models import OPEN_STATUSES, Order, OrderStatus

logger = logging.getLogger("orders.market_maker")

HOUSE_USERNAME = "house"
HOUSE_ACCOUNT_NAME = "House — Market maker"
HOUSE_CASH = Decimal("10000000000")
TAG_PREFIX = "market-maker:"
MAKER_ACTOR = actor_system("market-maker")
BPS = Decimal("10000")
WORKING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


@dataclass(frozen=True)
class MakerConfig:
    levels: int = 2  # quotes per side and symbol
    qty: Decimal = Decimal("100")  # level k (0-based) quotes qty × (k + 1)
    half_spread_bps: Decimal = Decimal("10")  # level 0: mid ∓ 0.10 %
    level_step_bps: Decimal = Decimal("15")  # each further level 0.15 % further out
    requote_bps: Decimal = Decimal("5")  # move a quote when its target is 0.05 % away
    min_requote_secs: float = 10.0  # per symbol


@dataclass(frozen=True)
class QuoteTarget:
    side: str
    level: int
    price: Decimal
    qty: Decimal

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.side}:{self.level}"


@dataclass
class RequoteResult:
    placed: int = 0
    moved: int = 0
    canceled: int = 0
    busy: int = 0  # quotes being sent/changed: left for the next round
    errors: list[str] = field(default_factory=list)

    @property
    def acted(self) -> bool:
        return bool(self.placed or self.moved or self.canceled)


def _to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).to_integral_value(rounding=rounding) * tick


def quote_targets(*, mid: Decimal, tick_size: Decimal, config: MakerConfig) -> list[QuoteTarget]:
    """Bids below and asks above `mid` on the tick grid (bids rounded down, asks up)."""
    targets = []
    for level in range(config.levels):
        offset = mid * (config.half_spread_bps + level * config.level_step_bps) / BPS
        offset = max(offset, tick_size * (level + 1))
        bid = _to_tick(mid - offset, tick_size, ROUND_FLOOR)
        ask = _to_tick(mid + offset, tick_size, ROUND_CEILING)
        qty = config.qty * (level + 1)
        if bid > 0:
            targets.append(QuoteTarget("buy", level, bid, qty))
        targets.append(QuoteTarget("sell", level, ask, qty))
    return targets


def house_account() -> TradingAccount | None:
    return (
        TradingAccount.objects.filter(
            name=HOUSE_ACCOUNT_NAME,
            broker="exchange",
            memberships__user__username=HOUSE_USERNAME,
            memberships__role=MembershipRole.OWNER,
        )
        .order_by("created_at")
        .first()
    )


@transaction.atomic
def seed_house_account() -> str:
    """Idempotent demo seeder: the user `house` (no password: nobody signs in as it) and its
    exchange account with ample cash and limits that allow short selling."""
    user = User.objects.filter(username=HOUSE_USERNAME).first()
    if user is None:
        user = account_services.user_create(username=HOUSE_USERNAME, role=Role.TRADER)
    account = house_account()
    created = account is None
    if created:
        account = account_services.account_create(
            actor=None,
            owner=user,
            name=HOUSE_ACCOUNT_NAME,
            broker="exchange",
            starting_cash=HOUSE_CASH,
        )
    RiskLimits.objects.update_or_create(
        account=account,
        defaults={
            "allow_short": True,
            "max_open_orders": 200,
            "max_order_qty": Decimal("100000"),
            "max_orders_per_minute": None,
            "kill_switch": False,
        },
    )
    return f"{HOUSE_ACCOUNT_NAME} ({'new' if created else 'exists'})"


def _mid(quote) -> Decimal | None:
    if quote is None:
        return None
    if quote.bid and quote.ask and quote.ask > quote.bid:
        return (quote.bid + quote.ask) / 2
    return quote.last or None


def market_maker_requote(
    *, account: TradingAccount, symbol: str, tick_size: Decimal, quote, config: MakerConfig
) -> RequoteResult:
    """Bring the house account's quotes of `symbol` to the targets around `quote`'s mid."""
    result = RequoteResult()
    mid = _mid(quote)
    if mid is None:
        return result
    open_orders: dict[str, list[Order]] = {}
    for order in Order.objects.filter(
        account=account, symbol=symbol, status__in=OPEN_STATUSES, tag__startswith=TAG_PREFIX
    ).order_by("created_at"):
        open_orders.setdefault(order.tag, []).append(order)
    requote = _Requote(
        account=account,
        symbol=symbol,
        threshold=max(mid * config.requote_bps / BPS, tick_size),
        result=result,
    )
    for target in _in_safe_order(
        quote_targets(mid=mid, tick_size=tick_size, config=config), open_orders
    ):
        requote.level(target, open_orders.pop(target.tag, []))
    for orders in open_orders.values():  # levels no longer quoted (fewer levels configured)
        for order in orders:
            if order.status in WORKING and requote.attempt("cancel", lambda o=order: _cancel(o)):
                result.canceled += 1
    return result


@dataclass
class _Requote:
    """One symbol's requote round: each level brought to its target."""

    account: TradingAccount
    symbol: str
    threshold: Decimal
    result: RequoteResult

    def attempt(self, what: str, call) -> bool:
        try:
            call()
        except ApplicationError as exc:  # a busy order, a risk limit: logged, tried next round
            self.result.busy += 1
            self.result.errors.append(f"{self.symbol} {what}: {exc.code} {exc.message}")
            return False
        return True

    def level(self, target: QuoteTarget, orders: list[Order]) -> None:
        result = self.result
        working = [o for o in orders if o.status in WORKING]
        for extra in working[1:]:  # never more than one quote per level
            if self.attempt("cancel", lambda o=extra: _cancel(o)):
                result.canceled += 1
        if working:
            current = working[0]
            if abs(current.limit_price - target.price) > self.threshold and self.attempt(
                "move",
                lambda o=current, t=target: order_modify(
                    user=None, actor=MAKER_ACTOR, order_id=o.pk, limit_price=t.price
                ),
            ):
                result.moved += 1
        elif orders:
            result.busy += 1  # being sent or canceled: settles before the next round
        elif self.attempt("place", lambda t=target: self._place(t)):
            result.placed += 1

    def _place(self, target: QuoteTarget) -> None:
        order_place(
            user=None,
            actor=MAKER_ACTOR,
            account_id=self.account.pk,
            symbol=self.symbol,
            side=target.side,
            order_type="limit",
            qty=target.qty,
            limit_price=target.price,
            time_in_force="gtc",
            tag=target.tag,
        )


def _in_safe_order(targets: list[QuoteTarget], open_orders: dict[str, list[Order]]):
    """Move the side the price moves towards first: asks up before bids follow (and bids
    down before asks), so a moved quote never meets the house's own other side (the
    exchange's self-trade prevention would cancel it)."""
    rising = any(
        o.limit_price < t.price
        for t in targets
        if t.side == "sell"
        for o in open_orders.get(t.tag, [])
        if o.limit_price is not None
    )
    first = "sell" if rising else "buy"
    return sorted(targets, key=lambda t: (t.side != first, t.level))


def _cancel(order: Order) -> None:
    order_cancel(user=None, actor=MAKER_ACTOR, order_id=order.pk, reason="market_maker")


def market_maker_processes(env: Mapping[str, str]):
    """`make run` starts the market maker with the simulator feed (OMS_MARKET_MAKER=0: not)."""
    feed = (env.get("OMS_FEED") or "simulator").strip().lower()
    enabled = (env.get("OMS_MARKET_MAKER") or "1").strip().lower() not in ("0", "false", "no")
    if feed != "simulator" or not enabled:
        return []
    return [manage_py("market-maker", "run_market_maker")]
