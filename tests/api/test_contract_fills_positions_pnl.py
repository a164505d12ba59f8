"""API.md § Fills, positions and PnL, including DESIGN.md's FIFO worked case, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.api.helpers import assert_error, grant, open_account, order_body, paginated

FILL_KEYS = {
    "id",
    "order_id",
    "account",
    "symbol",
    "side",
    "qty",
    "price",
    "fee",
    "liquidity",
    "ts",
}
POSITION_KEYS = {
    "account",
    "symbol",
    "qty",
    "avg_entry_price",
    "market_price",
    "market_value",
    "unrealized_pnl",
    "realized_pnl",
    "fees",
}
PNL_KEYS = {"realized_pnl", "unrealized_pnl", "fees", "net_pnl", "by_symbol", "daily"}
DAILY_KEYS = {"date", "realized_pnl", "unrealized_pnl", "net_pnl"}


def _mark(admin, price: str) -> None:
    tick = {"symbol": "ACME", "last": price, "bid": price, "ask": price}
    assert admin.post("/market-data/ticks", tick).status_code == 202


def _market(api, account, side: str, qty: str) -> dict:
    response = api.post(
        "/orders", order_body(account, side=side, type="market", qty=qty, limit_price=None)
    )
    assert response.status_code == 201, response.content
    order = api.get(f"/orders/{response.json()['id']}").json()
    assert order["status"] == "filled", order
    return order


def _position(api, account) -> dict:
    rows = paginated(api.get(f"/positions?account={account['id']}"))["results"]
    [row] = [r for r in rows if r["symbol"] == "ACME"]
    return row


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.fixture
def trading(admin, alice, acme):
    """Alice's paper account that may go short; ACME quoted 10 (bid = ask = last)."""
    account = open_account(alice)
    admin.patch(f"/accounts/{account['id']}/risk-limits", {"allow_short": True})
    _mark(admin, "10")
    return account


# --- fills --------------------------------------------------------------------------------------


def test_fills_have_the_documented_shape(settings, alice, trading):
    # given a paper fee of 1 per fill
    settings.OMS_PAPER_FEE_FIXED = "1"
    # when a market buy fills
    order = _market(alice, trading, "buy", "3")
    # then its fill has exactly the documented fields, decimals as strings, UTC time
    fills = paginated(alice.get(f"/fills?order={order['id']}"))["results"]
    assert len(fills) == 1
    fill = fills[0]
    assert set(fill) >= FILL_KEYS, fill
    assert (fill["order_id"], fill["account"], fill["symbol"], fill["side"]) == (
        order["id"],
        trading["id"],
        "ACME",
        "buy",
    )
    assert (fill["qty"], fill["price"], fill["fee"]) == ("3", "10", "1")
    assert fill["liquidity"] in ("maker", "taker", None)
    assert isinstance(fill["id"], str)
    ts = datetime.fromisoformat(fill["ts"].replace("Z", "+00:00"))
    assert ts.utcoffset().total_seconds() == 0


def test_fills_filter_by_account_symbol_and_order(admin, alice, bob, trading):
    # given fills on two symbols and Bob's own fill
    admin.post(
        "/instruments", {"symbol": "FOO", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1}
    )
    admin.post("/market-data/ticks", {"symbol": "FOO", "last": "5", "bid": "5", "ask": "5"})
    acme_order = _market(alice, trading, "buy", "1")
    foo = alice.post(
        "/orders",
        order_body(trading, symbol="FOO", type="market", qty="2", limit_price=None),
    )
    bob_account = open_account(bob)
    _market(bob, bob_account, "buy", "1")
    # when Alice filters
    # then each filter narrows, and Bob's fill is never hers
    assert paginated(alice.get("/fills"))["count"] == 2
    assert [f["symbol"] for f in paginated(alice.get("/fills?symbol=FOO"))["results"]] == ["FOO"]
    by_order = paginated(alice.get(f"/fills?order={acme_order['id']}"))["results"]
    assert [f["order_id"] for f in by_order] == [acme_order["id"]]
    assert paginated(alice.get(f"/fills?account={trading['id']}"))["count"] == 2
    assert paginated(alice.get(f"/fills?account={bob_account['id']}"))["count"] == 0
    assert foo.status_code == 201


# --- FIFO worked case ---------------------------------------------------------------------------


def test_fifo_worked_case_over_http(admin, alice, trading):
    # given DESIGN.md's sequence of fills and marks
    steps = [
        ("10", "buy", "100"),
        ("12", "buy", "50"),
        ("13", "sell", "120"),
    ]
    for price, side, qty in steps:
        _mark(admin, price)
        _market(alice, trading, side, qty)
    # then after step 3: +30 @ 12, realized 320
    pos = _position(alice, trading)
    assert set(pos) >= POSITION_KEYS, pos
    assert (_d(pos["qty"]), _d(pos["avg_entry_price"]), _d(pos["realized_pnl"])) == (30, 12, 320)
    # step 4: mark 11 → unrealized −30
    _mark(admin, "11")
    pos = _position(alice, trading)
    assert (_d(pos["market_price"]), _d(pos["unrealized_pnl"])) == (11, -30)
    assert _d(pos["market_value"]) == 330
    # step 5: sell 50 @ 11 → −20 @ 11, realized 290
    _market(alice, trading, "sell", "50")
    pos = _position(alice, trading)
    assert (_d(pos["qty"]), _d(pos["avg_entry_price"]), _d(pos["realized_pnl"])) == (-20, 11, 290)
    # step 6: mark 10 → unrealized +20
    _mark(admin, "10")
    assert _d(_position(alice, trading)["unrealized_pnl"]) == 20
    # step 7: buy 20 @ 10.5 → flat, realized 300, and the flat position still appears
    _mark(admin, "10.5")
    _market(alice, trading, "buy", "20")
    pos = _position(alice, trading)
    assert (_d(pos["qty"]), _d(pos["realized_pnl"])) == (0, 300)
    assert _d(pos["unrealized_pnl"] or "0") == 0
    # and every amount is a decimal string
    for key in ("qty", "realized_pnl", "fees"):
        assert isinstance(pos[key], str)


