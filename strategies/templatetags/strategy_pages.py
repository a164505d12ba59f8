"""Template helpers of the strategies pages, and the order page's link to the strategy
that placed the order (`{% order_strategy_link order as link %}`: orders' templates load
this library, orders' code never imports strategies)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from accounts.templatetags.oms_format import money, percent, qty
from strategies import page_selectors
from strategies.forms import SIZING_LABELS

register = template.Library()


@register.filter
def sizing_text(sizing: object) -> str:
    """{"type": "equity_pct", "pct": "2", "max_qty": "50"} → "2.00% of equity, max 50"."""
    if not isinstance(sizing, dict):
        return ""
    kind = sizing.get("type")
    main = {
        "fixed_qty": lambda: f"{qty(sizing.get('qty'))} fixed",
        "fixed_value": lambda: f"{money(sizing.get('value'))} worth",
        "equity_pct": lambda: f"{percent(sizing.get('pct'))} of equity",
        "risk_pct": lambda: f"{percent(sizing.get('pct'))} of equity at risk to the stop",
        "multiplier": lambda: f"× {qty(sizing.get('factor'))} the signal's qty",
    }.get(kind, lambda: SIZING_LABELS.get(kind, str(kind)))()
    bounds = [
        f"{name} {qty(sizing[key])}"
        for key, name in (("min_qty", "min"), ("max_qty", "max"))
        if sizing.get(key) is not None
    ]
    return ", ".join([main, *bounds])


@register.filter
def offset_text(offset: object) -> str:
    """A default bracket leg: {"ticks": "20"} → "20 ticks", {"pct": "1.5"} → "1.50%"."""
    if not isinstance(offset, dict) or not offset:
        return "—"
    kind, amount = next(iter(offset.items()))
    if kind == "pct":
        return percent(amount)
    if kind == "ticks":
        return f"{qty(amount)} ticks"
    return f"at {qty(amount)}"


@register.simple_tag(takes_context=True)
def order_strategy_link(context: template.Context, order: object) -> dict[str, object] | None:
    """{"name", "url" (None unless the viewer owns the strategy), "signal"} or None."""
    link = page_selectors.order_link(order_id=getattr(order, "pk", None))
    if link is None:
        return None
    request = context.get("request")
    own = request is not None and link.strategy.owner_id == request.user.pk
    url = None
    if own and link.strategy.deleted_at is None:
        url = reverse("strategy-detail", kwargs={"strategy_id": link.strategy_id})
        url += f"#signal-{link.signal_id}"
    return {"name": link.strategy.name, "url": url, "signal": str(link.signal_id)}
