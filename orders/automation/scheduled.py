"""Scheduled orders: an order template placed at a time (`once`) or on a cron schedule.

Each `ScheduledOrder` owns one django-celery-beat `PeriodicTask` (a `ClockedSchedule` for
once, a `CrontabSchedule` in the schedule's time zone for cron) running the task
`orders.scheduled_order_run`; saving, enabling, disabling or deleting the schedule (API,
page or admin) keeps that task in step. Beat (DatabaseScheduler) picks the change up.

A run places the template through `order_place` — all the checks of a new order — as the
schedule's creator (who must still be allowed to trade the account) under the
client_order_id `sch-<schedule>-<yyyymmddHHMM>` of its minute, so a run delivered twice
places one order.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from accounts.models import User
from accounts.selectors import account_get_for_user
from accounts.services import audit_log_record
from oms_site.errors import (
    ApplicationError,
    NotFound,
    PermissionDenied,
    RiskRejected,
    ValidationFailed,
)
from oms_site.locks import lock_one
from oms_site.parsing import InputError, decimal_from_input
from orders.automation.notify import schedule_ran_notify
from orders.automation.selectors import scheduled_order_get_for_user
from orders.core import risk
from orders.core.lifecycle import Actor
from orders.core.place import order_place
from orders.core.placement import account_for_trading, instrument_for_trading, instrument_rules
from orders.models import Order, OrderType, ScheduledOrder, ScheduleKind

logger = logging.getLogger(__name__)

TASK_NAME = "orders.scheduled_order_run"
TEMPLATE_KEYS = {
    "symbol",
    "side",
    "type",
    "qty",
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
    "time_in_force",
    "product",
    "tag",
}
_DECIMALS = ("qty", "limit_price", "stop_price", "trail_price", "trail_percent")


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else decimal_from_input(value)
    except InputError:
        return None


def clean_template(errors: risk.FieldErrors, raw: Any) -> dict[str, Any]:
    """The order template: POST /api/v1/orders fields (no account/client_order_id), checked
    like a new order (grid, required prices per type). Stored with decimal strings."""
    if not isinstance(raw, dict):
        errors.add("order", "Must be an object with the order's fields.")
        return {}
    for key in sorted(set(raw) - TEMPLATE_KEYS):
        errors.add(f"order.{key}", "Unknown field (time_in_force, product, tag and prices are).")
    clean: dict[str, Any] = {
        "symbol": str(raw.get("symbol") or "").strip().upper(),
        "side": raw.get("side"),
        "type": raw.get("type", OrderType.MARKET),
        "time_in_force": raw.get("time_in_force", "day"),
        "product": raw.get("product", "delivery"),
        "tag": str(raw.get("tag") or "")[:200],
    }
    for name in _DECIMALS:
        value = _decimal(raw.get(name))
        if raw.get(name) not in (None, "") and value is None:
            errors.add(f"order.{name}", "Must be a number.")
        clean[name] = value
    if errors:
        return {}
    try:
        instrument = instrument_for_trading(clean["symbol"])
    except ApplicationError:
        errors.add("order.symbol", "Unknown symbol.")
        return {}
    draft = risk.OrderDraft(
        side=clean["side"],
        type=clean["type"],
        qty=clean["qty"],
        limit_price=clean["limit_price"],
        stop_price=clean["stop_price"],
        trail_price=clean["trail_price"],
        trail_percent=clean["trail_percent"],
        time_in_force=clean["time_in_force"],
        product=clean["product"],
    )
    if draft.time_in_force == "gtd":
        errors.add("order.time_in_force", "A scheduled order runs day, gtc, ioc or fok.")
        return {}
    try:
        risk.validate_order(draft, instrument_rules(instrument), now=timezone.now())
    except ApplicationError as exc:
        for name, messages in (exc.fields or {}).items():
            for message in messages:
                errors.add(f"order.{name}", message)
        return {}
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in clean.items()}


def _cron_fields(errors: risk.FieldErrors, cron: str) -> list[str]:
    parts = cron.split()
    if len(parts) != 5:
        errors.add("cron", "Five fields: minute hour day-of-month month day-of-week.")
        return []
    try:
        crontab(*parts)
    except (ValueError, TypeError) as exc:
        errors.add("cron", f"Not a valid cron expression: {exc}.")
        return []
    return parts


def clean_schedule(
    errors: risk.FieldErrors, kind: str, run_at: datetime | None, cron: str, tz: str
) -> list[str]:
    if kind not in ScheduleKind.values:
        errors.add("kind", "Use once or cron.")
        return []
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.add("tz", "Unknown time zone.")
    if kind == ScheduleKind.ONCE:
        if run_at is None:
            errors.add("run_at", "Required for a once schedule.")
        elif run_at <= timezone.now():
            errors.add("run_at", "Must be in the future.")
        return []
    return _cron_fields(errors, cron or "")


def _check_account(user: User | None, account_id: object):
    return account_for_trading(user=user, account_id=account_id)


def _sync_periodic_task(row: ScheduledOrder, cron_parts: list[str] | None = None) -> None:
    """Create or update the beat task of `row` (inside the caller's transaction)."""
    task = row.periodic_task or PeriodicTask(name=f"scheduled-order:{row.pk}", task=TASK_NAME)
    task.kwargs = json.dumps({"schedule_id": str(row.pk)})
    task.queue = "execution"
    task.description = f"Places the scheduled order {row.name!r}"
    task.enabled = row.enabled
    task.interval = task.solar = None
    if row.kind == ScheduleKind.ONCE:
        task.crontab = None
        task.clocked, _ = ClockedSchedule.objects.get_or_create(clocked_time=row.run_at)
        task.one_off = True
    else:
        parts = cron_parts or row.cron.split()
        task.clocked = None
        task.one_off = False
        task.crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=parts[0],
            hour=parts[1],
            day_of_month=parts[2],
            month_of_year=parts[3],
            day_of_week=parts[4],
            timezone=row.tz,
        )
    task.save()
    if row.periodic_task_id != task.pk:
        row.periodic_task = task
        row.save(update_fields=["periodic_task"])