def test_pnl_report_shape_and_figures(settings, admin, alice, trading):
    # given a round trip with a fee of 1 per fill: buy 10 @ 10, sell 4 @ 12, mark 11
    settings.OMS_PAPER_FEE_FIXED = "1"
    _market(alice, trading, "buy", "10")
    _mark(admin, "12")
    _market(alice, trading, "sell", "4")
    _mark(admin, "11")
    today = datetime.now(UTC).date().isoformat()
    # when the PnL of the account is read for today
    response = alice.get(f"/pnl?account={trading['id']}&from={today}&to={today}")
    # then realized 8, unrealized 6, fees 2, net 12, with by_symbol and daily rows
    assert response.status_code == 200, response.content
    pnl = response.json()
    assert set(pnl) >= PNL_KEYS, pnl
    assert (
        _d(pnl["realized_pnl"]),
        _d(pnl["unrealized_pnl"]),
        _d(pnl["fees"]),
        _d(pnl["net_pnl"]),
    ) == (8, 6, 2, 12)
    assert [row["symbol"] for row in pnl["by_symbol"]] == ["ACME"]
    assert pnl["daily"], pnl
    for row in pnl["daily"]:
        assert set(row) >= DAILY_KEYS, row
    assert pnl["daily"][-1]["date"] == today


def test_positions_and_pnl_of_someone_elses_account(alice, bob, trading):
    # given Alice's position
    _market(alice, trading, "buy", "1")
    # when Bob asks for her account's positions and PnL
    positions = bob.get(f"/positions?account={trading['id']}")
    pnl = bob.get(f"/pnl?account={trading['id']}")
    # then he learns nothing: 404 (or an empty list)
    assert positions.status_code in (200, 404)
    if positions.status_code == 200:
        assert paginated(positions)["count"] == 0
    assert_error(pnl, 404, "not_found")


def test_positions_list_covers_visible_accounts(alice, bob, trading, api_as):
    # given Alice's position and a viewer of her account
    _market(alice, trading, "buy", "2")
    viewer = api_as("vic", "viewer")
    grant(viewer, trading, "view")
    # when positions are listed without a filter
    # then Alice and Vic see it, Bob does not
    for caller in (alice, viewer):
        rows = paginated(caller.get("/positions"))["results"]
        assert [(r["account"], r["symbol"], r["qty"]) for r in rows] == [
            (trading["id"], "ACME", "2")
        ]
    assert paginated(bob.get("/positions"))["count"] == 0


# --- closing positions --------------------------------------------------------------------------


def test_close_positions_places_market_orders_that_flatten(admin, alice, trading):
    # given a long ACME position and a short FOO position
    admin.post(
        "/instruments", {"symbol": "FOO", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1}
    )
    admin.post("/market-data/ticks", {"symbol": "FOO", "last": "5", "bid": "5", "ask": "5"})
    _market(alice, trading, "buy", "7")
    foo = alice.post(
        "/orders",
        order_body(trading, symbol="FOO", side="sell", type="market", qty="3", limit_price=None),
    )
    assert foo.status_code == 201, foo.content
    # when all positions of the account are closed
    response = alice.post("/positions/close", {"account": trading["id"]})
    # then market orders flatten both
    assert response.status_code in (200, 201, 202), response.content
    rows = paginated(alice.get(f"/positions?account={trading['id']}"))["results"]
    assert {r["symbol"]: _d(r["qty"]) for r in rows} == {"ACME": 0, "FOO": 0}
    sides = {
        (o["symbol"], o["side"], o["type"], o["qty"])
        for o in paginated(alice.get("/orders?status=all"))["results"]
    }
    assert {("ACME", "sell", "market", "7"), ("FOO", "buy", "market", "3")} <= sides


def test_close_one_symbol_only(admin, alice, trading):
    # given a long ACME position and a long FOO position
    admin.post(
        "/instruments", {"symbol": "FOO", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1}
    )
    admin.post("/market-data/ticks", {"symbol": "FOO", "last": "5", "bid": "5", "ask": "5"})
    _market(alice, trading, "buy", "7")
    alice.post(
        "/orders", order_body(trading, symbol="FOO", type="market", qty="3", limit_price=None)
    )
    # when only ACME is closed
    response = alice.post("/positions/close", {"account": trading["id"], "symbol": "ACME"})
    # then FOO stays open
    assert response.status_code in (200, 201, 202), response.content
    rows = paginated(alice.get(f"/positions?account={trading['id']}"))["results"]
    assert {r["symbol"]: _d(r["qty"]) for r in rows} == {"ACME": 0, "FOO": 3}


def test_close_positions_needs_trade_access(alice, trading, api_as, bob):
    # given Alice's position, a viewer of it, and Bob
    _market(alice, trading, "buy", "1")
    viewer = api_as("vic", "viewer")
    grant(viewer, trading, "view")
    # when the viewer and Bob try to close it
    # then 403 for the viewer, 400/404 for Bob (who may not know it exists); still open
    assert_error(
        viewer.post("/positions/close", {"account": trading["id"]}), 403, "permission_denied"
    )
    assert bob.post("/positions/close", {"account": trading["id"]}).status_code in (400, 404)
    assert _d(_position(alice, trading)["qty"]) == 1
