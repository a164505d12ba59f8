"""A GTT fires: exactly once, its order placed through `order_place` in the same
transaction (orders/automation/gtt.py describes the rules); and a GTT's order rejected
later marks the GTT rejected."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms_site.errors import ApplicationError, RiskRejected
from oms_site.locks import lock_one_or_none
from orders.automation.gtt import (
    GTT_ACTOR,
    gtt_event,
    gtt_publish,
    gtt_save,
    gtt_triggers_cancel,
)
from orders.core.place import order_place
from orders.core.placement import PlacementLinks
from orders.core.trigger_store import crossing_filter
from orders.models import Gtt, GttStatus, Order, Product, Trigger, TriggerStatus


def gtt_fire(*, trigger_id: int, last: Decimal) -> list[str]:
    """Fire one GTT trigger exactly once: returns the id of the order it placed ([] when
    another process fired it, it is no longer active, or no longer crossed)."""
    row = Trigger.objects.filter(pk=trigger_id).values_list("gtt_id", "direction", "leg").first()
    if row is None or row[0] is None:
        return []
    gtt_id, direction, leg = row
    with transaction.atomic():
        gtt = lock_one_or_none(Gtt.objects, pk=gtt_id)
        if gtt is None or gtt.status != GttStatus.ACTIVE:
            return []
        now = timezone.now()
        won = Trigger.objects.filter(
            pk=trigger_id, status=TriggerStatus.ACTIVE, **crossing_filter(direction, last)
        ).update(status=TriggerStatus.FIRED, fired_at=now, fired_price=last)
        if won != 1:
            return []
        gtt_triggers_cancel(gtt)  # the other leg of an oco
        gtt.status = GttStatus.TRIGGERED
        gtt.triggered_at = now
        gtt.triggered_leg = leg
        gtt.triggered_price = last
        gtt_event(gtt, "triggered", GTT_ACTOR, {"leg": leg, "last": last, "trigger_id": trigger_id})
        gtt_save(gtt, "status", "triggered_at", "triggered_leg", "triggered_price")
        order_id, reason = _place(gtt, leg)
        # A rejected placement may have marked the GTT already (gtt_order_rejected).
        gtt.refresh_from_db()
        if order_id is not None:
            gtt.order_ids = [*gtt.order_ids, order_id]
        if reason and gtt.status != GttStatus.REJECTED:
            gtt.status = GttStatus.REJECTED
            gtt.reason = reason[:300]
            gtt_event(gtt, "rejected", GTT_ACTOR, {"reason": reason, "order_id": order_id})
        gtt_save(gtt, "order_ids", "status", "reason")
        gtt_publish(gtt)
    return [order_id] if order_id is not None else []


def _place(gtt: Gtt, leg: int) -> tuple[str | None, str]:
    """Place the GTT's order for `leg`: (order id or None, rejection reason or "")."""
    spec = gtt.orders[leg]
    try:
        result = order_place(
            user=None,
            actor=GTT_ACTOR,
            account_id=gtt.account_id,
            symbol=gtt.symbol,
            side=spec["side"],
            order_type=spec["type"],
            qty=Decimal(spec["qty"]),
            limit_price=None if spec.get("limit_price") is None else Decimal(spec["limit_price"]),
            time_in_force="day",
            client_order_id=f"gtt-{gtt.pk}-{leg}",
            tag=gtt.tag or f"gtt:{gtt.pk}",
            product=spec.get("product") or Product.DELIVERY,
            links=PlacementLinks(gtt_id=gtt.pk),
        )
    except RiskRejected as exc:
        return exc.extra.get("order_id"), exc.message
    except ApplicationError as exc:
        return None, exc.message
    order = result.order
    if order.status == "rejected":
        return str(order.pk), order.reject_reason
    return str(order.pk), ""


def gtt_order_rejected(*, gtt_id: object, order: Order) -> None:
    """An order a GTT placed was rejected later (by the venue, or on release): the GTT
    becomes `rejected` with the reason. Called inside the order's transaction."""
    gtt = lock_one_or_none(Gtt.objects, pk=gtt_id)
    if gtt is None or gtt.status != GttStatus.TRIGGERED:
        return
    gtt.status = GttStatus.REJECTED
    gtt.reason = (order.reject_reason or "rejected")[:300]
    gtt_event(gtt, "rejected", GTT_ACTOR, {"reason": gtt.reason, "order_id": str(order.pk)})
    gtt_save(gtt, "status", "reason")
    gtt_publish(gtt)