def scheduled_order_sync(*, schedule: ScheduledOrder) -> None:
    """Bring the beat task in line with an edited row (used by the admin)."""
    with transaction.atomic():
        _sync_periodic_task(schedule)


def scheduled_order_save(
    *,
    user: User | None,
    schedule_id: object = None,
    account_id: object = None,
    name: str | None = None,
    order: dict[str, Any] | None = None,
    kind: str | None = None,
    run_at: datetime | None = None,
    cron: str | None = None,
    tz: str | None = None,
    enabled: bool | None = None,
) -> ScheduledOrder:
    """Create (schedule_id None) or update a schedule and its beat task. 400 naming the
    field, 404/403 by account access (trade level)."""
    if schedule_id is None:
        row = ScheduledOrder(created_by=user if user is not None and user.pk else None)
        if account_id is None:
            raise ValidationFailed("account: required.", fields={"account": ["Required."]})
    elif user is not None:
        row = scheduled_order_get_for_user(user=user, schedule_id=schedule_id, level="trade")
    else:
        row = ScheduledOrder.objects.get(pk=schedule_id)
    if account_id is not None:
        row.account = _check_account(user, account_id)
    errors = risk.FieldErrors()
    _apply_changes(
        row,
        errors,
        name=name,
        order=order,
        kind=kind,
        run_at=run_at,
        cron=cron,
        tz=tz,
        enabled=enabled,
    )
    parts = clean_schedule(errors, row.kind, row.run_at, row.cron, row.tz)
    errors.raise_if_any()
    row.updated_at = timezone.now()
    created = schedule_id is None
    with transaction.atomic():
        row.save()
        _sync_periodic_task(row, parts or None)
        if user is not None:  # the back office's own edits are audited by the admin
            action = "schedule.create" if created else "schedule.update"
            audit_log_record(actor=user, action=action, obj=row, data=_audit_data(row))
    return row


