"""Live pushes of signal outcomes (stream channel `signals`, per account: members see only
their accounts' outcomes) and the `signal.refused` notification of the strategy's owner."""

from __future__ import annotations

from notifications.services import notify, publish_batch
from oms_site.api import format_decimal
from strategies.models import SignalOutcome, Strategy

SIGNALS_CHANNEL = "signals"


def outcome_data(outcome: SignalOutcome, strategy: Strategy) -> dict[str, object]:
    return {
        "signal_id": str(outcome.signal_id),
        "strategy": str(strategy.pk),
        "account": str(outcome.account_id),
        "qty": None if outcome.qty is None else format_decimal(outcome.qty),
        "order_ids": list(outcome.order_ids),
        "reason": outcome.reason,
    }


def outcomes_publish(*, outcomes: list[SignalOutcome], strategy: Strategy) -> None:
    """On commit, one send for all: `{"channel": "signals", "event": "signal.outcome",
    "data": ...}` per account (to those who see that account)."""
    batch = publish_batch()
    for outcome in outcomes:
        batch.add(
            channel=SIGNALS_CHANNEL,
            event="signal.outcome",
            data=outcome_data(outcome, strategy),
            account_id=outcome.account_id,
        )


def refusal_notify(*, outcome: SignalOutcome, strategy: Strategy, symbol: str) -> None:
    """Tell the owner an account did not take the signal (risk, validation, access)."""
    notify(
        user=strategy.owner,
        account=outcome.account,
        kind="signal.refused",
        title=f"Strategy {strategy.name}: {symbol} refused on {outcome.account.name}",
        body=outcome.reason or "",
        data=outcome_data(outcome, strategy),
        level="warning",
    )
