"""Done-when of issue 5: two accounts trading against each other on the internal exchange
show mirror-image positions and PnL that match a hand computation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from tests.factories import UserFactory, account_with_member
from tests.pnl.conftest import position_of

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/orders"


def order(client, account, submit, **fields):
    body = {"account": str(account.pk), "symbol": "ACME", "time_in_force": "day", **fields}
    with submit():
        response = client.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_two_exchange_accounts_show_mirror_positions_and_hand_computed_pnl(
    settings, acme, quote, trader, make_key_client, submit
):
    # given two exchange accounts, maker fee 1 bp and taker fee 3 bp, ACME quoted at 100
    settings.OMS_EXCHANGE_FEE_BPS = {"maker": "1", "taker": "3"}
    quote("ACME", "100", bid="99.95", ask="100.05")
    alice_user = UserFactory(username="alice", role="trader")
    alice = account_with_member(user=alice_user, broker="exchange", cash=Decimal("1000000"))
    bob = account_with_member(user=trader, broker="exchange", cash=Decimal("1000000"))
    RiskLimits.objects.filter(account__in=[alice, bob]).update(allow_short=True)
    a, b = make_key_client(alice_user), make_key_client(trader)

    # when alice rests a sell of 10 @ 100 and bob lifts it with a limit buy at 100.05
    order(a, alice, submit, side="sell", type="limit", qty="10", limit_price="100.00")
    order(b, bob, submit, side="buy", type="limit", qty="10", limit_price="100.05")
    # and bob rests a sell of 4 @ 101 that alice takes with a market buy
    order(b, bob, submit, side="sell", type="limit", qty="4", limit_price="101.00")
    order(a, alice, submit, side="buy", type="market", qty="4")
    # and the market then trades at 102
    quote("ACME", "102")

    # then, by hand:
    #   trade 1: 10 @ 100  alice maker fee 1000 × 1 bp = 0.10, bob taker 1000 × 3 bp = 0.30
    #   trade 2:  4 @ 101  bob maker 404 × 1 bp = 0.0404 → 0.04, alice taker 0.1212 → 0.12
    #   alice: −10 @ 100, +4 @ 101 → −6, realized (100 − 101) × 4 = −4, unrealized −12
    #   bob:   +10 @ 100, −4 @ 101 → +6, realized +4, unrealized (102 − 100) × 6 = +12
    mine, theirs = position_of(a, alice, "ACME"), position_of(b, bob, "ACME")
    assert mine == {
        "account": str(alice.pk),
        "symbol": "ACME",
        "qty": "-6",
        "avg_entry_price": "100",
        "market_price": "102",
        "market_value": "-612",
        "unrealized_pnl": "-12",
        "realized_pnl": "-4",
        "fees": "0.22",
    }
    assert theirs == {
        "account": str(bob.pk),
        "symbol": "ACME",
        "qty": "6",
        "avg_entry_price": "100",
        "market_price": "102",
        "market_value": "612",
        "unrealized_pnl": "12",
        "realized_pnl": "4",
        "fees": "0.34",
    }
    # and the two are mirror images (fees apart)
    for field in ("qty", "market_value", "unrealized_pnl", "realized_pnl"):
        assert Decimal(mine[field]) == -Decimal(theirs[field])
    alice_pnl = a.get(f"/api/v1/pnl?account={alice.pk}").json()
    bob_pnl = b.get(f"/api/v1/pnl?account={bob.pk}").json()
    assert (alice_pnl["realized_pnl"], alice_pnl["unrealized_pnl"], alice_pnl["net_pnl"]) == (
        "-4",
        "-12",
        "-16.22",
    )
    assert (bob_pnl["realized_pnl"], bob_pnl["unrealized_pnl"], bob_pnl["net_pnl"]) == (
        "4",
        "12",
        "15.66",
    )
    # and the cash moved by the notional and the fees, in opposite directions
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.cash - Decimal("1000000") == Decimal("1000") - Decimal("404") - Decimal("0.22")
    assert bob.cash - Decimal("1000000") == Decimal("-1000") + Decimal("404") - Decimal("0.34")
    # and neither can read the other's figures
    assert a.get(f"/api/v1/positions?account={bob.pk}").status_code == 404
    assert b.get(f"/api/v1/pnl?account={alice.pk}").status_code == 404