def _apply_changes(
    row: ScheduledOrder,
    errors: risk.FieldErrors,
    *,
    name: str | None,
    order: dict[str, Any] | None,
    kind: str | None,
    run_at: datetime | None,
    cron: str | None,
    tz: str | None,
    enabled: bool | None,
) -> None:
    """The given fields onto `row` (errors collected, not raised)."""
    if name is not None:
        row.name = name.strip()[:120]
    if not row.name:
        errors.add("name", "This field is required.")
    if order is not None:
        row.order = clean_template(errors, order)
    elif not row.order:
        errors.add("order", "This field is required.")
    row.kind = kind or row.kind
    if run_at is not None:
        row.run_at = run_at
    if cron is not None:
        row.cron = cron.strip()
    if tz is not None:
        row.tz = tz.strip() or "UTC"
    if enabled is not None:
        row.enabled = bool(enabled)
    if row.kind == ScheduleKind.CRON:
        row.run_at = None
    else:
        row.cron = ""


def _audit_data(row: ScheduledOrder) -> dict[str, Any]:
    when = {"cron": row.cron, "tz": row.tz} if row.kind == ScheduleKind.CRON else {}
    if row.run_at is not None:
        when["run_at"] = row.run_at.isoformat()
    return {
        "account": str(row.account_id),
        "name": row.name,
        "kind": row.kind,
        "enabled": row.enabled,
        "order": row.order,
        **when,
    }


def scheduled_order_delete(*, user: User | None, schedule_id: object) -> None:
    if user is not None:
        row = scheduled_order_get_for_user(user=user, schedule_id=schedule_id, level="trade")
    else:
        row = ScheduledOrder.objects.get(pk=schedule_id)
    with transaction.atomic():
        if user is not None:  # the back office's deletions are audited by the admin
            audit_log_record(actor=user, action="schedule.delete", obj=row, data=_audit_data(row))
        task = row.periodic_task
        row.delete()
        if task is not None:
            task.delete()


def scheduled_order_run(*, schedule_id: object, now: datetime | None = None):
    """Place the schedule's order now (the beat task's body). Returns the order, or None
    when the schedule is gone, disabled, or its creator may no longer trade the account."""
    now = now or timezone.now()
    row = ScheduledOrder.objects.select_related("created_by").filter(pk=schedule_id).first()
    if row is None or not row.enabled:
        return None
    actor = Actor(type="system", id=str(row.pk), name=f"schedule: {row.name}"[:100])
    order, error = None, ""
    try:
        if row.created_by is not None and not row.created_by.is_oms_admin:
            account_get_for_user(user=row.created_by, account_id=row.account_id, level="trade")
        template = dict(row.order)
        result = order_place(
            user=None,
            actor=actor,
            account_id=row.account_id,
            symbol=template["symbol"],
            side=template["side"],
            order_type=template["type"],
            qty=Decimal(template["qty"]),
            **{
                name: None if template.get(name) is None else Decimal(template[name])
                for name in ("limit_price", "stop_price", "trail_price", "trail_percent")
            },
            time_in_force=template.get("time_in_force") or "day",
            product=template.get("product") or "delivery",
            tag=template.get("tag") or f"schedule:{row.name}"[:200],
            client_order_id=f"sch-{row.pk.hex[:16]}-{now:%Y%m%d%H%M}",
        )
        order = result.order
    except RiskRejected as exc:
        order = Order.objects.filter(pk=exc.extra.get("order_id")).first()
        error = exc.message
    except (NotFound, PermissionDenied):
        error = "The schedule's owner may no longer trade this account."
    except ApplicationError as exc:
        error = exc.message
    _record_run(row, now=now, order=order, error=error)
    if error:
        logger.warning("Scheduled order %s (%s): %s", row.pk, row.name, error)
    return order


def _record_run(row: ScheduledOrder, *, now: datetime, order: Order | None, error: str) -> None:
    """The run on the schedule's row (a `once` schedule is done), and its notification."""
    with transaction.atomic():
        fresh = lock_one(ScheduledOrder.objects, pk=row.pk)
        fresh.run_count += 1
        fresh.last_run_at = now
        fresh.last_order = order
        fresh.last_error = error[:300]
        fields = ["run_count", "last_run_at", "last_order", "last_error", "updated_at"]
        if fresh.kind == ScheduleKind.ONCE:
            fresh.enabled = False
            fields.append("enabled")
        fresh.updated_at = now
        fresh.save(update_fields=fields)
        schedule_ran_notify(schedule=row, order=order, error=error)
