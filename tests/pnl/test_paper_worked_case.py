"""DESIGN.md's FIFO worked case end to end: real market orders on the paper broker through
the orders API, read back through /api/v1/positions and /api/v1/pnl."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from tests.factories import account_with_member
from tests.pnl.conftest import position_of

pytestmark = pytest.mark.django_db


def test_worked_case_with_paper_orders(trader, client, acme, quote, submit, settings):
    # given a paper account that may go short and a fixed fee of 1 per fill
    settings.OMS_PAPER_FEE_FIXED = "1"
    paper = account_with_member(user=trader, name="Paper", broker="paper", cash=Decimal("1e6"))
    RiskLimits.objects.filter(account=paper).update(allow_short=True)

    def trade(side, qty, price):
        quote("ACME", price, bid=price, ask=price)  # market orders fill at exactly `price`
        with submit():
            response = client.post(
                "/api/v1/orders",
                {
                    "account": str(paper.pk),
                    "symbol": "ACME",
                    "side": side,
                    "type": "market",
                    "qty": qty,
                    "time_in_force": "day",
                },
                format="json",
            )
        assert response.status_code == 201, response.json()

    def shows(qty, avg, realized, unrealized):
        position = position_of(client, paper, "ACME")
        assert (
            position["qty"],
            position["avg_entry_price"],
            position["realized_pnl"],
            position["unrealized_pnl"],
        ) == (qty, avg, realized, unrealized)

    trade("buy", "100", "10")  # 1
    trade("buy", "50", "12")  # 2
    shows("150", "10.66666667", "0", "200")  # marked at 12: (12 − 10) × 100
    trade("sell", "120", "13")  # 3
    shows("30", "12", "320", "30")  # marked at 13
    quote("ACME", "11")  # 4
    shows("30", "12", "320", "-30")
    trade("sell", "50", "11")  # 5
    shows("-20", "11", "290", "0")
    quote("ACME", "10")  # 6
    shows("-20", "11", "290", "20")
    trade("buy", "20", "10.5")  # 7
    shows("0", None, "300", "0")
    report = client.get(f"/api/v1/pnl?account={paper.pk}").json()
    assert (
        report["realized_pnl"],
        report["unrealized_pnl"],
        report["fees"],
        report["net_pnl"],
    ) == (
        "300",
        "0",
        "5",
        "295",
    )
    assert report["by_symbol"][0]["qty"] == "0"
