"""POST /api/v1/positions/close: real market orders on the paper broker that flatten, after
the account's resting orders in the symbol were canceled through the orders lifecycle."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from execution.protocol import BrokerUnavailableError, ReportType
from orders.models import Order, OrderEvent
from pnl import registry
from tests.factories import MembershipFactory, account_with_member
from tests.pnl.conftest import position_of

pytestmark = pytest.mark.django_db
URL = "/api/v1/positions/close"
ORDERS = "/api/v1/orders"


@pytest.fixture(autouse=True)
def _wired(lead_wiring):
    """Exactly what OrdersConfig.ready() registers, the cancel hook included."""


@pytest.fixture
def paper(trader):
    account = account_with_member(user=trader, name="Paper", broker="paper", cash=Decimal("1e6"))
    RiskLimits.objects.filter(account=account).update(allow_short=True)
    return account


@pytest.fixture
def quoted(acme, foo, quote):
    quote("ACME", "100", bid="99.95", ask="100.05")
    quote("FOO", "20", bid="19.95", ask="20.05")


def market(client, account, symbol, side, qty, submit, type="market", **prices):
    """Place an order through the API (a market one unless `type` says otherwise) and run
    its submission; returns the order as answered."""
    with submit():
        response = client.post(
            ORDERS,
            {
                "account": str(account.pk),
                "symbol": symbol,
                "side": side,
                "type": type,
                "qty": qty,
                "time_in_force": "day",
                **prices,
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


def test_without_the_cancel_hook_the_close_is_still_placed(client, paper, quoted, order, submit):
    # given orders wired without `cancel_open`, long 10 ACME and a working sell limit
    placer = registry.order_placer()
    registry.register_order_placer(place=placer.place, serialize=placer.serialize)
    order(paper, "ACME", "buy", "10")
    sell_limit = order(paper, "ACME", "sell", "4", "limit", limit_price="110")["id"]
    # when the position is closed
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    # then the close goes out as before and the limit is left alone
    assert response.status_code == 200, response.json()
    assert [o["qty"] for o in response.json()["orders"]] == ["10"]
    assert statuses([sell_limit]) == {sell_limit: "new"}


def test_a_retried_close_with_the_same_idempotency_key_places_nothing_twice(
    client, paper, quoted, submit
):
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


# --- resting orders of the symbol are canceled before the close ----------------------------


@pytest.fixture
def order(client, submit):
    """order(account, symbol, side, qty, type="market", **prices) → the order as answered."""

    def _order(account, symbol, side, qty, type="market", **prices):
        return market(client, account, symbol, side, qty, submit, type, **prices)

    return _order


@pytest.fixture
def long_acme_with_resting_orders(paper, quoted, order):
    """Long 10 ACME with a working sell limit (same side as the close), a held sell stop
    (same side, a stop-loss) and a working buy limit (the other side)."""
    order(paper, "ACME", "buy", "10")
    resting = {
        "sell_limit": order(paper, "ACME", "sell", "4", "limit", limit_price="110"),
        "sell_stop": order(paper, "ACME", "sell", "10", "stop", stop_price="90"),
        "buy_limit": order(paper, "ACME", "buy", "5", "limit", limit_price="95"),
    }
    ids = {name: o["id"] for name, o in resting.items()}
    assert statuses(ids.values()) == {
        ids["sell_limit"]: "new",
        ids["sell_stop"]: "held",
        ids["buy_limit"]: "new",
    }
    return ids


def statuses(ids):
    rows = Order.objects.filter(pk__in=list(ids)).values_list("id", "status")
    return {str(pk): status for pk, status in rows}


@pytest.fixture
def placements(monkeypatch):
    """Records, at the moment each closing order is placed, the status of every order of
    the database, so a test can see what had been canceled before."""
    seen = []
    placer = registry.order_placer()

    def spying_place(**kwargs):
        seen.append({str(pk): s for pk, s in Order.objects.values_list("id", "status")})
        return placer.place(**kwargs)

    registry.register_order_placer(
        place=spying_place, serialize=placer.serialize, cancel_open=placer.cancel_open
    )
    return seen


def test_resting_orders_of_the_symbol_are_canceled_before_the_close_is_placed(
    client, paper, long_acme_with_resting_orders, placements, submit, monkeypatch
):
    # given long 10 ACME with a working sell limit, a held stop-loss and a working buy limit
    resting = long_acme_with_resting_orders
    pushed = []
    monkeypatch.setattr(
        "notifications.publishing._deliver",
        lambda envelopes: pushed.extend(e[1] for e in envelopes),
    )
    # when the position is closed
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    # then the response is the usual one: one market sell of the whole 10
    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"orders"}
    (close,) = response.json()["orders"]
    assert (close["side"], close["type"], close["qty"]) == ("sell", "market", "10")
    # and every resting ACME order was already canceled when the close was placed
    (at_placement,) = placements
    assert {name: at_placement[oid] for name, oid in resting.items()} == {
        "sell_limit": "canceled",
        "sell_stop": "canceled",
        "buy_limit": "canceled",
    }
    # through the lifecycle: the cancel asked by the caller is audited, ends `canceled`,
    # and each change was pushed live
    for oid in resting.values():
        events = list(OrderEvent.objects.filter(order_id=oid).order_by("seq"))
        asked = next(e for e in events if e.type in ("cancel_requested", "canceled"))
        assert asked.actor["type"] == "api_key"
        assert events[-1].type == "canceled"
    pushed_canceled = {
        m["data"]["id"]
        for m in pushed
        if m["event"] == "order.updated" and m["data"]["status"] == "canceled"
    }
    assert set(resting.values()) <= pushed_canceled
    # and the position is flat: nothing was sold twice
    assert position_of(client, paper, "ACME")["qty"] == "0"


def test_orders_of_other_symbols_and_other_accounts_are_untouched(
    client, trader, paper, long_acme_with_resting_orders, order, submit
):
    # given a resting FOO order next to a FOO position on the same account, and a resting
    # ACME order on another account of the same trader
    order(paper, "FOO", "buy", "3")
    foo_limit = order(paper, "FOO", "sell", "3", "limit", limit_price="25")["id"]
    other = account_with_member(user=trader, name="Other", broker="paper", cash=Decimal("1e6"))
    other_acme = order(other, "ACME", "buy", "2", "limit", limit_price="95")["id"]
    # when ACME is closed on the paper account
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    # then only the paper account's ACME orders were canceled
    assert response.status_code == 200, response.json()
    assert statuses([foo_limit, other_acme]) == {foo_limit: "new", other_acme: "new"}
    assert set(statuses(long_acme_with_resting_orders.values()).values()) == {"canceled"}
    assert position_of(client, paper, "FOO")["qty"] == "3"


def test_close_all_cancels_per_closed_symbol_only(
    client, paper, long_acme_with_resting_orders, quote, order, sim, submit
):
    # given FOO long 3 with a resting sell, and a resting BAR order without a BAR position
    from tests.marketdata.factories import InstrumentFactory

    InstrumentFactory(symbol="BAR", exchange=sim, tick_size=Decimal("0.05"))
    quote("BAR", "50", bid="49.95", ask="50.05")
    order(paper, "FOO", "buy", "3")
    foo_limit = order(paper, "FOO", "sell", "3", "limit", limit_price="25")["id"]
    bar_limit = order(paper, "BAR", "buy", "1", "limit", limit_price="45")["id"]
    # when everything is closed
    with submit():
        response = client.post(URL, {"account": str(paper.pk)}, format="json")
    # then the orders of both closed symbols were canceled, the BAR one was not
    assert response.status_code == 200, response.json()
    placed = {(o["symbol"], o["side"], o["qty"]) for o in response.json()["orders"]}
    assert placed == {("ACME", "sell", "10"), ("FOO", "sell", "3")}
    assert statuses([foo_limit, bar_limit]) == {foo_limit: "canceled", bar_limit: "new"}


def test_a_view_member_gets_403_and_nothing_is_canceled(
    make_key_client, other_user, paper, long_acme_with_resting_orders, client
):
    # given a view-only member of the account
    viewer = MembershipFactory(account=paper, role="view", user=other_user).user
    # when they try to close
    response = make_key_client(viewer).post(
        URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json"
    )
    # then 403, and the resting orders and the position are as they were
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    resting = long_acme_with_resting_orders
    assert statuses(resting.values()) == {
        resting["sell_limit"]: "new",
        resting["sell_stop"]: "held",
        resting["buy_limit"]: "new",
    }
    assert not OrderEvent.objects.filter(
        order_id__in=resting.values(), type__in=["cancel_requested", "canceled"]
    ).exists()
    assert position_of(client, paper, "ACME")["qty"] == "10"


def test_a_cancel_refused_because_the_order_just_filled_does_not_break_the_close(
    client, paper, quoted, order, quote, submit, monkeypatch
):
    # given long 10 ACME and a working sell limit of 4 at 101
    import orders.core.cancel as manage

    order(paper, "ACME", "buy", "10")
    sell_limit = order(paper, "ACME", "sell", "4", "limit", limit_price="101")["id"]
    real_cancel = manage.broker_cancel
    venue_answers = []

    def fill_first_then_cancel(**kwargs):
        # the market trades through 101 just before the venue sees the cancel
        quote("ACME", "101.5", bid="101.45", ask="101.55")
        venue_answers.extend(real_cancel(**kwargs))
        return venue_answers

    monkeypatch.setattr(manage, "broker_cancel", fill_first_then_cancel)
    # when the position is closed
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    # then the venue refused the cancel (the order filled), and the close sold the 6 left
    assert response.status_code == 200, response.json()
    assert statuses([sell_limit]) == {sell_limit: "filled"}
    assert [report.type for report in venue_answers] == [ReportType.CANCEL_REJECTED]
    (close,) = response.json()["orders"]
    assert (close["side"], close["qty"]) == ("sell", "6")
    assert position_of(client, paper, "ACME")["qty"] == "0"


def test_a_resting_order_that_cannot_be_canceled_stops_the_close(
    client, paper, quoted, order, submit, monkeypatch
):
    # given long 10 ACME, a working sell limit, and a venue that cannot be reached to cancel
    import orders.core.cancel as manage

    order(paper, "ACME", "buy", "10")
    sell_limit = order(paper, "ACME", "sell", "4", "limit", limit_price="110")["id"]

    def unreachable(**kwargs):
        raise BrokerUnavailableError("connection refused")

    monkeypatch.setattr(manage, "broker_cancel", unreachable)
    # when the position is closed
    with submit():
        response = client.post(URL, {"account": str(paper.pk), "symbol": "ACME"}, format="json")
    # then 503 naming the order, no closing order, and the limit still works
    assert response.status_code == 503, response.json()
    body = response.json()
    assert body["error"]["code"] == "broker_unavailable"
    assert body["order_ids"] == [sell_limit]
    assert not Order.objects.filter(account=paper, side="sell", type="market").exists()
    assert statuses([sell_limit]) == {sell_limit: "new"}
