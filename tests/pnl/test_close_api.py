"""POST /api/v1/positions/close: real market orders on the paper broker that flatten."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from pnl import registry
from tests.factories import MembershipFactory, account_with_member
from tests.pnl.conftest import position_of

pytestmark = pytest.mark.django_db
URL = "/api/v1/positions/close"
ORDERS = "/api/v1/orders"


@pytest.fixture
def paper(trader):
    account = account_with_member(user=trader, name="Paper", broker="paper", cash=Decimal("1e6"))
    RiskLimits.objects.filter(account=account).update(allow_short=True)
    return account


@pytest.fixture
def quoted(acme, foo, quote):
    quote("ACME", "100", bid="99.95", ask="100.05")
    quote("FOO", "20", bid="19.95", ask="20.05")


def market(client, account, symbol, side, qty, submit):
    with submit():
        response = client.post(
            ORDERS,
            {
                "account": str(account.pk),
                "symbol": symbol,
                "side": side,
                "type": "market",
                "qty": qty,
                "time_in_force": "day",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    return response.json()


def test_closing_one_position_places_an_opposite_market_order_that_flattens_it(
    client, paper, quoted, submit
):
    # given a long 10 ACME bought at the ask 100.05 on the paper broker
    market(client, paper, "ACME", "buy", "10", submit)
    assert position_of(client, paper, "ACME")["qty"] == "10"
    # when I close it
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "acme"}, format="json")
    # then one market sell of 10 went out (orders API shape) and filled at the bid
    assert response.status_code == 200, response.json()
    (order,) = response.json()["orders"]
    assert (order["symbol"], order["side"], order["type"], order["qty"]) == (
        "ACME",
        "sell",
        "market",
        "10",
    )
    assert order["account"] == str(paper.pk) and "id" in order and "status" in order
    position = position_of(client, paper, "ACME")
    # (99.95 − 100.05) × 10 = −1
    assert (position["qty"], position["realized_pnl"], position["avg_entry_price"]) == (
        "0",
        "-1",
        None,
    )
    assert client.get(f"/api/v1/pnl?account={paper.pk}").json()["realized_pnl"] == "-1"


def test_close_all_flattens_longs_and_shorts(client, paper, quoted, submit):
    market(client, paper, "ACME", "buy", "10", submit)
    market(client, paper, "FOO", "sell", "5", submit)
    with submit():
        response = client.post(URL, {"account": str(paper.pk)}, format="json")
    assert response.status_code == 200, response.json()
    placed = {(o["symbol"], o["side"], o["qty"]) for o in response.json()["orders"]}
    assert placed == {("ACME", "sell", "10"), ("FOO", "buy", "5")}
    listed = client.get(f"/api/v1/positions?account={paper.pk}").json()["results"]
    assert {(r["symbol"], r["qty"]) for r in listed} == {("ACME", "0"), ("FOO", "0")}
    # FOO: short at the bid 19.95, bought back at the ask 20.05 → −0.5
    assert {r["symbol"]: r["realized_pnl"] for r in listed} == {"ACME": "-1", "FOO": "-0.5"}


def test_nothing_to_close_places_nothing(client, paper, quoted):
    response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"orders": []}


def test_a_refused_close_of_one_symbol_is_the_orders_error(client, paper, quoted, submit):
    market(client, paper, "ACME", "buy", "10", submit)
    RiskLimits.objects.filter(account=paper).update(kill_switch=True)
    response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "risk_rejected" and body["order_id"]


def test_close_all_reports_refusals_per_symbol_next_to_what_was_placed(
    client, paper, quoted, submit
):
    market(client, paper, "ACME", "buy", "10", submit)
    market(client, paper, "FOO", "buy", "5", submit)
    RiskLimits.objects.filter(account=paper).update(allowed_symbols=["ACME"])
    with submit():
        response = client.post(URL, {"account": str(paper.pk)}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [o["symbol"] for o in body["orders"]] == ["ACME"]
    (refused,) = body["errors"]
    assert (refused["symbol"], refused["status"], refused["error"]["code"]) == (
        "FOO",
        422,
        "risk_rejected",
    )


def test_a_view_member_may_not_close(make_key_client, other_user, paper, quoted, client, submit):
    market(client, paper, "ACME", "buy", "10", submit)
    viewer = MembershipFactory(account=paper, role="view", user=other_user).user
    response = make_key_client(viewer).post(URL, {"account": str(paper.pk)}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert position_of(client, paper, "ACME")["qty"] == "10"


def test_someone_elses_account_is_404(make_key_client, other_user, paper, quoted, client, submit):
    market(client, paper, "ACME", "buy", "10", submit)
    response = make_key_client(other_user).post(URL, {"account": str(paper.pk)}, format="json")
    assert response.status_code == 404
    assert position_of(client, paper, "ACME")["qty"] == "10"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "account"), ({"account": "nope"}, "account"), ({"account": None, "x": 1}, "account")],
)
def test_bad_input_is_400_naming_the_field(client, body, field):
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_unknown_fields_are_refused(client, paper):
    response = client.post(URL, {"account": str(paper.pk), "qty": "5"}, format="json")
    assert response.status_code == 400
    assert "qty" in response.json()["error"]["fields"]


def test_without_the_orders_wiring_closing_is_unavailable(client, paper):
    saved = registry.hooks_snapshot()
    registry.hooks_restore({k: v for k, v in saved.items() if k != "order_placer"})
    response = client.post(URL, {"account": str(paper.pk)}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"


def test_a_retried_close_with_the_same_idempotency_key_places_nothing_twice(
    client, paper, quoted, submit
):
    from orders.models import Order

    # given a long 10 and a close whose submission has not happened yet (no commit hooks)
    market(client, paper, "ACME", "buy", "10", submit)
    headers = {"HTTP_IDEMPOTENCY_KEY": "close-once-1"}
    first = client.post(URL, {"account": str(paper.pk)}, format="json", **headers)
    # when the same request is retried before the first order filled
    again = client.post(URL, {"account": str(paper.pk)}, format="json", **headers)
    # then it answers with the same order instead of selling 10 more
    assert first.status_code == again.status_code == 200
    assert [o["id"] for o in again.json()["orders"]] == [o["id"] for o in first.json()["orders"]]
    assert Order.objects.filter(account=paper, side="sell").count() == 1
