"""Auto-exit at the end of a strategy's trading window: each symbol the strategy trades is
flattened on every account by an `exit` signal of its own, through the normal fan-out (so
it is logged, pushed and sized like any signal). Run every minute by beat; the signal's
sender id names the exchange's local date, so one window end exits once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketdata.models import Instrument
from strategies.models import Signal, SignalStatus, Strategy, StrategyOrder
from strategies.services import enqueue_fan_out

logger = logging.getLogger(__name__)

# A beat that ran late still exits within this long after the window's end.
GRACE = timedelta(minutes=10)


def _window_just_ended(strategy: Strategy, tz: str, now: datetime) -> str | None:
    """The local date whose window end `now` is within GRACE after, else None."""
    local = now.astimezone(ZoneInfo(tz))
    end = datetime.combine(local.date(), strategy.window_end, tzinfo=local.tzinfo)
    if end > local:
        end -= timedelta(days=1)
    if local - end >= GRACE:
        return None
    return end.date().isoformat()


def strategies_auto_exit(*, now: datetime | None = None) -> list[str]:
    """Store (and enqueue) the exit signals due now; their ids."""
    now = now or timezone.now()
    created = []
    strategies = Strategy.objects.filter(
        auto_exit=True, deleted_at__isnull=True, window_end__isnull=False
    )
    for strategy in strategies:
        symbols = sorted(
            set(StrategyOrder.objects.filter(strategy=strategy).values_list("symbol", flat=True))
        )
        zones = dict(
            Instrument.objects.filter(symbol__in=symbols).values_list(
                "symbol", "exchange__timezone"
            )
        )
        for symbol in symbols:
            day = _window_just_ended(strategy, zones.get(symbol, "UTC"), now)
            if day is None:
                continue
            signal = Signal(
                strategy=strategy,
                received_at=now,
                body={"symbol": symbol, "action": "exit", "auto_exit": day},
                sender_id=f"auto-exit:{day}:{symbol}"[:128],
                status=SignalStatus.ACCEPTED,
            )
            signal.answer_body = {"signal_id": str(signal.pk), "status": "accepted"}
            try:
                with transaction.atomic():
                    signal.save(force_insert=True)
                    enqueue_fan_out(signal.pk)
            except IntegrityError:
                continue  # this window end's exit is already stored
            logger.info("strategy %s: auto-exit of %s (window end %s)", strategy.pk, symbol, day)
            created.append(str(signal.pk))
    return created
