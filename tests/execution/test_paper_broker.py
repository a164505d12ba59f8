"""The paper broker: market fills at the quote with slippage and fees, limit fills on ticks."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from execution import registry
from execution.models import VenueFill, VenueOrder
from execution.protocol import ReportType
from execution.services import (
    broker_cancel,
    broker_modify,
    broker_open_orders,
    broker_positions,
    broker_submit,
)
from tests.execution.factories import modify_request, order_request

pytestmark = pytest.mark.django_db

ACCOUNT = str(uuid.uuid4())


@pytest.fixture
def costs(settings):
    settings.OMS_PAPER_SLIPPAGE_BPS = "7"
    settings.OMS_PAPER_FEE_BPS = "3"
    settings.OMS_PAPER_FEE_FIXED = "20"
    return settings


def paper(**kwargs):
    kwargs.setdefault("account_id", ACCOUNT)
    return order_request(broker="paper", **kwargs)


def test_market_buy_fills_at_ask_plus_slippage_rounded_up_with_exact_fee(
    acme, tick, costs, only_paper_listener
):
    # given a quote 99.95 / 100.00 and 7 bps slippage, 3 bps + 20 fixed fees
    tick("ACME", last="99.95", bid="99.95", ask="100.00")
    # when a market buy of 15 arrives
    reports = broker_submit(paper(side="buy", qty="15", type="market"))
    # then it is acknowledged and filled as taker at 100.07 rounded up to the tick: 100.10
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.FILL]
    fill = reports[1]
    assert fill.fill_price == Decimal("100.10")
    assert fill.fill_qty == Decimal("15")
    assert fill.liquidity == "taker"
    assert fill.leaves_qty == 0
    # fee = 15 × 100.10 × 3 / 10 000 + 20 = 20.45045 → 20.45 (paisa, half-up)
    assert fill.fee == Decimal("20.45")
    assert len({r.report_id for r in reports}) == 2
    stored = VenueFill.objects.get(order_id=fill.order_id)
    assert (stored.qty, stored.price, stored.fee) == (
        Decimal("15"),
        Decimal("100.10"),
        Decimal("20.45"),
    )


def test_market_sell_fills_at_bid_minus_slippage_rounded_down(
    acme, tick, costs, only_paper_listener
):
    # given a quote 99.95 / 100.00
    tick("ACME", last="99.95", bid="99.95", ask="100.00")
    # when a market sell of 10 arrives
    reports = broker_submit(paper(side="sell", qty="10", type="market"))
    # then it fills at 99.95 × (1 − 0.0007) = 99.880035 rounded down to the tick: 99.85
    fill = reports[-1]
    assert fill.type == ReportType.FILL
    assert fill.fill_price == Decimal("99.85")
    # fee = 10 × 99.85 × 3 / 10 000 + 20 = 20.29955 → 20.30
    assert fill.fee == Decimal("20.30")


def test_market_order_without_a_quote_is_rejected_with_a_reason(acme, only_paper_listener):
    # given no tick ever arrived for ACME
    # when a market order arrives
    reports = broker_submit(paper(side="buy", qty="1", type="market"))
    # then it is rejected, saying why, and nothing is filled
    assert [r.type for r in reports] == [ReportType.REJECTED]
    assert "No market quote for ACME" in reports[0].reason
    assert not VenueFill.objects.exists()
    assert VenueOrder.objects.get(pk=reports[0].order_id).status == "rejected"


def test_limit_buy_rests_and_fills_as_maker_when_a_tick_crosses_it(
    acme, tick, sink, costs, only_paper_listener
):
    # given a buy limit at 99.00 below the market
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="5", limit_price="99.00")
    reports = broker_submit(request)
    assert [r.type for r in reports] == [ReportType.ACK]
    # when a tick leaves the ask above the limit, nothing fills
    tick("ACME", last="99.50", bid="99.05", ask="99.10")
    assert sink.of(request.order_id) == []
    # when a tick brings the ask to 98.90 (below the limit)
    tick("ACME", last="98.95", bid="98.85", ask="98.90")
    # then it fills at the ask (better than the limit), as maker, no slippage, reported async
    fills = sink.of(request.order_id, ReportType.FILL)
    assert len(fills) == 1
    assert fills[0].fill_price == Decimal("98.90")
    assert fills[0].liquidity == "maker"
    assert fills[0].fee == Decimal("20.15")  # 5 × 98.90 × 3 / 10 000 + 20 = 20.14835
    # and a later tick does not fill it again
    tick("ACME", last="98.00", bid="97.90", ask="97.95")
    assert len(sink.of(request.order_id, ReportType.FILL)) == 1


def test_limit_sell_fills_at_the_bid_when_the_bid_reaches_the_limit(
    acme, tick, sink, only_paper_listener
):
    # given a sell limit at 101.00 above the market
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="sell", qty="3", limit_price="101.00")
    broker_submit(request)
    # when the bid rises to exactly the limit
    tick("ACME", last="101.00", bid="101.00", ask="101.05")
    # then it fills at the limit
    fills = sink.of(request.order_id, ReportType.FILL)
    assert [f.fill_price for f in fills] == [Decimal("101.00")]


def test_marketable_limit_fills_at_once_at_the_quote_as_taker(acme, tick, only_paper_listener):
    # given ask 100.00
    tick("ACME", last="100", bid="99.95", ask="100.00")
    # when a buy limit at 100.50 arrives
    reports = broker_submit(paper(side="buy", qty="2", limit_price="100.50"))
    # then it fills now at the ask, never worse than its limit
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.FILL]
    assert reports[1].fill_price == Decimal("100.00")
    assert reports[1].liquidity == "taker"


def test_ioc_limit_that_does_not_cross_is_canceled(acme, tick, only_paper_listener):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    # when an ioc buy at 99.00 arrives
    reports = broker_submit(paper(side="buy", qty="2", limit_price="99.00", tif="ioc"))
    # then it is canceled at once with the reason
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.CANCELED]
    assert "ioc" in reports[1].reason
    assert VenueOrder.objects.get(pk=reports[0].order_id).status == "canceled"


def test_fok_that_crosses_fills_completely_against_an_unlimited_quote(
    acme, tick, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    # when a large fok buy at the ask arrives (the quote has no size: treated as unlimited)
    reports = broker_submit(paper(side="buy", qty="100000", limit_price="100.00", tif="fok"))
    # then it is filled completely at once
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.FILL]
    assert reports[1].fill_qty == Decimal("100000")


def test_fok_that_does_not_cross_is_canceled(acme, tick, only_paper_listener):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    reports = broker_submit(paper(side="sell", qty="5", limit_price="100.50", tif="fok"))
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.CANCELED]


def test_iceberg_on_paper_fills_its_whole_remainder_when_crossed(
    acme, tick, sink, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="50", limit_price="99.00", display_qty="10")
    broker_submit(request)
    tick("ACME", last="99", bid="98.90", ask="98.95")
    fills = sink.of(request.order_id, ReportType.FILL)
    assert [f.fill_qty for f in fills] == [Decimal("50")]


def test_resubmitting_the_same_order_returns_the_same_reports_and_fills_once(
    acme, tick, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="4", type="market")
    first = broker_submit(request)
    # when the same order is submitted again (a retry after a crash)
    second = broker_submit(request)
    # then the same reports come back and there is still one fill
    assert [r.report_id for r in second] == [r.report_id for r in first]
    assert VenueFill.objects.filter(order_id=request.order_id).count() == 1


def test_cancel_open_order_then_cancel_again_is_rejected(acme, tick, sink, only_paper_listener):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="4", limit_price="90")
    broker_submit(request)
    reports = broker_cancel(
        order_id=request.order_id, account_id=ACCOUNT, symbol="ACME", broker="paper"
    )
    assert [r.type for r in reports] == [ReportType.CANCELED]
    assert reports[0].leaves_qty == 0
    # a crossing tick later fills nothing
    tick("ACME", last="80", bid="79.95", ask="80.00")
    assert sink.of(request.order_id) == []
    again = broker_cancel(
        order_id=request.order_id, account_id=ACCOUNT, symbol="ACME", broker="paper"
    )
    assert [r.type for r in again] == [ReportType.CANCEL_REJECTED]


def test_cancel_unknown_order_is_rejected(db):
    reports = broker_cancel(order_id="nope", account_id=ACCOUNT, symbol="ACME", broker="paper")
    assert [r.type for r in reports] == [ReportType.CANCEL_REJECTED]


def test_modify_price_to_a_crossing_level_fills_at_the_quote(acme, tick, only_paper_listener):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="4", limit_price="95")
    broker_submit(request)
    # when the limit is raised above the ask (broker kind looked up from the venue record)
    reports = broker_modify(
        modify_request(order_id=request.order_id, account_id=ACCOUNT, new_limit_price="100.50")
    )
    # then the change is accepted and it fills at the ask
    assert [r.type for r in reports] == [ReportType.REPLACED, ReportType.FILL]
    assert reports[0].data["new"]["limit_price"] == "100.5"
    assert reports[1].fill_price == Decimal("100.00")


def test_modify_qty_not_above_filled_and_modify_filled_order_are_rejected(
    acme, tick, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    request = paper(side="buy", qty="4", limit_price="95")
    broker_submit(request)
    zero = broker_modify(
        modify_request(order_id=request.order_id, account_id=ACCOUNT, new_qty="0", broker="paper")
    )
    assert [r.type for r in zero] == [ReportType.MODIFY_REJECTED]
    filled = broker_submit(paper(side="buy", qty="1", type="market"))
    late = broker_modify(
        modify_request(order_id=filled[0].order_id, account_id=ACCOUNT, new_qty="3", broker="paper")
    )
    assert [r.type for r in late] == [ReportType.MODIFY_REJECTED]
    assert "filled" in late[0].reason


def test_reconciliation_reads_open_orders_and_net_positions(acme, tick, only_paper_listener):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    broker_submit(paper(side="buy", qty="10", type="market"))
    broker_submit(paper(side="sell", qty="4", type="market"))
    resting = paper(side="buy", qty="7", limit_price="90")
    broker_submit(resting)
    other = str(uuid.uuid4())
    broker_submit(paper(side="buy", qty="99", type="market", account_id=other))
    # then the venue reports one open order and a net long 6 for this account only
    open_orders = broker_open_orders(broker="paper", account_id=ACCOUNT)
    assert [(o.order_id, o.status, o.qty) for o in open_orders] == [
        (resting.order_id, "new", Decimal("7"))
    ]
    positions = broker_positions(broker="paper", account_id=ACCOUNT)
    assert [(p.symbol, p.qty) for p in positions] == [("ACME", Decimal("6"))]


def test_one_tick_crossing_several_resting_orders_fills_them_as_one_burst(
    acme, tick, sink, only_paper_listener
):
    # given three resting buys at 99.50, 99.20 and 99.00 and one that stays out at 98.00
    tick("ACME", last="100", bid="99.95", ask="100.00")
    prices = ["99.00", "99.50", "99.20", "98.00"]
    requests = [paper(side="buy", qty="2", limit_price=price) for price in prices]
    for request in requests:
        broker_submit(request)
    sink.bursts.clear()
    # when one tick brings the ask to 98.90
    tick("ACME", last="98.95", bid="98.85", ask="98.90")
    # then the three crossed orders fill at the ask and reach the sink in one call,
    # best-priced buy first
    assert sink.bursts == [3]
    filled = [r.order_id for r in sink.reports if r.type == ReportType.FILL]
    assert filled == [requests[1].order_id, requests[2].order_id, requests[0].order_id]
    assert {r.fill_price for r in sink.reports if r.type == ReportType.FILL} == {Decimal("98.90")}
    assert VenueOrder.objects.get(pk=requests[3].order_id).status == "open"
    assert VenueFill.objects.count() == 3


def test_a_resting_order_that_cannot_be_filled_does_not_hold_back_the_others(
    acme, tick, sink, only_paper_listener
):
    # given two resting buys, one of which the sink refuses to apply
    tick("ACME", last="100", bid="99.95", ask="100.00")
    good = paper(side="buy", qty="2", limit_price="99.50")
    bad = paper(side="buy", qty="2", limit_price="99.40")
    broker_submit(good)
    broker_submit(bad)

    def refusing(reports):
        if any(r.order_id == bad.order_id for r in reports):
            raise RuntimeError("orders cannot apply this one")
        sink(reports)

    # (in place: the sink fixture puts the registered sinks back after the test)
    registry.REPORT_SINKS.restore({refusing: refusing})
    # when a tick crosses both
    tick("ACME", last="98.95", bid="98.85", ask="98.90")
    # then the good one is filled and the bad one stays open for the next tick
    assert [r.order_id for r in sink.of(good.order_id, ReportType.FILL)] == [good.order_id]
    assert VenueOrder.objects.get(pk=bad.order_id).status == "open"
    assert VenueFill.objects.filter(order_id=bad.order_id).count() == 0


def _sized_tick(**values):
    from marketdata.services import tick_ingest

    result = tick_ingest(symbol="ACME", volume=0, source="test", **values)
    assert result.applied, result


def test_a_tick_with_an_ask_size_fills_at_most_that_much_in_price_time_order(
    acme, tick, sink, only_paper_listener
):
    # given resting buys of 5 at 99.50 and 5 at 99.20
    tick("ACME", last="100", bid="99.95", ask="100.00")
    better, worse = (
        paper(side="buy", qty="5", limit_price="99.50"),
        paper(side="buy", qty="5", limit_price="99.20"),
    )
    broker_submit(better)
    broker_submit(worse)
    # when a tick offers 7 at 99.00
    _sized_tick(last="99.00", bid="98.90", ask="99.00", ask_size="7")
    # then the better buy fills whole and the other 2 of 5, still working
    [fill] = sink.of(better.order_id, ReportType.FILL)
    [partial] = sink.of(worse.order_id, ReportType.PARTIAL_FILL)
    assert (fill.fill_qty, fill.leaves_qty) == (Decimal("5"), Decimal("0"))
    assert (partial.fill_qty, partial.fill_price, partial.leaves_qty) == (
        Decimal("2"),
        Decimal("99.00"),
        Decimal("3"),
    )
    row = VenueOrder.objects.get(pk=worse.order_id)
    assert (row.status, row.filled_qty, row.visible_qty) == ("open", Decimal("2"), Decimal("3"))
    # and a later tick of 10 fills the 3 left at its price, the average of both fills kept
    _sized_tick(last="98.90", bid="98.80", ask="98.90", ask_size="10")
    [last] = sink.of(worse.order_id, ReportType.FILL)
    assert (last.fill_qty, last.fill_price, last.leaves_qty) == (
        Decimal("3"),
        Decimal("98.90"),
        Decimal("0"),
    )
    row.refresh_from_db()
    assert (row.status, row.filled_qty, row.avg_fill_price) == (
        "filled",
        Decimal("5"),
        Decimal("98.94"),
    )
    assert VenueFill.objects.filter(order_id=worse.order_id).count() == 2


def test_a_bid_size_caps_sell_fills_and_a_tick_without_size_fills_everything(
    acme, tick, sink, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    sell = paper(side="sell", qty="10", limit_price="101.00")
    broker_submit(sell)
    _sized_tick(last="101", bid="101.00", ask="101.05", bid_size="4", ask_size="1")
    [partial] = sink.of(sell.order_id, ReportType.PARTIAL_FILL)
    assert (partial.fill_qty, partial.leaves_qty) == (Decimal("4"), Decimal("6"))
    # a tick with no size is unlimited, as before sizes existed
    tick("ACME", last="101", bid="101.00", ask="101.05")
    [fill] = sink.of(sell.order_id, ReportType.FILL)
    assert (fill.fill_qty, fill.leaves_qty) == (Decimal("6"), Decimal("0"))


def test_a_size_that_is_not_positive_is_refused(acme):
    from marketdata.services import tick_ingest

    result = tick_ingest(symbol="ACME", last="100", ask="100", ask_size="0", source="test")
    assert (result.applied, result.reason) == (False, "invalid_volume")
    assert "ask_size must be positive" in result.message


def test_a_tick_pushed_through_the_api_with_a_size_fills_paper_in_part(
    acme, tick, sink, admin_user, api_client, only_paper_listener
):
    tick("ACME", last="100", bid="99.95", ask="100.00")
    buy = paper(side="buy", qty="10", limit_price="99.50")
    broker_submit(buy)
    api_client.force_authenticate(admin_user)
    answer = api_client.post(
        "/api/v1/market-data/ticks",
        {"symbol": "ACME", "last": "99.50", "bid": "99.45", "ask": "99.50", "ask_size": "3"},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    [partial] = sink.of(buy.order_id, ReportType.PARTIAL_FILL)
    assert (partial.fill_qty, partial.leaves_qty) == (Decimal("3"), Decimal("7"))
    # a size that is not positive is refused, naming the field
    answer = api_client.post(
        "/api/v1/market-data/ticks",
        {"symbol": "ACME", "last": "99.50", "ask": "99.50", "ask_size": "-1"},
        format="json",
    )
    assert answer.status_code == 400
    assert "0.ask_size" in answer.json()["error"]["fields"]
