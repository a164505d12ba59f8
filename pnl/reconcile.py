"""Reconciliation: our positions against what the account's venue reports, and for an
account at a real broker (alpaca, kite) our orders against the broker's.

The venue's view comes from the position source registered in pnl.registry (execution's
`broker_positions`, wired by orders); a real broker's orders and fills from
`execution.broker_sync` (pnl may import execution), ours from pnl.registry's open-orders
source. Orders and fills the broker has that OMS never placed are handed to execution's
external sink; if nobody imports them, they are differences too.

A difference is never "fixed" by overwriting our positions: it opens a ReconciliationAlert,
writes an audit record and notifies the account's members. An alert whose two sides agree
again is resolved (and audited); an admin may also resolve it by hand (with a note) in the
back office.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount, User
from accounts.services import audit_log_record
from marketdata.selectors import normalize_symbol
from oms_site.api import format_decimal
from oms_site.errors import InvalidState, NotFound
from oms_site.locks import lock_one_or_none, lock_rows
from pnl import registry
from pnl.models import AlertKind, AlertStatus, Position, ReconciliationAlert

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
FILLS_LOOKBACK = timedelta(days=1)  # the broker's fills read back for external ones


@dataclass
class ReconcileResult:
    account_id: str
    checked: bool = False
    opened: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return len(self.opened) + len(self.changed)


def _alert_data(alert: ReconciliationAlert) -> dict[str, str]:
    data = {
        "account": str(alert.account_id),
        "symbol": alert.symbol,
        "ours": format_decimal(alert.ours),
        "theirs": format_decimal(alert.theirs),
    }
    if alert.kind != AlertKind.POSITION:
        data.update({"kind": alert.kind, "ref": alert.ref, "detail": alert.detail})
    return data


def _notify(alert: ReconciliationAlert, account: TradingAccount) -> None:
    notifier = registry.alert_notifier()
    if notifier is None:
        return
    if alert.kind == AlertKind.ORDER:
        title = f"Order mismatch in {alert.symbol} on {account.name}"
        body = f"Order {alert.ref}: {alert.detail} Nothing was changed; please check."
    else:
        title = f"Position mismatch in {alert.symbol} on {account.name}"
        body = (
            f"OMS holds {format_decimal(alert.ours)}, the venue reports "
            f"{format_decimal(alert.theirs)}. Nothing was changed; please check."
        )
    notifier(
        account=account,
        kind="reconciliation.difference",  # the event name of API.md
        title=title,
        body=body,
        data={"alert_id": alert.pk, **_alert_data(alert)},
        level="warning",
    )


def _venue_positions(account: TradingAccount) -> dict[str, Decimal] | None:
    source = registry.position_source()
    if source is None:
        return None
    theirs: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in source(broker=account.broker, account_id=str(account.pk)):
        theirs[normalize_symbol(row.symbol)] += Decimal(row.qty)
    return dict(theirs)


def reconcile_positions(*, account_id: object, now: datetime | None = None) -> ReconcileResult:
    """Compare the account's open positions with the venue's (and, at a real broker, its
    orders with the broker's); open, update or resolve alerts. The venue is asked outside the
    transaction (it may be a network call); its errors propagate to the caller (the beat
    task reports them)."""
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Account not found.")
    now = now or datetime.now(UTC)
    result = ReconcileResult(account_id=str(account.pk))
    theirs = _venue_positions(account)
    if theirs is not None:
        result.checked = True
        with transaction.atomic():
            ours = dict(
                Position.objects.filter(account=account).exclude(qty=0).values_list("symbol", "qty")
            )
            rows = {
                symbol: (ours.get(symbol, ZERO), theirs.get(symbol, ZERO), "")
                for symbol in set(ours) | set(theirs)
            }
            _apply_differences(account, AlertKind.POSITION, rows, now, result)
    _reconcile_broker_orders(account, now, result)
    if result.differences:
        logger.warning(
            "Reconciliation of account %s: %d open difference(s)", account.pk, result.differences
        )
    return result


def _reconcile_broker_orders(
    account: TradingAccount, now: datetime, result: ReconcileResult
) -> None:
    broker_orders_check = registry.broker_orders_checker()
    if broker_orders_check is None:
        return
    check = broker_orders_check(
        account_id=str(account.pk),
        broker=account.broker,
        ours=registry.open_orders_source(),
        now=now,
        fills_since=now - FILLS_LOOKBACK,
    )
    if check is None:
        return
    result.checked = True
    rows = {
        (diff.ref, diff.symbol): (diff.ours, diff.theirs, diff.detail) for diff in check.differences
    }
    with transaction.atomic():
        _apply_differences(account, AlertKind.ORDER, rows, now, result)


def _apply_differences(
    account: TradingAccount,
    kind: str,
    rows: dict,
    now: datetime,
    result: ReconcileResult,
) -> None:
    """Open, update or resolve the account's alerts of `kind`. `rows`: {key: (ours, theirs,
    detail)}, key a symbol (positions) or (ref, symbol) (orders); a position row whose two
    sides agree resolves its alert, an order alert is resolved once its key is gone."""
    open_alerts = {
        (alert.symbol if kind == AlertKind.POSITION else (alert.ref, alert.symbol)): alert
        for alert in lock_rows(
            ReconciliationAlert.objects.filter(account=account, status=AlertStatus.OPEN, kind=kind)
        )
    }
    for key in sorted(set(rows) | set(open_alerts)):
        mine, venue, detail = rows.get(key, (ZERO, ZERO, ""))
        alert = open_alerts.get(key)
        differs = key in rows and (kind != AlertKind.POSITION or mine != venue)
        if not differs:
            if alert is not None:
                note = "Positions agree again." if kind == AlertKind.POSITION else "Orders agree."
                _resolve(alert, actor=None, note=note, now=now)
                result.resolved.append(alert.pk)
            continue
        if alert is None:
            ref, symbol = ("", key) if kind == AlertKind.POSITION else key
            alert = ReconciliationAlert.objects.create(
                account=account,
                kind=kind,
                symbol=symbol[:32],
                ref=ref[:64],
                detail=detail[:300],
                ours=mine,
                theirs=venue,
                created_at=now,
                last_seen_at=now,
            )
            audit_log_record(
                actor=None,
                action="pnl.reconciliation.mismatch",
                obj=alert,
                data=_alert_data(alert),
            )
            _notify(alert, account)
            result.opened.append(alert.pk)
        elif (alert.ours, alert.theirs, alert.detail) != (mine, venue, detail[:300]):
            before = _alert_data(alert)
            alert.ours, alert.theirs, alert.detail = mine, venue, detail[:300]
            alert.last_seen_at = now
            alert.save(update_fields=["ours", "theirs", "detail", "last_seen_at"])
            audit_log_record(
                actor=None,
                action="pnl.reconciliation.changed",
                obj=alert,
                data={"before": before, "after": _alert_data(alert)},
            )
            result.changed.append(alert.pk)
        else:
            ReconciliationAlert.objects.filter(pk=alert.pk).update(last_seen_at=now)


def _resolve(alert: ReconciliationAlert, *, actor: User | None, note: str, now: datetime) -> None:
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = actor if actor is not None and actor.pk else None
    alert.resolution_note = note[:300]
    alert.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    audit_log_record(
        actor=actor,
        action="pnl.reconciliation.resolved",
        obj=alert,
        data={**_alert_data(alert), "note": alert.resolution_note},
    )


@transaction.atomic
def reconciliation_alert_resolve(
    *, alert_id: object, actor: User | None, note: str = ""
) -> ReconciliationAlert:
    """Mark an open alert resolved (back office). Already resolved → InvalidState."""
    alert = lock_one_or_none(ReconciliationAlert.objects, pk=alert_id)
    if alert is None:
        raise NotFound("Alert not found.")
    if not alert.is_open:
        raise InvalidState("This alert is already resolved.")
    _resolve(alert, actor=actor, note=note or "Resolved by an admin.", now=timezone.now())
    return alert
