"""Every pre-trade risk check through the API: 422 risk_rejected, the order stored as
rejected with its reason and an audit event, nothing sent to the venue."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import GlobalKillSwitch
from orders.models import Order, OrderStatus
from pnl.services import fill_record
from tests.clock import within_one_minute
from tests.marketdata.factories import InstrumentFactory, NseExchangeFactory
from tests.orders.conftest import order_body
from tests.orders.factories import place

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


def assert_rejected(response, code: str, fake_broker) -> Order:
    assert response.status_code == 422, response.json()
    body = response.json()
    assert body["error"]["code"] == "risk_rejected"
    assert body["error"]["message"]
    order = Order.objects.get(pk=body["order_id"])
    assert order.status == OrderStatus.REJECTED
    assert order.reject_reason.startswith(code + ":")
    assert list(order.events.values_list("type", flat=True)) == ["created", "rejected"]
    assert fake_broker.submitted == []
    return order


def set_limits(limits, **values):
    for key, value in values.items():
        setattr(limits, key, value)
    limits.save()


def test_max_order_qty(client, account, limits, quoted, fake_broker):
    set_limits(limits, max_order_qty=Decimal("9"))
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "max_order_qty", fake_broker)


def test_max_order_value_values_a_market_buy_at_the_ask(
    client, account, limits, quoted, fake_broker
):
    # 10 × ask 100.05 = 1000.50
    set_limits(limits, max_order_value=Decimal("1000.45"))
    response = client.post(URL, order_body(account, type="market", limit_price=None), format="json")
    assert_rejected(response, "max_order_value", fake_broker)
    set_limits(limits, max_order_value=Decimal("1000.50"))
    ok = client.post(URL, order_body(account, type="market", limit_price=None), format="json")
    assert ok.status_code == 201


def test_open_order_count(client, trader, account, limits, quoted, fake_broker):
    set_limits(limits, max_open_orders=1)
    place(trader, account)  # one open (pending_new) order
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "max_open_orders", fake_broker)


def test_orders_per_day(client, trader, account, limits, quoted, fake_broker):
    set_limits(limits, max_orders_per_day=2)
    place(trader, account)
    place(trader, account)
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "max_orders_per_day", fake_broker)


def test_buying_power_counts_open_buy_orders(client, trader, account, quoted, fake_broker):
    # given cash 1,000,000 and an open buy committing 990,000
    place(trader, account, qty="9900", limit_price="100")
    # when another 10 × 1100 = 11,000 is bought
    response = client.post(URL, order_body(account, limit_price="1100"), format="json")
    # then only 10,000 is left: rejected
    assert_rejected(response, "buying_power", fake_broker)
    assert "buying power 10,000.00." in response.json()["error"]["message"]


def test_buying_power_reflects_commitments_in_accounts_selector(trader, account, quoted):
    from accounts.selectors import account_buying_power

    place(trader, account, qty="10", limit_price="100")
    account.refresh_from_db()
    assert account_buying_power(account=account) == Decimal("1000000") - Decimal("1000")


def test_short_selling_refused_without_allow_short(client, account, quoted, fake_broker):
    response = client.post(URL, order_body(account, side="sell"), format="json")
    assert_rejected(response, "short_selling", fake_broker)


def test_selling_a_held_position_passes_and_short_selling_when_allowed(
    client, account, limits, acme, quoted, fake_broker
):
    # given 10 bought earlier (the fill ledger is the position until issue 5)
    fill_record(
        order_id="00000000-0000-0000-0000-000000000001",
        account_id=account.pk,
        instrument_id=acme.pk,
        symbol="ACME",
        side="buy",
        qty=Decimal("10"),
        price=Decimal("100"),
        ts=timezone.now(),
        report_id="seed-1",
    )
    assert client.post(URL, order_body(account, side="sell"), format="json").status_code == 201
    # a second sell of 10 would go short (the first already claims the position)
    response = client.post(URL, order_body(account, side="sell"), format="json")
    assert_rejected(response, "short_selling", fake_broker)
    set_limits(limits, allow_short=True)
    assert client.post(URL, order_body(account, side="sell"), format="json").status_code == 201


def test_price_band_of_the_account(client, account, limits, quoted, fake_broker):
    set_limits(limits, price_band_pct=Decimal("5"))
    response = client.post(URL, order_body(account, limit_price="106"), format="json")
    assert_rejected(response, "price_band", fake_broker)


def test_price_band_falls_back_to_the_instrument(client, account, quoted, fake_broker):
    quoted.price_band_pct = Decimal("2")
    quoted.save()
    response = client.post(URL, order_body(account, limit_price="97"), format="json")
    assert_rejected(response, "price_band", fake_broker)


def test_allowed_symbols(client, account, limits, quoted, fake_broker):
    set_limits(limits, allowed_symbols=["INFY"])
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "symbol_not_allowed", fake_broker)


def test_account_kill_switch(client, account, limits, quoted, fake_broker):
    set_limits(limits, kill_switch=True)
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "kill_switch", fake_broker)


def test_global_kill_switch(client, account, quoted, fake_broker):
    GlobalKillSwitch.objects.update_or_create(pk=1, defaults={"engaged": True})
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "kill_switch", fake_broker)


def test_suspended_account(client, account, quoted, fake_broker):
    account.status = "suspended"
    account.save()
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "account_inactive", fake_broker)


def test_per_account_rate_limit(client, account, limits, quoted, fake_broker):
    set_limits(limits, max_orders_per_minute=2)
    within_one_minute()  # the limit counts per calendar minute
    for _ in range(2):
        assert client.post(URL, order_body(account), format="json").status_code == 201
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "rate_limit", fake_broker)


def test_max_daily_loss(client, account, limits, acme, quoted, fake_broker):
    # given a realized loss of 500 today: bought 100 @ 10, sold 100 @ 5
    now = timezone.now()
    for n, (side, price) in enumerate((("buy", "10"), ("sell", "5"))):
        fill_record(
            order_id="00000000-0000-0000-0000-000000000002",
            account_id=account.pk,
            instrument_id=acme.pk,
            symbol="ACME",
            side=side,
            qty=Decimal("100"),
            price=Decimal(price),
            ts=now,
            report_id=f"loss-{n}",
        )
    set_limits(limits, max_daily_loss=Decimal("500"))
    response = client.post(URL, order_body(account), format="json")
    assert_rejected(response, "max_daily_loss", fake_broker)


@pytest.fixture
def nse_closed(db):
    """An NSE instrument whose session is never open (open == close)."""
    exchange = NseExchangeFactory(
        open_time=time(0, 0), close_time=time(0, 0), trading_weekdays="", holiday_calendar=""
    )
    return InstrumentFactory(symbol="INFY", exchange=exchange, tick_size=Decimal("0.05"))


def test_market_closed_is_rejected(client, account, nse_closed, tick, fake_broker):
    response = client.post(URL, order_body(account, symbol="INFY"), format="json")
    assert_rejected(response, "market_closed", fake_broker)


def test_market_closed_is_queued_when_the_account_allows_after_market_orders(
    client, account, nse_closed, fake_broker, submit
):
    account.allow_after_market_orders = True
    account.save()
    with submit():
        response = client.post(URL, order_body(account, symbol="INFY"), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "held" and body["hold_reason"] == "queued_for_open"
    assert fake_broker.submitted == []
