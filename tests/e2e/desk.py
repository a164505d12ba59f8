"""A trading desk for browser tests of whole pages, made through the HTTP API: ACME (tick
0.05) at 1251 on the trader's watchlist, the trader's paper account with a filled buy, a
resting limit, a TWAP with its progress bar, an OCO GTT, a cron and a one-off schedule."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from marketdata.models import WatchlistItem
from notifications.models import Notification
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory


def _post(base_url: str, path: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # the local test server
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{path}: {error.code} {error.read()!r}") from error


@pytest.fixture
def desk(live_server, trader, admin_user, settings):
    """ACME (tick 0.05) at 1251, the trader's paper account with a position, a resting
    limit, a TWAP, a GTT and a schedule; the admin sees it too."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme = InstrumentFactory(
        symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )
    WatchlistItem.objects.create(user=trader, instrument=acme, position=0)
    account = account_with_member(
        user=trader, broker="paper", cash=Decimal("1000000"), name="Paper desk"
    )
    RiskLimits.objects.filter(account=account).update(allow_short=True)
    feed = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    key = ApiKeyFactory.issue(user=trader).raw_key
    url = live_server.url
    tick = {"symbol": "ACME", "last": "1251", "bid": "1250.95", "ask": "1251.05"}
    _post(url, "/api/v1/market-data/ticks", tick, feed)
    order = {"account": str(account.pk), "symbol": "ACME", "side": "buy"}
    orders = [
        {**order, "type": "market", "qty": "17"},
        {**order, "type": "limit", "qty": "5", "limit_price": "1200"},
        {
            **order,
            "type": "market",
            "qty": "100",
            "algo": {"type": "twap", "horizon_secs": 3600, "interval_secs": 600},
        },
    ]
    placed = [_post(url, "/api/v1/orders", body, key) for body in orders]
    gtt = {
        "account": str(account.pk),
        "symbol": "ACME",
        "trigger_type": "oco",
        "trigger_values": ["1100", "1400"],
        "orders": [
            {"side": "sell", "qty": "17", "type": "limit", "limit_price": "1099"},
            {"side": "sell", "qty": "17", "type": "limit", "limit_price": "1399"},
        ],
    }
    assert "id" in _post(url, "/api/v1/gtt", gtt, key)
    schedule = {
        "name": "Morning buy",
        "account": str(account.pk),
        "order": {"symbol": "ACME", "side": "buy", "type": "market", "qty": "1"},
        "kind": "cron",
        "cron": "15 9 * * 1-5",
        "tz": "Asia/Kolkata",
    }
    assert "id" in _post(url, "/api/v1/schedules", schedule, key)
    # stored as notify() stores it (its push needs no event loop, which Playwright holds here)
    Notification.objects.create(
        user=trader, account=account, kind="order.filled", title="Bought 17 ACME at 1,251.05"
    )
    run_at = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)
    once = {**schedule, "name": "Later", "kind": "once", "run_at": run_at.isoformat()}
    del once["cron"], once["tz"]
    assert "id" in _post(url, "/api/v1/schedules", once, key)
    return {
        "account": account,
        "market": placed[0]["id"],
        "limit": placed[1]["id"],
        "twap": placed[2]["id"],
        "run_at": run_at,
    }
