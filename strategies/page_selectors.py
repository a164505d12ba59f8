"""Reads for the strategies pages (the list's last signal, the detail's log, the blotter's
links). The rules of who sees what are the same as strategies/selectors.py: only the
owner sees a strategy; an order's link shows to whoever may see the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, OuterRef, Q, Subquery

from accounts.models import MembershipRole, TradingAccount, User
from accounts.selectors import account_list_for_user, account_roles_for_user
from orders.core.selectors import order_visible_qs
from strategies.models import Signal, Strategy, StrategyOrder
from strategies.selectors import order_strategy_links, strategy_list

MAX_LINKED_ORDERS = 200
MAX_STRATEGY_ACCOUNTS = 500  # services.MAX_ACCOUNTS


@dataclass(frozen=True, slots=True)
class LastSignal:
    received_at: datetime
    status: str
    reason: str
    placed: int  # accounts whose orders went out as planned
    not_placed: int  # accounts whose outcome says why (none placed, or refused on the way)

    @property
    def accounts(self) -> int:
        return self.placed + self.not_placed


@dataclass(frozen=True, slots=True)
class StrategyRow:
    strategy: Strategy
    accounts: int
    last_signal: LastSignal | None


def strategy_rows(*, user: User) -> list[StrategyRow]:
    """The user's strategies with their account count and last signal's outcome."""
    last_signal_id = Subquery(
        Signal.objects.filter(strategy=OuterRef("pk"))
        .order_by("-received_at", "-id")
        .values("id")[:1]
    )
    strategies = list(
        strategy_list(user=user).annotate(
            account_count=Count("members", distinct=True), last_signal_id=last_signal_id
        )
    )
    last_ids = [s.last_signal_id for s in strategies if s.last_signal_id is not None]
    signals = {
        signal.pk: signal
        for signal in Signal.objects.filter(pk__in=last_ids).annotate(
            placed=Count("outcomes", filter=Q(outcomes__reason__isnull=True)),
            not_placed=Count("outcomes", filter=Q(outcomes__reason__isnull=False)),
        )
    }
    rows = []
    for strategy in strategies:
        signal = signals.get(strategy.last_signal_id)
        last = None
        if signal is not None:
            last = LastSignal(
                received_at=signal.received_at,
                status=signal.status,
                reason=signal.reason,
                placed=signal.placed,
                not_placed=signal.not_placed,
            )
        rows.append(
            StrategyRow(strategy=strategy, accounts=strategy.account_count, last_signal=last)
        )
    return rows


def tradable_accounts(*, user: User) -> list[dict[str, str]]:
    """{"id", "name"} of the accounts the user may trade on (a strategy's candidates)."""
    accounts = list(account_list_for_user(user=user)[:MAX_STRATEGY_ACCOUNTS])
    roles = account_roles_for_user(user=user, account_ids=[a.pk for a in accounts])
    return [
        {"id": str(a.pk), "name": a.name}
        for a in accounts
        if roles.get(str(a.pk)) in (MembershipRole.OWNER, MembershipRole.TRADE)
    ]


def strategy_members(*, strategy: Strategy) -> list:
    return list(strategy.members.select_related("account").order_by("position", "id"))


def account_names(*, members: list, signals: list[Signal]) -> dict[str, str]:
    """Names of the strategy's accounts and of those in these signals' outcomes (an
    account may have left the strategy since)."""
    names = {str(member.account_id): member.account.name for member in members}
    missing = {
        outcome.account_id
        for signal in signals
        for outcome in signal.outcomes.all()
        if str(outcome.account_id) not in names
    }
    rows = TradingAccount.objects.filter(pk__in=missing).values_list("pk", "name")
    return {**names, **{str(pk): name for pk, name in rows}}


def order_links_for_user(*, user: User, order_ids: list[str]) -> dict[str, dict[str, object]]:
    """order id → {"strategy", "strategy_name", "signal", "own"} for the orders among
    `order_ids` that the user may see and a strategy placed; "own": the user owns the
    strategy (only then is its page theirs to open)."""
    visible = list(
        order_visible_qs(user=user)
        .filter(pk__in=order_ids[:MAX_LINKED_ORDERS])
        .values_list("pk", flat=True)
    )
    links = order_strategy_links(order_ids=visible)
    owned = set(
        Strategy.objects.filter(
            owner=user, pk__in={link["strategy"] for link in links.values()}
        ).values_list("pk", flat=True)
    )
    owned_ids = {str(pk) for pk in owned}
    return {
        order_id: {**link, "own": link["strategy"] in owned_ids} for order_id, link in links.items()
    }


def order_link(*, order_id: object) -> StrategyOrder | None:
    """The strategy link of one order (the order page, whose caller may see the order)."""
    return (
        StrategyOrder.objects.filter(order_id=order_id).select_related("strategy", "signal").first()
    )
